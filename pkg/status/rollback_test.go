package status

import (
	"context"
	"strings"
	"testing"

	"k8s.io/client-go/kubernetes/fake"

	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/rollout"
)

// TestPlanRollback: --previous returns to the digest the state records as
// run before, --to to a named digest with the tag the state knows or one
// given; what cannot be told is an error that says what to give.
func TestPlanRollback(t *testing.T) {
	m, err := mapping.Load("../../examples/multi-namespace.yaml")
	if err != nil {
		t.Fatal(err)
	}
	svc, target := findTarget(m, "api")
	if target == nil || target.Strategy != mapping.StrategySetImage {
		t.Fatalf("multi-namespace's target api: %+v, want a set-image target", target)
	}
	img := svc.Image
	a, b, c := "sha256:"+strings.Repeat("a", 64), "sha256:"+strings.Repeat("b", 64), "sha256:"+strings.Repeat("c", 64)
	state := `{"api":{"digest":"` + b + `","tag":"v1.3.0","publishedAt":"200","outcome":"healthy","previous":{"digest":"` + a + `","tag":"v1.2.0","publishedAt":"100"}}}`
	d := deployment(target.Namespace, target.Deployment, state, target.Container)
	d.Spec.Template.Spec.Containers[0].Image = img + "@" + b
	clusters := rollout.NewClusters(fake.NewSimpleClientset(d), m.Spec.Namespace)
	plan := func(to, tag string) (*Rollback, error) {
		return PlanRollback(context.Background(), clusters, m, "api", to, tag)
	}

	r, err := plan("", "")
	want := rollout.Push{Digest: img + "@" + a, Tag: img + ":v1.2.0", PublishedAt: 200}
	if err != nil || r.Push != want || r.From != b || r.FromTag != "v1.3.0" || r.Already || r.Target != "api" {
		t.Errorf("--previous: %+v, %v; want %+v from %s", r, err, want, b)
	}
	if r, err := plan(img+"@"+a, ""); err != nil || r.Push != want {
		t.Errorf("--to IMAGE@%s: %+v, %v; want %+v", a, r, err, want)
	}
	if r, err := plan(b, ""); err != nil || !r.Already {
		t.Errorf("--to the digest it runs: %+v, %v; want Already", r, err)
	}
	if r, err := plan(c, "v1.1.0"); err != nil || r.Push.Tag != img+":v1.1.0" || r.Push.Digest != img+"@"+c {
		t.Errorf("--to %s --tag v1.1.0: %+v, %v", c, r, err)
	}
	for _, bad := range []struct{ target, to, tag, want string }{
		{"api", c, "", "name it with --tag"},
		{"api", "sha256:abc", "", "is not a digest"},
		{"api", "other/image@" + a, "", "is not a digest"},
		{"nope", "", "", `no target "nope"`},
		{"docs", "", "", "strategy restart"},
	} {
		if _, err := PlanRollback(context.Background(), clusters, m, bad.target, bad.to, bad.tag); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("rollback %s --to %q --tag %q: %v, want an error with %q", bad.target, bad.to, bad.tag, err, bad.want)
		}
	}

	// Nothing recorded, or nothing before the current push.
	for _, s := range []string{"", `{"api":{"digest":"` + b + `","tag":"v1.3.0","outcome":"healthy"}}`} {
		d := deployment(target.Namespace, target.Deployment, s, target.Container)
		_, err := PlanRollback(context.Background(), rollout.NewClusters(fake.NewSimpleClientset(d), m.Spec.Namespace), m, "api", "", "")
		if err == nil || !strings.Contains(err.Error(), "roll back") && !strings.Contains(err.Error(), "--to") {
			t.Errorf("state %q: %v, want an error saying what is missing", s, err)
		}
	}
}
