package render_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	eventsv1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	"github.com/argoproj/argo-events/pkg/sensors/dependencies"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/render"
	"github.com/argodeploy/argodeploy/pkg/testcorpus/synthetic"
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
	cached := map[string]int{}
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
			if len(o.Spec.Dependencies) != 1 || len(o.Spec.Triggers) != 1 {
				t.Errorf("sensor %s: %d dependencies, %d triggers; want one of each", o.Name, len(o.Spec.Dependencies), len(o.Spec.Triggers))
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
		if cached[name] != 1 {
			t.Fatalf("%s: %d cache entries, want 1", name, cached[name])
		}
	}
	if sensors < 2 || caches < 2 {
		t.Errorf("%d Sensors and %d cache ConfigMaps: want the mapping split", sensors, caches)
	}
	t.Logf("%d services: %d Sensors, %d cache ConfigMaps, %d objects", n, sensors, caches, len(objs))
}

// TestOneSensorAdmitsEachImage: a push of any service is admitted by one
// Sensor alone, whose Workflow mounts every cache ConfigMap; and 1,000
// services need one Sensor.
func TestOneSensorAdmitsEachImage(t *testing.T) {
	for _, c := range []struct{ services, sensors int }{{10, 1}, {100, 1}, {1000, 1}, {3000, 0}} {
		m := manyServices(t, c.services)
		objs, err := render.Render(m, render.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var caches []string
		var sensors []*eventsv1.Sensor
		var mounted []string
		for _, o := range objs {
			switch o := o.(type) {
			case *corev1.ConfigMap:
				caches = append(caches, o.Name)
			case *eventsv1.Sensor:
				sensors = append(sensors, o)
			case *wfv1.WorkflowTemplate:
				for _, v := range o.Spec.Volumes {
					if v.Name == "cache" && v.Projected != nil {
						for _, src := range v.Projected.Sources {
							mounted = append(mounted, src.ConfigMap.Name)
						}
					}
				}
			}
		}
		if !slices.Equal(caches, mounted) {
			t.Errorf("%d services: cache ConfigMaps %v, the WorkflowTemplate mounts %v", c.services, caches, mounted)
		}
		if c.sensors > 0 && len(sensors) != c.sensors {
			t.Errorf("%d services: %d Sensors, want %d", c.services, len(sensors), c.sensors)
		}
		for i := 0; i < c.services; i += max(1, c.services/50) {
			svc := m.Spec.Services[i]
			event := registryEvent(t, `{"action":"INSERT","digest":"`+svc.Image+`@sha256:`+strings.Repeat("ab", 32)+`","tag":"`+svc.Image+`:v1.2.3"}`)
			var admitted []string
			for _, s := range sensors {
				dep := s.Spec.Dependencies[0]
				if ok, err := dependencies.Filter(event, dep.Filters, dep.FiltersLogicalOperator); !ok || err != nil {
					continue
				}
				admitted = append(admitted, s.Name)
			}
			if len(admitted) != 1 {
				t.Errorf("%d services: a push of %s is admitted by Sensors %v, want one", c.services, svc.Name, admitted)
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
