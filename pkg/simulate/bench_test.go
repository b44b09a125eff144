package simulate

import (
	"fmt"
	"testing"

	eventsv1alpha1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	"github.com/argoproj/argo-events/pkg/sensors/dependencies"
	"github.com/argoproj/argo-events/pkg/sensors/triggers"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/argodeploy/argodeploy/pkg/mapping/synthetic"
	"github.com/argodeploy/argodeploy/pkg/render"
)

// BenchmarkReplay: one message (a release of one of the services, each
// with its own digest, tag, ID and publish time, as real pushes are)
// through the pipeline of n services, without the step.
func BenchmarkReplay(b *testing.B) {
	for _, n := range synthetic.Sizes {
		p := syntheticPipeline(b, n)
		k := 0 // across runs too: no release is replayed twice
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if out := p.Replay(release(b, k, n)); len(out.Fired) != 1 {
					b.Fatalf("fired %d", len(out.Fired))
				}
				k++
			}
		})
	}
}

// BenchmarkArgoEventsAlone: what Argo Events' own code costs per release,
// with nothing of simulate's around it: the event built, the matching
// dependency's Filter, the trigger's resource decoded and its parameters
// applied (ApplyResourceParameters), as a Sensor does for each release.
// Replay can run no faster than this; ns/op is the floor of
// BenchmarkReplay's.
func BenchmarkArgoEventsAlone(b *testing.B) {
	const n = 100
	p := syntheticPipeline(b, n)
	// Each service's dependency and trigger, found by name.
	type target struct{ si, di, ti int }
	targets := map[string]target{}
	for si, s := range p.sensors {
		for di, d := range s.Spec.Dependencies {
			for ti, t := range s.Spec.Triggers {
				if t.Template.Name == d.Name {
					targets[d.Name] = target{si, di, ti}
				}
			}
		}
	}
	b.ReportAllocs()
	k := 0
	for b.Loop() {
		msg := release(b, k, n)
		tg, found := targets[fmt.Sprintf("svc-%05d", k%n)]
		if !found {
			b.Fatalf("no trigger for release %d", k)
		}
		s := p.sensors[tg.si]
		dep := &s.Spec.Dependencies[tg.di]
		event, err := pubSubEvent(msg, p.sourceList[p.sourceOf[tg.si][tg.di]])
		if err != nil {
			b.Fatal(err)
		}
		if ok, err := dependencies.Filter(event, dep.Filters, dep.FiltersLogicalOperator); !ok || err != nil {
			b.Fatalf("release %d: filter says %t, %v", k, ok, err)
		}
		k8s := s.Spec.Triggers[tg.ti].Template.K8s
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(k8s.Source.Resource.Value); err != nil {
			b.Fatal(err)
		}
		if err := triggers.ApplyResourceParameters(map[string]*eventsv1alpha1.Event{dep.Name: event}, k8s.Parameters, obj); err != nil {
			b.Fatal(err)
		}
		k++
	}
}

// syntheticPipeline is the pipeline of synthetic.Objects(n).
func syntheticPipeline(tb testing.TB, n int) *Pipeline {
	tb.Helper()
	rendered, err := synthetic.Objects(n)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := NewPipeline(render.Convert[runtime.Object](rendered))
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// release is synthetic.ReleaseMessage(k, n) as ReadMessages reads it.
func release(tb testing.TB, k, n int) Message {
	tb.Helper()
	msg, err := parseMessage([]byte(synthetic.ReleaseMessage(k, n)))
	if err != nil {
		tb.Fatal(err)
	}
	return msg
}
