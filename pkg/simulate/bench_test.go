package simulate

import (
	"bytes"
	"fmt"
	"reflect"
	"regexp"
	"testing"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

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
	targets := compileTargets(b, p) // only their dependencies and triggers are used
	b.ReportAllocs()
	k := 0
	for b.Loop() {
		msg := release(b, k, n)
		tg, found := targets[fmt.Sprintf("svc-%05d", k%n)]
		if !found {
			b.Fatalf("no trigger for release %d", k)
		}
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

// BenchmarkCompiledOnce: BenchmarkArgoEventsAlone's work with each filter
// expression compiled, and the dataTemplate parsed with sprig's functions,
// once per dependency instead of once per release as Argo Events does. It
// is not how simulate works (Argo Events' own code decides there); it is
// the floor simulate would have if it evaluated filters and parameters
// itself, the option docs/performance.md leaves to the user.
// TestCompiledOnceMatchesArgoEvents holds it to Argo Events' verdicts and
// Workflows.
func BenchmarkCompiledOnce(b *testing.B) {
	const n = 100
	p := syntheticPipeline(b, n)
	compiled := compileTargets(b, p)
	b.ReportAllocs()
	k := 0
	for b.Loop() {
		c := compiled[fmt.Sprintf("svc-%05d", k%n)]
		event, err := pubSubEvent(release(b, k, n), c.source)
		if err != nil {
			b.Fatal(err)
		}
		if obj, ok, err := c.fire(event); !ok || obj == nil || err != nil {
			b.Fatalf("release %d: fired %t, %v", k, ok, err)
		}
		k++
	}
}

// compiledTarget is one service's dependency and trigger, compiled once.
type compiledTarget struct {
	source   sourceEvent
	dep      *eventsv1alpha1.EventDependency
	trigger  *eventsv1alpha1.StandardK8STrigger
	filters  []*regexp.Regexp // dep's data filters, in order, one value each
	template *template.Template
}

// compileTargets compiles every service's dependency and trigger of p, by
// service name. It expects what generate writes: string data filters with
// one expression each, and at most one dataTemplate parameter.
func compileTargets(tb testing.TB, p *Pipeline) map[string]*compiledTarget {
	tb.Helper()
	out := map[string]*compiledTarget{}
	for si, s := range p.sensors {
		for di := range s.Spec.Dependencies {
			d := &s.Spec.Dependencies[di]
			for ti := range s.Spec.Triggers {
				t := s.Spec.Triggers[ti].Template
				if t.Name != d.Name {
					continue
				}
				c := &compiledTarget{source: p.sourceList[p.sourceOf[si][di]], dep: d, trigger: t.K8s}
				for _, f := range d.Filters.Data {
					if f.Type != eventsv1alpha1.JSONTypeString || len(f.Value) != 1 || f.Comparator != "" || f.Template != "" {
						tb.Fatalf("%s: a filter generate does not write: %+v", d.Name, f)
					}
					c.filters = append(c.filters, regexp.MustCompile(f.Value[0]))
				}
				for _, prm := range t.K8s.Parameters {
					if prm.Src.DataTemplate != "" {
						c.template = template.Must(template.New("param").Funcs(sprig.FuncMap()).Parse(prm.Src.DataTemplate))
					}
				}
				out[d.Name] = c
			}
		}
	}
	return out
}

// fire filters event as the dependency's data filters do and, if it
// passes, returns the trigger's resource with the parameters applied as
// ApplyResourceParameters applies them (sjson at each destination).
func (c *compiledTarget) fire(event *eventsv1alpha1.Event) (*unstructured.Unstructured, bool, error) {
	for i, re := range c.filters {
		value := gjson.GetBytes(event.Data, c.dep.Filters.Data[i].Path)
		if !value.Exists() || !re.MatchString(value.String()) {
			return nil, false, nil
		}
	}
	obj := c.trigger.Source.Resource.Value
	for _, prm := range c.trigger.Parameters {
		var value string
		if prm.Src.DataTemplate != "" {
			var buf bytes.Buffer
			if err := c.template.Execute(&buf, map[string]any{"Input": gjson.ParseBytes(event.Data).Value()}); err != nil {
				return nil, true, err
			}
			value = buf.String()
		} else {
			value = gjson.GetBytes(event.Data, prm.Src.DataKey).String()
		}
		var err error
		if obj, err = sjson.SetBytes(obj, prm.Dest, value); err != nil {
			return nil, true, err
		}
	}
	u := &unstructured.Unstructured{}
	return u, true, u.UnmarshalJSON(obj)
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

// TestCompiledOnceMatchesArgoEvents: for releases of every service, each
// judged by its own dependency and by another service's, the compiled
// filters give Argo Events' verdict and the compiled parameters its
// Workflow.
func TestCompiledOnceMatchesArgoEvents(t *testing.T) {
	const n = 100
	p := syntheticPipeline(t, n)
	compiled := compileTargets(t, p)
	fired := 0
	for k := range 3 * n {
		msg := release(t, k, n)
		for _, name := range []string{fmt.Sprintf("svc-%05d", k%n), fmt.Sprintf("svc-%05d", (k+1)%n)} {
			c := compiled[name]
			event, err := pubSubEvent(msg, c.source)
			if err != nil {
				t.Fatal(err)
			}
			got, gotOK, err := c.fire(event)
			if err != nil {
				t.Fatalf("release %d, %s: %v", k, name, err)
			}
			wantOK, err := dependencies.Filter(event, c.dep.Filters, c.dep.FiltersLogicalOperator)
			if err != nil && wantOK {
				t.Fatal(err)
			}
			if gotOK != wantOK {
				t.Fatalf("release %d, %s: compiled filters say %t, Argo Events %t", k, name, gotOK, wantOK)
			}
			if !wantOK {
				continue
			}
			fired++
			want := &unstructured.Unstructured{}
			if err := want.UnmarshalJSON(c.trigger.Source.Resource.Value); err != nil {
				t.Fatal(err)
			}
			if err := triggers.ApplyResourceParameters(map[string]*eventsv1alpha1.Event{c.dep.Name: event}, c.trigger.Parameters, want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Object, want.Object) {
				t.Fatalf("release %d, %s: compiled parameters give\n%v\nArgo Events\n%v", k, name, got.Object, want.Object)
			}
		}
	}
	if fired != 3*n {
		t.Errorf("%d of %d releases fired their own service", fired, 3*n)
	}
}
