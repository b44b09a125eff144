package simulate

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/argodeploy/argodeploy/pkg/render"
	"github.com/argodeploy/argodeploy/pkg/testcorpus/synthetic"
	eventsv1alpha1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
)

// argoEventsAlone is p judging with Argo Events' code alone, every
// dependency and every time: Exact's Filter and parameter code, with no
// screens, nothing remembered.
func argoEventsAlone(p *Pipeline) *Pipeline {
	q := p.Exact()
	q.verdicts = newVerdicts()
	q.screens = make([][]*screen, len(p.screens))
	for i := range p.screens {
		q.screens[i] = make([]*screen, len(p.screens[i]))
	}
	return q
}

// TestScreensChangeNothing: every example message gives the same outcome
// as with Argo Events' code alone judging every dependency, both with the
// screens deciding and params.go applying the parameters, and with
// Filter and ApplyResourceParameters doing it (Exact); the remembered
// verdicts are kept across the messages.
func TestScreensChangeNothing(t *testing.T) {
	for _, example := range []string{"single-service", "multi-namespace", "multi-cluster"} {
		p := pipeline(t, example+".yaml")
		exact, alone := p.Exact(), argoEventsAlone(p)
		f, err := os.Open(filepath.Join("../../testdata/simulate", example+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := ReadMessages(example, f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, msg := range msgs {
			want := alone.Replay(msg)
			if got := p.Replay(msg); !reflect.DeepEqual(got, want) {
				t.Errorf("%s message %s:\nscreened   %+v\nalone      %+v", example, msg.ID, got, want)
			}
			if got := exact.Replay(msg); !reflect.DeepEqual(got, want) {
				t.Errorf("%s message %s:\nexact      %+v\nalone      %+v", example, msg.ID, got, want)
			}
		}
	}
}

// TestReplayConcurrently: messages replayed on several goroutines at once,
// sharing the remembered verdicts, give the outcomes they give one by one
// (go test -race also checks the sharing).
func TestReplayConcurrently(t *testing.T) {
	p := pipeline(t, "multi-namespace.yaml")
	f, err := os.Open("../../testdata/simulate/multi-namespace.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := ReadMessages("multi-namespace", f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	for range 20 { // the same messages again: remembered verdicts get used
		msgs = append(msgs, msgs[:7]...)
	}
	fresh := argoEventsAlone(p)
	for _, q := range []*Pipeline{p, p.Exact()} {
		got := make([]Outcome, len(msgs))
		var wg sync.WaitGroup
		for i := range msgs {
			wg.Go(func() { got[i] = q.Replay(msgs[i]) })
		}
		wg.Wait()
		for i, msg := range msgs {
			if want := fresh.Replay(msg); !reflect.DeepEqual(got[i], want) {
				t.Errorf("message %s (#%d):\nconcurrently %+v\none by one   %+v", msg.ID, i, got[i], want)
			}
		}
	}
}

// FuzzScreens: for any message body, Replay gives the outcome of Argo
// Events' code alone judging every dependency, with the screens deciding
// and params.go applying the parameters, and in Exact; the remembered
// verdicts are kept across inputs.
func FuzzScreens(f *testing.F) {
	p := pipeline(f, "multi-namespace.yaml")
	exact, alone := p.Exact(), argoEventsAlone(p)
	for _, seed := range []string{push("1.0.0"), `{"action":"INSERT"}`, `{"action":"INSERT","digest":"europe-west1-docker.pkg.dev/acme-platform/services/api@sha256:` + strings.Repeat("ab", 32) + `","tag":"europe-west1-docker.pkg.dev/acme-platform/services/api:v1.2.3"}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		msg := Message{ID: "1", Data: body, PublishTime: DefaultPublishTime}
		want := alone.Replay(msg)
		if got := p.Replay(msg); !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\nscreened   %+v\nalone      %+v", body, got, want)
		}
		if got := exact.Replay(msg); !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\nexact      %+v\nalone      %+v", body, got, want)
		}
	})
}

// TestScreenValueMatchesRegexp: the prefix check never changes what the
// regular expression says, for tricky patterns and many values.
func TestScreenValueMatchesRegexp(t *testing.T) {
	patterns := []string{`^INSERT$`, `^abc*`, `^(?i)abc`, `^a|b`, `^\Qa.b\E:x`, `^ab(c|d)`, `^$`, `^`, `^\x{e9}t`,
		`^a+b`, `^(?m)a`, `(?m)^a`, `abc`, `^a\nb`, `^é+`, `^europe\.pkg\.dev/a@sha256:[a-f0-9]{2}$`,
		// the rest after the prefix: what it must not see (before it) and what it must keep (flags, ends)
		`^ab\bc`, `^ab\b`, `^ab\B`, `^ab\Bc`, `^a(?m:^)b`, `^ab\Ac`, `^ab(?i)c`, `^ab(?i:C)d`, `^ab(?s:.)c`, `^ab.c`, `^ab$`,
		`^ab(?m)$`, `^ab(?m:$)\n?`, `^ab\z`, `^ab{0,3}$`, `^a\x00b`, `^ab(c|)$`, `^ab\pL`, `^ab[[:alpha:]]$`, `^ab(?U)c+?$`,
		`^abc{2}`, `^ab[^c]`, `^\x{1F600}x`, `^ab(?:)`, `^ab()$`, `^ab\$`, `^a[b]c`, `^ab(x)?$`}
	values := []string{"", "a", "ab", "abc", "abd", "ABC", "b", "ba", "a.b:x", "axb:x", "ét", "éét", "a\nb", "x\na",
		"INSERT", "INSERTED", "europe.pkg.dev/a@sha256:0f", "europe.pkg.dev/a@sha256:0g", "aab", "zabc",
		"ab c", "ab_c", "abC", "abCd", "abcd", "ab\nc", "ab\n", "abc\n", "abcc", "abccc", "ab\x00", "a\x00b", "abé", "ab1",
		"ab$", "abx", "\U0001F600x", "ab\nab", "abb", "abbb", "abbbb"}
	for _, p := range patterns {
		dep := eventsv1alpha1.EventDependency{Filters: &eventsv1alpha1.EventDependencyFilter{Data: []eventsv1alpha1.DataFilter{
			{Path: "x", Type: eventsv1alpha1.JSONTypeString, Value: []string{p}}}}}
		sc := newScreen(dep, newScreenFilters())
		if sc == nil {
			t.Fatalf("%q: no screen", p)
		}
		v := sc.filters[0].values[0]
		for _, s := range values {
			if got, want := v.matches(s), regexp.MustCompile(p).MatchString(s); got != want {
				t.Errorf("%q on %q: screen says %v, regexp %v (prefix %q)", p, s, got, want, v.prefix)
			}
		}
	}
}

// TestPrefixIndexChangesNothing: with filters whose prefixes overlap or
// nest, and filters the index leaves out, every filter's verdict on every
// value is what matching its expressions gives.
func TestPrefixIndexChangesNothing(t *testing.T) {
	patterns := [][]string{{`^a`}, {`^ab`}, {`^abc$`}, {`^ab[0-9]+$`}, {`^b.*`}, {`(?i)^x`}, {`^a`, `^q`}, {`x`}, {`^`}, {`^\Qa.b\E`}}
	known := newScreenFilters()
	var filters []*screenFilter
	for _, values := range patterns {
		dep := eventsv1alpha1.EventDependency{Filters: &eventsv1alpha1.EventDependencyFilter{Data: []eventsv1alpha1.DataFilter{
			{Path: "v", Type: eventsv1alpha1.JSONTypeString, Value: values}}}}
		filters = append(filters, newScreen(dep, known).filters[0])
	}
	indexed := 0
	for _, f := range filters {
		if f.indexed {
			indexed++
		}
	}
	if indexed != 6 { // ^a, ^ab, ^abc$, ^ab[0-9]+$, ^b.* and ^\Qa.b\E
		t.Errorf("%d filters indexed, want 6", indexed)
	}
	for _, v := range []string{"", "a", "ab", "abc", "abcd", "ab12", "ab1x", "b", "ba", "x", "X1", "q", "a.b", "a.bc", "zab"} {
		body, _ := json.Marshal(map[string]any{"v": v})
		e := newEventFields(body, known)
		for i, f := range filters {
			want := false
			for _, p := range patterns[i] {
				want = want || regexp.MustCompile(p).MatchString(v)
			}
			if got := e.accepts(f); got != want {
				t.Errorf("%q on %q: screen says %v, expressions %v", patterns[i], v, got, want)
			}
		}
	}
	e := newEventFields([]byte(`{"w":"a"}`), known) // no value at the path
	for i, f := range filters {
		if e.accepts(f) {
			t.Errorf("%q accepts a missing value", patterns[i])
		}
	}
}

// TestSplitSharesTheRest: a pipeline of 100 services compiles a handful
// of expressions; expressions whose rest could look behind their literal
// prefix do not split.
func TestSplitSharesTheRest(t *testing.T) {
	rendered, err := synthetic.Objects(100)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPipeline(render.Convert[runtime.Object](rendered))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.filters.compiled) > 10 {
		t.Errorf("100 services: %d expressions compiled", len(p.filters.compiled))
	}
	for _, pattern := range []string{`^(?i)abc`, `^ab\bc`, `^ab\B`, `^a(?m:^)b`, `^ab\Ac`, `abc`, `^a|b`, `^$`, `^`, `^(a)b`, `^a(`} {
		if prefix, rest, ok := newScreenFilters().split(pattern); ok {
			t.Errorf("%q splits into %q and %q", pattern, prefix, rest)
		}
	}
}

// TestVerdictsStayBounded: a long replay of distinct releases keeps at
// most maxVerdicts Filter results, and the outcomes stay those of Argo
// Events' Filter alone.
func TestVerdictsStayBounded(t *testing.T) {
	const n = 10
	p := syntheticPipeline(t, n).Exact()
	alone := argoEventsAlone(p)
	for k := range maxVerdicts + 50 {
		msg := release(t, k, n)
		got := p.Replay(msg)
		if len(got.Fired) != 1 {
			t.Fatalf("release %d fired %d triggers, want 1", k, len(got.Fired))
		}
		if k%500 == 0 {
			if want := alone.Replay(msg); !reflect.DeepEqual(got, want) {
				t.Fatalf("release %d:\nexact      %+v\nalone      %+v", k, got, want)
			}
		}
	}
	if held := len(p.verdicts.m); held == 0 || held > maxVerdicts {
		t.Errorf("verdicts hold %d results, want 1 to %d", held, maxVerdicts)
	}
}

// TestOddMessagesMatchArgoEvents: through a pipeline of 30 services, the
// releases of each and messages that fire nothing (not JSON, no digest, a
// delete, numbers, another project's image, a prefix of an image, a bad
// tag, a bad digest and tag) give what Argo Events' code alone gives,
// explanations included.
func TestOddMessagesMatchArgoEvents(t *testing.T) {
	const n = 30
	p := syntheticPipeline(t, n)
	msgs := []Message{
		{ID: "not json", Data: []byte("{"), PublishTime: DefaultPublishTime},
		{ID: "no digest", Data: []byte(`{"action":"INSERT","tag":"` + synthetic.Image(3) + `:v1.0.0"}`), PublishTime: DefaultPublishTime},
		{ID: "a delete", Data: []byte(strings.Replace(synthetic.Release(4, n), "INSERT", "DELETE", 1)), PublishTime: DefaultPublishTime},
		{ID: "a number", Data: []byte(`{"action":"INSERT","digest":7,"tag":7}`), PublishTime: DefaultPublishTime},
		{ID: "another image", Data: []byte(strings.ReplaceAll(synthetic.Release(5, n), "acme-fleet", "acme-other")), PublishTime: DefaultPublishTime},
		{ID: "a prefix only", Data: []byte(strings.ReplaceAll(synthetic.Release(6, n), "svc-00006", "svc-0000")), PublishTime: DefaultPublishTime},
		{ID: "a bad tag", Data: []byte(strings.Replace(synthetic.Release(7, n), ":v0.0.7", ":-x", 1)), PublishTime: DefaultPublishTime},
		{ID: "a bad digest and tag", Data: []byte(strings.Replace(strings.Replace(synthetic.Release(8, n), "@sha256:", "@sha256:x", 1), ":v0.0.8", ":-x", 1)), PublishTime: DefaultPublishTime},
	}
	for k := range 2 * n {
		msgs = append(msgs, release(t, k, n))
	}
	alone := argoEventsAlone(p)
	fired := 0
	for _, msg := range msgs {
		got, want := p.Replay(msg), alone.Replay(msg)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("message %s:\nscreens %+v\nalone   %+v", msg.ID, got, want)
		}
		if len(got.Fired) > 0 {
			fired++
		}
	}
	if fired != 2*n {
		t.Errorf("%d messages fired, want the %d releases", fired, 2*n)
	}
}

// TestScreenDecidesOnlyDataFilters: a screen decides for Argo Events only
// when the dependency has nothing but data filters. With each other kind
// of filter added (each rejecting a push the data filters accept), or the
// empty exprs list that Argo Events' "or" rejects, the outcome is still
// Argo Events' own: nothing fires.
func TestScreenDecidesOnlyDataFilters(t *testing.T) {
	msg := Message{ID: "1", Data: []byte(push("1.0.0")), PublishTime: DefaultPublishTime}
	extras := map[string]func(f *eventsv1alpha1.EventDependencyFilter){
		"none": func(*eventsv1alpha1.EventDependencyFilter) {},
		"exprs": func(f *eventsv1alpha1.EventDependencyFilter) {
			f.Exprs = []eventsv1alpha1.ExprFilter{{Expr: `a == "DELETE"`, Fields: []eventsv1alpha1.PayloadField{{Name: "a", Path: "body.action"}}}}
		},
		"empty exprs, or": func(f *eventsv1alpha1.EventDependencyFilter) {
			f.Exprs, f.ExprLogicalOperator = []eventsv1alpha1.ExprFilter{}, eventsv1alpha1.OrLogicalOperator
		},
		"context": func(f *eventsv1alpha1.EventDependencyFilter) {
			f.Context = &eventsv1alpha1.EventContext{Type: "webhook"}
		},
		"time": func(f *eventsv1alpha1.EventDependencyFilter) {
			f.Time = &eventsv1alpha1.TimeFilter{Start: "01:00:00", Stop: "02:00:00"}
		},
		"script": func(f *eventsv1alpha1.EventDependencyFilter) { f.Script = "return false" },
	}
	for name, add := range extras {
		objs := rendered(t, "single-service.yaml")
		for _, o := range objs {
			if s, ok := o.(*eventsv1alpha1.Sensor); ok {
				add(s.Spec.Dependencies[0].Filters)
			}
		}
		p, err := NewPipeline(render.Convert[runtime.Object](objs))
		if err != nil {
			t.Fatal(err)
		}
		if decides := p.screens[0][0].decides; decides != (name == "none") {
			t.Errorf("%s: the screen decides: %t", name, decides)
		}
		want := argoEventsAlone(p).Replay(msg)
		if fires := len(want.Fired) > 0; fires != (name == "none") {
			t.Fatalf("%s: Argo Events fires %d triggers: not the case this test is for", name, len(want.Fired))
		}
		if got := p.Replay(msg); !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\nscreened %+v\nexact    %+v", name, got, want)
		}
	}
}

// TestReplayForgets: a pipeline that keeps the filter verdicts of earlier
// messages (a release, a message that fires nothing, another service's
// release, the first again) replays each as a pipeline that never
// replayed anything does.
func TestReplayForgets(t *testing.T) {
	const n = 20
	p := syntheticPipeline(t, n)
	msgs := []Message{release(t, 3, n), {ID: "other", Data: []byte(strings.ReplaceAll(synthetic.Release(5, n), "acme-fleet", "acme-other")), PublishTime: DefaultPublishTime}, release(t, 11, n), release(t, 3, n)}
	for range 3 {
		for _, msg := range msgs {
			fresh := *p
			fresh.verdicts = newVerdicts()
			if got, want := p.Replay(msg), fresh.Replay(msg); !reflect.DeepEqual(got, want) {
				t.Fatalf("message %s:\nreused %+v\nfresh  %+v", msg.ID, got, want)
			}
		}
	}
}
