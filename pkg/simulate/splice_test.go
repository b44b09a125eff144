package simulate

import (
	"reflect"
	"strconv"
	"testing"
	"time"

	eventsv1alpha1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
)

// spliceValues are digests and tags that encoding/json writes in every way
// it can: HTML characters escaped, U+2028 and U+2029, quotes, backslashes,
// control characters, other scripts, nothing; and raw bytes that are not
// UTF-8, which the plan leaves to the way round.
var spliceValues = []string{"sha256:abc", "", "<script>&amp;</script>", "a\u2028b\u2029c", `q"uo\te`, "tab\there\x01\x1f", "é世界🚀", "null", "12", "\xff\xfe", "a\xc3"}

// fireBoth fires trigger ti of Sensor si with body as the event's body,
// through p and through Argo Events' own code (Exact), and compares them.
func fireBoth(t *testing.T, p, exact *Pipeline, si, ti int, body []byte, published time.Time) {
	t.Helper()
	s := p.sensors[si]
	for di, d := range s.Spec.Dependencies {
		src := p.sourceOf[si][di]
		if src < 0 {
			continue
		}
		event, err := pubSubEvent(Message{ID: "1", Data: body, PublishTime: published}, p.sourceList[src])
		if err != nil {
			return // the EventSource drops it: no trigger fires
		}
		satisfied := map[string]*eventsv1alpha1.Event{d.Name: event}
		got, want := p.apply(si, ti, satisfied), exact.apply(si, ti, satisfied)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s trigger %d, body %q:\nspliced %+v\n%s\nexact   %+v\n%s", s.Name, ti, body, got, got.Resource, want, want.Resource)
		}
	}
}

// body is a release notification with these digest and tag values, raw
// bytes included.
func body(digest, tag string) []byte {
	quote := func(s string) string { // JSON string without touching bytes ≥ 0x80
		b := []byte{'"'}
		for i := 0; i < len(s); i++ {
			switch c := s[i]; {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, []byte(`\u00`+strconv.FormatUint(uint64(c)>>4, 16)+strconv.FormatUint(uint64(c)&15, 16))...)
			default:
				b = append(b, c)
			}
		}
		return string(append(b, '"'))
	}
	return []byte(`{"action":"INSERT","digest":` + quote(digest) + `,"tag":` + quote(tag) + `}`)
}

// TestSpliceMatchesApply: every trigger of the examples and of a
// synthetic pipeline, fired with digests and tags of every kind and with
// publish times that the parameter template reads or cannot read, creates
// the resource and Workflow that Argo Events' own parameter code, the
// decode and the encode create. The Workflow triggers all have a plan.
func TestSpliceMatchesApply(t *testing.T) {
	pipelines := []*Pipeline{syntheticPipeline(t, 12)}
	for _, example := range []string{"single-service", "multi-namespace", "multi-cluster"} {
		pipelines = append(pipelines, pipeline(t, example+".yaml"))
	}
	published := []time.Time{DefaultPublishTime, time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Unix(0, 1).In(time.FixedZone("", -3600))}
	plans, triggers := 0, 0
	for _, p := range pipelines {
		exact := p.Exact()
		for si, s := range p.sensors {
			for ti := range s.Spec.Triggers {
				for _, digest := range spliceValues {
					for _, tag := range spliceValues {
						fireBoth(t, p, exact, si, ti, body(digest, tag), published[len(digest)%len(published)])
					}
				}
				triggers++
				if p.resources[si][ti].plan != nil {
					plans++
				}
			}
		}
	}
	if plans != triggers {
		t.Errorf("%d of %d triggers have a plan, want all", plans, triggers)
	}
}

// FuzzSpliceMatchesApply: TestSpliceMatchesApply for any event body and
// publish time, through a pipeline of three services.
func FuzzSpliceMatchesApply(f *testing.F) {
	p := syntheticPipeline(f, 3)
	exact := p.Exact()
	f.Add(body(synthetic0Digest, "x:1"), int64(0))
	f.Add(body("<&>\u2028", "\xff"), int64(-1))
	f.Fuzz(func(t *testing.T, body []byte, nanos int64) {
		for si, s := range p.sensors {
			for ti := range s.Spec.Triggers {
				fireBoth(t, p, exact, si, ti, body, time.Unix(0, nanos).UTC())
			}
		}
	})
}

const synthetic0Digest = "us-docker.pkg.dev/acme-fleet/services/svc-00000@sha256:abababababababababababababababababababababababababababababababab"
