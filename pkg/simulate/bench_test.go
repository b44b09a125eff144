package simulate

import (
	"fmt"
	"testing"

	eventsv1alpha1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	"github.com/argoproj/argo-events/pkg/sensors/dependencies"
	"github.com/argoproj/argo-events/pkg/sensors/triggers"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/argodeploy/argodeploy/pkg/render"
	"github.com/argodeploy/argodeploy/pkg/testcorpus/synthetic"
)

// BenchmarkReplay: one message (a release of one of the services, each
// with its own digest, tag, ID and publish time, as real pushes are)
// through the pipeline of n services, without the step.
func BenchmarkReplay(b *testing.B) {
	benchmarkReplay(b, func(p *Pipeline) *Pipeline { return p }, synthetic.ReleaseMessage, 1)
}

// BenchmarkReplayExact: BenchmarkReplay with Argo Events' code alone
// judging each release (Pipeline.Exact), as a running Sensor does.
func BenchmarkReplayExact(b *testing.B) {
	benchmarkReplay(b, (*Pipeline).Exact, synthetic.ReleaseMessage, 1)
}

// BenchmarkReplayUnmapped: BenchmarkReplay with releases of an image no
// service maps: nothing fires, every dependency is visited, and the
// closest are explained.
func BenchmarkReplayUnmapped(b *testing.B) {
	benchmarkReplay(b, func(p *Pipeline) *Pipeline { return p }, synthetic.UnmappedMessage, 0)
}

func benchmarkReplay(b *testing.B, mode func(*Pipeline) *Pipeline, message func(k, n int) string, fires int) {
	for _, n := range synthetic.Sizes {
		p := mode(syntheticPipeline(b, n))
		k := 0 // across runs too: no release is replayed twice
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				msg, err := parseMessage([]byte(message(k, n)))
				if err != nil {
					b.Fatal(err)
				}
				if out := p.Replay(msg); len(out.Fired) != fires {
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
// BenchmarkReplayExact can run no faster than this; BenchmarkReplay,
// which compiles the filters and templates once, runs below it.
func BenchmarkArgoEventsAlone(b *testing.B) {
	const n = 100
	p := syntheticPipeline(b, n)
	tg := onlyTarget(b, p)
	b.ReportAllocs()
	k := 0
	for b.Loop() {
		msg := release(b, k, n)
		event, err := pubSubEvent(msg, tg.source)
		if err != nil {
			b.Fatal(err)
		}
		if ok, err := dependencies.Filter(event, tg.dep.Filters, tg.dep.FiltersLogicalOperator); !ok || err != nil {
			b.Fatalf("release %d: filter says %t, %v", k, ok, err)
		}
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(tg.trigger.Source.Resource.Value); err != nil {
			b.Fatal(err)
		}
		if err := triggers.ApplyResourceParameters(map[string]*eventsv1alpha1.Event{tg.dep.Name: event}, tg.trigger.Parameters, obj); err != nil {
			b.Fatal(err)
		}
		k++
	}
}

// target is one service's dependency and trigger, and the source its
// events come from.
type target struct {
	source  sourceEvent
	dep     *eventsv1alpha1.EventDependency
	trigger *eventsv1alpha1.StandardK8STrigger
}

// onlyTarget is the dependency and trigger of p's one Sensor, which
// every push goes through.
func onlyTarget(tb testing.TB, p *Pipeline) target {
	tb.Helper()
	if len(p.sensors) != 1 || len(p.sensors[0].Spec.Dependencies) != 1 || len(p.sensors[0].Spec.Triggers) != 1 {
		tb.Fatalf("want one Sensor with one dependency and one trigger, have %d Sensors", len(p.sensors))
	}
	s := p.sensors[0]
	return target{source: p.sourceList[p.sourceOf[0][0]], dep: &s.Spec.Dependencies[0], trigger: s.Spec.Triggers[0].Template.K8s}
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
