package simulate

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/argodeploy/argodeploy/pkg/mapping/synthetic"
	"github.com/argodeploy/argodeploy/pkg/render"
)

// unscreened is p with every dependency judged by Argo Events alone, every
// time: no screens, nothing remembered.
func unscreened(p *Pipeline) *Pipeline {
	q := *p
	q.verdicts = map[string]verdictOf{}
	q.screens = make([][]*screen, len(p.screens))
	for i := range p.screens {
		q.screens[i] = make([]*screen, len(p.screens[i]))
	}
	return &q
}

// TestScreensChangeNothing: every example message gives the same outcome
// with the screens and remembered verdicts (kept across the messages) as
// with Argo Events' Filter alone.
func TestScreensChangeNothing(t *testing.T) {
	for _, example := range []string{"single-service", "multi-namespace", "multi-cluster"} {
		p := pipeline(t, example+".yaml")
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
			if got, want := p.Replay(msg), unscreened(p).Replay(msg); !reflect.DeepEqual(got, want) {
				t.Errorf("%s message %s:\nscreened   %+v\nunscreened %+v", example, msg.ID, got, want)
			}
		}
	}
}

// FuzzScreens: for any message body, the screens and the remembered
// verdicts (p keeps them across inputs) change no outcome.
func FuzzScreens(f *testing.F) {
	p := pipeline(f, "multi-namespace.yaml")
	for _, seed := range []string{push("1.0.0"), `{"action":"INSERT"}`, `{"action":"INSERT","digest":"europe-west1-docker.pkg.dev/acme-platform/services/api@sha256:` + strings.Repeat("ab", 32) + `","tag":"europe-west1-docker.pkg.dev/acme-platform/services/api:v1.2.3"}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		msg := Message{ID: "1", Data: body, PublishTime: DefaultPublishTime}
		if got, want := p.Replay(msg), unscreened(p).Replay(msg); !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\nscreened   %+v\nunscreened %+v", body, got, want)
		}
	})
}

// BenchmarkReplay: one message (a push of a mapped image) through the
// pipeline of n services, without the step.
func BenchmarkReplay(b *testing.B) {
	for _, n := range synthetic.Sizes {
		rendered, err := synthetic.Objects(n)
		if err != nil {
			b.Fatal(err)
		}
		p, err := NewPipeline(render.Convert[runtime.Object](rendered))
		if err != nil {
			b.Fatal(err)
		}
		msg := Message{ID: "1", Data: []byte(synthetic.Push(n/2, "v1.2.3")), PublishTime: DefaultPublishTime}
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if out := p.Replay(msg); len(out.Fired) != 1 {
					b.Fatalf("fired %d", len(out.Fired))
				}
			}
		})
	}
}
