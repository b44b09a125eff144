package rollout

import (
	"strings"
	"testing"

	"github.com/argodeploy/argodeploy/pkg/mapping"
)

// TestRollback: a rollback pins an older digest whatever the target's
// policy, records what it rolled back from and what ran before; a later
// delivery of the push it took back is skipped, a newer push rolls, and a
// rollback asked before a newer push reached the target does not roll
// that push back.
func TestRollback(t *testing.T) {
	const img = "europe-docker.pkg.dev/acme/apps/web"
	prod := setImage("prod", "prod")
	prod.Policy = mapping.PolicySemver
	prod.After = "" // a rollback never waits for a stage
	svc := service("web", img, prod)
	w := newWorld(t)
	w.add(deployment("prod", "web", ctr("web", img+":v1.1.0")))
	rollback := func(on bool) { w.opts = func(o *Options) { o.Rollback = on } }

	w.step(svc, "prod", push(img, 1, "v1.2.0", 100), "rolled/0", "")
	w.step(svc, "prod", push(img, 2, "v1.3.0", 200), "rolled/0", "")
	checkEntry(t, "after v1.3.0", w.entry("local", "prod", "web", "web"),
		&Entry{Digest: dig(2), Tag: "v1.3.0", PublishedAt: 200, Version: "1.3.0", Outcome: StateHealthy, Previous: Previous{Digest: dig(1), Tag: "v1.2.0", PublishedAt: 100, Version: "1.2.0"}})

	// Back to v1.2.0, a lower version, asked while the target has v1.3.0
	// (published at 200).
	rollback(true)
	w.step(svc, "prod", push(img, 1, "v1.2.0", 200), "rolled/0", "")
	if got := w.image("local", "prod", "web", "web"); got != ref(img, 1) {
		t.Fatalf("after the rollback prod runs %s, want %s", got, ref(img, 1))
	}
	checkEntry(t, "after the rollback", w.entry("local", "prod", "web", "web"),
		&Entry{Digest: dig(1), Tag: "v1.2.0", PublishedAt: 200, Version: "1.2.0", Outcome: StateHealthy, RolledBack: dig(2), Previous: Previous{Digest: dig(2), Tag: "v1.3.0", PublishedAt: 200, Version: "1.3.0"}})
	w.step(svc, "prod", push(img, 1, "v1.2.0", 200), "already/0", "already runs")

	// The push it took back, delivered again (a redelivery, a replay), and
	// the same digest under another tag, stay out.
	rollback(false)
	w.step(svc, "prod", push(img, 2, "v1.3.0", 200), "skipped/0", "rolled back from "+dig(2))
	w.step(svc, "prod", push(img, 2, "v1.3.0-again", 250), "skipped/0", "rolled back from")

	// A hotfix above the version rolled back to rolls.
	w.step(svc, "prod", push(img, 3, "v1.2.1", 300), "rolled/0", "")
	checkEntry(t, "after the hotfix", w.entry("local", "prod", "web", "web"),
		&Entry{Digest: dig(3), Tag: "v1.2.1", PublishedAt: 300, Version: "1.2.1", Outcome: StateHealthy, Previous: Previous{Digest: dig(1), Tag: "v1.2.0", PublishedAt: 200, Version: "1.2.0"}})

	// A rollback asked before the hotfix arrived (against publish time
	// 200) does not take the hotfix back.
	rollback(true)
	w.step(svc, "prod", push(img, 1, "v1.2.0", 200), "skipped/0", "received a newer push (v1.2.1")
	if got := w.image("local", "prod", "web", "web"); got != ref(img, 3) {
		t.Errorf("a stale rollback moved prod to %s", got)
	}

	// A restart target runs a tag: a rollback cannot pin it.
	canary := restart("canary", "canary")
	w.add(deployment("canary", "web", ctr("web", img+":latest")))
	w.step(service("web", img, canary), "canary", push(img, 1, "v1.2.0", 200), "failed/2", "cannot pin")
}

// TestRollbackRoute: a rollback Workflow's route step yields the one
// target named, when the digest is of its service and it can pin one.
func TestRollbackRoute(t *testing.T) {
	const img = "europe-docker.pkg.dev/acme/apps/web"
	svc := service("web", img, setImage("staging", "staging"), setImage("prod", "prod"), restart("canary", "canary"))
	lookup := func(image string) (mapping.Service, error) {
		if image != img {
			return mapping.Service{}, UnknownImage(image, "cache", 1)
		}
		return svc, nil
	}
	routes, err := RollbackRoute(lookup, push(img, 1, "v1", 10), "prod")
	if err != nil || len(routes) != 1 || routes[0] != (Route{Service: "web", Target: "prod", Lock: "local.prod.web"}) {
		t.Errorf("RollbackRoute(prod) = %+v, %v; want prod alone", routes, err)
	}
	for _, c := range []struct {
		push   Push
		target string
		want   string
	}{
		{push(img, 1, "v1", 10), "nightly", `has no target "nightly"`},
		{push(img, 1, "v1", 10), "canary", "cannot pin"},
		{push(img+"-other", 1, "v1", 10), "prod", "has no service"},
		{Push{Digest: ref(img, 1), Tag: img + ":v1"}, "prod", "publish time"},
	} {
		if _, err := RollbackRoute(lookup, c.push, c.target); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("RollbackRoute(%s, %s): %v, want an error with %q", c.push.Digest, c.target, err, c.want)
		}
	}
}
