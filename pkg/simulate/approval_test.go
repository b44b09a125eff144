package simulate

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestApprovalWaits: in staged-release, web-prod waits for approval; a
// release tag rolls staging and reports prod as waiting, untouched: the
// rollout step that the approve step gates does not run.
func TestApprovalWaits(t *testing.T) {
	p := pipeline(t, "staged-release.yaml")
	c, err := p.NewCluster(nil)
	if err != nil {
		t.Fatal(err)
	}
	const img = "us-east1-docker.pkg.dev/acme-web/apps/web"
	data := fmt.Sprintf(`{"action":"INSERT","digest":"%s@sha256:%s","tag":"%s:v1.4.0"}`, img, strings.Repeat("cd", 32), img)
	out := p.Replay(Message{ID: "1", Data: []byte(data), PublishTime: DefaultPublishTime})
	if len(out.Fired) != 1 || out.Fired[0].Workflow == nil {
		t.Fatalf("fired %+v, want one Workflow", out.Fired)
	}
	w := out.Fired[0].Workflow
	if err := p.Follow(context.Background(), c, w, DefaultPublishTime); err != nil {
		t.Fatal(err)
	}
	got := map[string]*Step{}
	for _, s := range w.Steps {
		got[s.Target] = s
	}
	if s := got["web-staging"]; s == nil || s.Outcome != "rolled" {
		t.Errorf("web-staging: %+v, want rolled", s)
	}
	prod := got["web-prod"]
	if prod == nil || prod.Outcome != OutcomeWaiting || !strings.Contains(prod.Reason, "argodeploy approve web-prod") || prod.After != prod.Before || len(prod.Calls) != 0 {
		t.Errorf("web-prod: %+v, want waiting for approval, untouched", prod)
	}
	for _, r := range w.Route.Targets {
		if r.Approval != (r.Target == "web-prod") {
			t.Errorf("route %+v: approval %t", r, r.Approval)
		}
	}
}
