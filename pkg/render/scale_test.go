package render_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"testing"

	eventsv1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/mapping/synthetic"
	"github.com/argodeploy/argodeploy/pkg/render"
)

// manyServices is the synthetic mapping of n services.
func manyServices(t testing.TB, n int) *mapping.ServiceMapping {
	t.Helper()
	m, err := synthetic.Mapping(n)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestTenThousandServicesFitInObjects(t *testing.T) {
	const n = 10000
	objs, err := render.Render(manyServices(t, n), render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	triggers, cached := map[string]int{}, map[string]int{}
	sensors, caches := 0, 0
	for _, o := range objs {
		raw, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) > render.DefaultShardBytes {
			t.Errorf("%s %s is %d bytes, over the %d limit", o.GetObjectKind().GroupVersionKind().Kind, o.GetName(), len(raw), render.DefaultShardBytes)
		}
		switch o := o.(type) {
		case *eventsv1.Sensor:
			sensors++
			// What the Argo Events controller puts into the pod's
			// SENSOR_OBJECT, which execve refuses over 128 KiB.
			env, err := json.Marshal(&eventsv1.Sensor{ObjectMeta: metav1.ObjectMeta{Name: o.Name, Namespace: o.Namespace}, Spec: o.Spec})
			if err != nil {
				t.Fatal(err)
			}
			if n := len("SENSOR_OBJECT=") + base64.StdEncoding.EncodedLen(len(env)) + 1; n > 128*1024 {
				t.Errorf("sensor %s: its pod's SENSOR_OBJECT is %d bytes, over Linux's 128 KiB for one environment string", o.Name, n)
			}
			if len(o.Spec.Dependencies) != len(o.Spec.Triggers) {
				t.Errorf("sensor %s: %d dependencies, %d triggers", o.Name, len(o.Spec.Dependencies), len(o.Spec.Triggers))
			}
			for _, tr := range o.Spec.Triggers {
				triggers[tr.Template.Name]++
			}
		case *corev1.ConfigMap:
			caches++
			for k := range o.Data {
				cached[k]++
			}
		}
	}
	for i := range n {
		name := fmt.Sprintf("svc-%05d", i)
		if triggers[name] != 1 || cached[name] != 1 {
			t.Fatalf("%s: %d triggers and %d cache entries, want 1 each", name, triggers[name], cached[name])
		}
	}
	if sensors < 2 || caches < 2 {
		t.Errorf("%d sensors and %d cache ConfigMaps: expected the mapping to be split", sensors, caches)
	}
	t.Logf("%d services: %d Sensors, %d cache ConfigMaps, %d objects", n, sensors, caches, len(objs))
}

func TestEachTriggerReadsItsOwnCacheShard(t *testing.T) {
	objs, err := render.Render(manyServices(t, 3000), render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	holder := map[string]string{}
	for _, o := range objs {
		if cm, ok := o.(*corev1.ConfigMap); ok {
			for k := range cm.Data {
				holder[k] = cm.Name
			}
		}
	}
	for _, o := range objs {
		sensor, ok := o.(*eventsv1.Sensor)
		if !ok {
			continue
		}
		for _, tr := range sensor.Spec.Triggers {
			var wf struct {
				Spec struct {
					Arguments struct {
						Parameters []struct{ Name, Value string }
					}
				}
			}
			if err := json.Unmarshal(tr.Template.K8s.Source.Resource.Value, &wf); err != nil {
				t.Fatal(err)
			}
			for _, p := range wf.Spec.Arguments.Parameters {
				if p.Name == render.ParamCache && p.Value != holder[tr.Template.Name] {
					t.Fatalf("trigger %s reads cache %q, its entry is in %q", tr.Template.Name, p.Value, holder[tr.Template.Name])
				}
			}
		}
	}
}

func TestShardTooSmallForOneServiceIsAnError(t *testing.T) {
	_, err := render.Render(manyServices(t, 1), render.Options{ShardBytes: 4200})
	if err == nil {
		t.Fatal("rendering into shards smaller than one service succeeded")
	}
}

// BenchmarkRender: mapping → typed objects.
func BenchmarkRender(b *testing.B) {
	for _, n := range synthetic.Sizes {
		m := manyServices(b, n)
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := render.Render(m, render.Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
