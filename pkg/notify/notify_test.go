package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/argodeploy/argodeploy/pkg/mapping"
)

// receiverServer records what it is sent and answers with status.
type receiverServer struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
}

func newReceiver(t *testing.T, status int, delay time.Duration) *receiverServer {
	r := &receiverServer{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, req.Method+" "+req.Header.Get("Content-Type")+" "+string(b))
		r.mu.Unlock()
		time.Sleep(delay)
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiverServer) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bodies...)
}

var sample = Notification{
	Service: "web", Target: "web-prod", Cluster: "local", Namespace: "prod", Deployment: "web", Container: "web",
	Image: "img", Tag: "img:v1.2.0", Digest: "img@sha256:aa", PreviousImage: "img@sha256:99",
	Outcome: mapping.OnRolled, Reason: "rolled out", Workflow: "web-x1",
}

// TestSend: each receiver whose outcomes include the notification's gets
// it once, as JSON or as Slack text, read from its Secret; a receiver that
// fails or hangs is retried, bounded, reported and counted, never more;
// a URL that holds a token does not leak into the log.
func TestSend(t *testing.T) {
	ok, broken, slow, slack := newReceiver(t, 204, 0), newReceiver(t, 500, 0), newReceiver(t, 200, 300*time.Millisecond), newReceiver(t, 200, 0)
	urls := map[string]string{"ok": ok.URL, "broken": broken.URL + "/?token=s3cret", "slow": slow.URL, "slack": slack.URL + "\n"}
	var log bytes.Buffer
	s := &Sender{
		Secrets: func(_ context.Context, name, key string) (string, error) {
			if u, found := urls[key]; found && name == "hooks" {
				return u, nil
			}
			return "", errors.New(`secrets "hooks" is forbidden`)
		},
		Timeout: 100 * time.Millisecond, Attempts: 2, Backoff: time.Millisecond, Log: &log,
	}
	rcv := func(name, typ string, on ...string) mapping.Receiver {
		if len(on) == 0 {
			on = mapping.DefaultNotifyOn
		}
		return mapping.Receiver{Name: name, Type: typ, URLSecret: mapping.SecretKeyRef{Name: "hooks", Key: name}, On: on}
	}
	receivers := []mapping.Receiver{
		rcv("ok", mapping.ReceiverWebhook), rcv("broken", mapping.ReceiverWebhook), rcv("slow", mapping.ReceiverWebhook),
		rcv("slack", mapping.ReceiverSlack), rcv("missing", mapping.ReceiverWebhook), rcv("quiet", mapping.ReceiverWebhook, mapping.OnFailed),
	}
	if failed := s.Send(context.Background(), receivers, sample); failed != 3 {
		t.Errorf("Send: %d failed, want 3 (broken, slow, missing)\n%s", failed, log.String())
	}
	want, _ := json.Marshal(sample)
	if got := ok.got(); len(got) != 1 || got[0] != "POST application/json "+string(want) {
		t.Errorf("webhook got %q, want one POST of %s", got, want)
	}
	if got := slack.got(); len(got) != 1 || !strings.Contains(got[0], `{"text":"web-prod rolled: web v1.2.0 to prod/web (rolled out) [workflow web-x1]"}`) {
		t.Errorf("slack got %q", got)
	}
	if n := len(broken.got()); n != 2 {
		t.Errorf("the failing receiver got %d attempts, want 2", n)
	}
	text := log.String()
	for _, w := range []string{"notify ok (webhook): sent rolled", "notify broken (webhook): 2 attempts: answered 500 Internal Server Error; the release is not affected",
		"notify slow (webhook): 2 attempts: no answer within 100ms", `notify missing (webhook): reading its URL from Secret hooks key missing: secrets "hooks" is forbidden`} {
		if !strings.Contains(text, w) {
			t.Errorf("log lacks %q:\n%s", w, text)
		}
	}
	if strings.Contains(text, "s3cret") || strings.Contains(text, "quiet") {
		t.Errorf("log leaks the URL's token or names a receiver that does not take rolled:\n%s", text)
	}

	// waiting carries the command that approves.
	w := sample
	w.Outcome, w.Approve = mapping.OnWaiting, "argodeploy approve web-prod --workflow web-x1 -f MAPPING"
	if got := w.Text(); !strings.Contains(got, "approve with: argodeploy approve web-prod") {
		t.Errorf("waiting text %q", got)
	}
}
