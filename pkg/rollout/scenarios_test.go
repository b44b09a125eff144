package rollout

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/argodeploy/argodeploy/pkg/mapping"
)

// Names of the actions in the scenarios.
const (
	getProd       = "get deployments prod/web"
	updateProd    = "update deployments prod/web"
	getStaging    = "get deployments staging/web"
	updateStaging = "update deployments staging/web"
	getCanary     = "get deployments canary/web"
	updateCanary  = "update deployments canary/web"
)

// rolledActions are the actions of a step that rolls name and finds it
// healthy at its second read: read and decide, update, two reads, read
// and record.
func rolledActions(get, update string) []string {
	return []string{get, update, get + " ×3", update}
}

// TestScenarios plays the release model's stories through Run against
// fake clusters, one row each: the steps and their results, then the
// API actions in order and the final images and state.
func TestScenarios(t *testing.T) {
	webOnProd := service("web", img, setImage("prod", "prod"))
	proxyOnProd := service("proxy", proxy, mapping.Target{Name: "prod-proxy", Namespace: "prod", Deployment: "web", Container: "proxy", Strategy: mapping.StrategySetImage})
	twoContainers := func() []runtime.Object {
		return []runtime.Object{deployment("prod", "web", ctr("web", img+":v1"), ctr("proxy", proxy+":v1"))}
	}
	stagingAndProd := func() []runtime.Object {
		return []runtime.Object{deployment("staging", "web", ctr("web", img+":v1")), deployment("prod", "web", ctr("web", img+":v1"))}
	}
	for _, sc := range []struct {
		name    string
		poll    time.Duration // Options.Poll when not the default
		objects []runtime.Object
		play    func(t *testing.T, w *world)
		actions []string // of the local cluster, in order
		images  map[string]string
		state   map[string]*Entry // by ns/deployment/container; Workflow and an unwanted HealthyAt are not compared
	}{
		{
			// pr-123 is pushed first for digest X: it does not move :latest
			// and is not recorded, so the release latest → X restarts.
			name:    "re-tag promotion",
			objects: []runtime.Object{deployment("prod", "web", ctr("web", img+":latest"))},
			play: func(t *testing.T, w *world) {
				svc := service("web", img, restart("prod", "prod"))
				w.step(svc, "prod", push(img, 1, "pr-123", 100), "skipped/0", "container web references :latest; pr-123 does not move it")
				if e := w.entry("local", "prod", "web", "web"); e != nil {
					t.Errorf("a skipped push recorded %+v", e)
				}
				w.step(svc, "prod", push(img, 1, "latest", 200), "rolled/0", "")
				if a := w.get("local", "prod", "web").Spec.Template.Annotations[AnnotationRestartedAt]; a != "2025-06-02T10:00:02Z" {
					t.Errorf("restartedAt %q", a)
				}
				w.step(svc, "prod", push(img, 1, "latest", 300), "already/0", "already runs "+dig(1))
			},
			actions: []string{getProd + " ×2", updateProd, getProd + " ×3", updateProd, getProd + " ×3", updateProd},
			images:  map[string]string{"prod/web/web": img + ":latest"},
			state:   map[string]*Entry{"prod/web/web": {Digest: dig(1), Tag: "latest", PublishedAt: 300, Outcome: StateHealthy, HealthyAt: "2025-06-02T10:00:04Z"}},
		},
		{
			// Two services roll two containers of one Deployment; proxy's
			// push is older than web's but is for another container.
			name:    "two services on one Deployment, web first",
			poll:    time.Minute,
			objects: twoContainers(),
			play: func(t *testing.T, w *world) {
				w.step(webOnProd, "prod", push(img, 1, "v2", 500), "rolled/0", "")
				w.step(proxyOnProd, "prod-proxy", push(proxy, 2, "v7", 300), "rolled/0", "")
				w.step(webOnProd, "prod", push(img, 3, "v1-late", 400), "skipped/0", "already has a newer push")
			},
			actions: append(append(rolledActions(getProd, updateProd), rolledActions(getProd, updateProd)...), getProd),
			images:  map[string]string{"prod/web/web": ref(img, 1), "prod/web/proxy": ref(proxy, 2)},
			state: map[string]*Entry{
				"prod/web/web":   {Digest: dig(1), Tag: "v2", PublishedAt: 500, Outcome: StateHealthy},
				"prod/web/proxy": {Digest: dig(2), Tag: "v7", PublishedAt: 300, Outcome: StateHealthy},
			},
		},
		{
			name:    "two services on one Deployment, proxy first",
			poll:    time.Minute,
			objects: twoContainers(),
			play: func(t *testing.T, w *world) {
				w.step(proxyOnProd, "prod-proxy", push(proxy, 2, "v7", 300), "rolled/0", "")
				w.step(webOnProd, "prod", push(img, 1, "v2", 500), "rolled/0", "")
				w.step(proxyOnProd, "prod-proxy", push(proxy, 4, "v6-late", 200), "skipped/0", "already has a newer push")
			},
			actions: append(append(rolledActions(getProd, updateProd), rolledActions(getProd, updateProd)...), getProd),
			images:  map[string]string{"prod/web/web": ref(img, 1), "prod/web/proxy": ref(proxy, 2)},
			state: map[string]*Entry{
				"prod/web/web":   {Digest: dig(1), Tag: "v2", PublishedAt: 500, Outcome: StateHealthy},
				"prod/web/proxy": {Digest: dig(2), Tag: "v7", PublishedAt: 300, Outcome: StateHealthy},
			},
		},
		{
			// One image feeds staging (every tag) and prod (releases): each
			// target's step decides by its own pattern.
			name:    "one image to staging and prod",
			poll:    time.Minute,
			objects: stagingAndProd(),
			play: func(t *testing.T, w *world) {
				prod := setImage("prod", "prod")
				prod.TagPattern = `v\d+\.\d+\.\d+`
				svc := service("web", img, setImage("staging", "staging"), prod)
				w.step(svc, "staging", push(img, 1, "main-abc", 100), "rolled/0", "")
				w.step(svc, "prod", push(img, 1, "main-abc", 100), "skipped/0", "tag main-abc does not match target prod's tagPattern")
				w.step(svc, "staging", push(img, 2, "v1.0.0", 200), "rolled/0", "")
				w.step(svc, "prod", push(img, 2, "v1.0.0", 200), "rolled/0", "")
			},
			actions: append(append(rolledActions(getStaging, updateStaging), rolledActions(getStaging, updateStaging)...), rolledActions(getProd, updateProd)...),
			images:  map[string]string{"staging/web/web": ref(img, 2), "prod/web/web": ref(img, 2)},
			state: map[string]*Entry{
				"staging/web/web": {Digest: dig(2), Tag: "v1.0.0", PublishedAt: 200, Outcome: StateHealthy, Previous: Previous{Digest: dig(1), Tag: "main-abc", PublishedAt: 100}},
				"prod/web/web":    {Digest: dig(2), Tag: "v1.0.0", PublishedAt: 200, Outcome: StateHealthy},
			},
		},
		{
			// prod waits out staging's soak of X when staging is rolled to
			// the newer Y: prod skips X, then Y reaches prod after its own
			// soak.
			name:    "superseded push during the soak",
			poll:    time.Minute,
			objects: stagingAndProd(),
			play: func(t *testing.T, w *world) {
				svc := staged("10m")
				w.step(svc, "staging", push(img, 1, "v2", 100), "rolled/0", "")
				w.clock.at(3*time.Minute, func() { w.step(svc, "staging", push(img, 2, "v3", 200), "rolled/0", "") })
				w.step(svc, "prod", push(img, 1, "v2", 100), "skipped/0", "superseded: staging now runs v3 at "+dig(2)+", published after "+dig(1))
				at := updatedAt(w)
				w.step(svc, "prod", push(img, 2, "v3", 200), "rolled/0", "")
				if healthy, _ := time.Parse(time.RFC3339, w.entry("local", "staging", "web", "web").HealthyAt); !at.Equal(healthy.Add(10 * time.Minute)) {
					t.Errorf("prod updated at %s, want staging's healthyAt %s + 10m", at, healthy)
				}
			},
			actions: []string{
				getStaging, updateStaging, getStaging + " ×3", updateStaging, // staging ← X
				getStaging + " ×4", updateStaging, getStaging + " ×3", updateStaging, // prod's 3 reads, then staging ← Y
				getStaging + " ×12",                              // prod's read that sees Y; prod's Y soak
				getProd, updateProd, getProd + " ×3", updateProd, // prod ← Y
			},
			images: map[string]string{"staging/web/web": ref(img, 2), "prod/web/web": ref(img, 2)},
			state: map[string]*Entry{
				"staging/web/web": {Digest: dig(2), Tag: "v3", PublishedAt: 200, Outcome: StateHealthy, Previous: Previous{Digest: dig(1), Tag: "v2", PublishedAt: 100}},
				"prod/web/web":    {Digest: dig(2), Tag: "v3", PublishedAt: 200, Outcome: StateHealthy},
			},
		},
		{
			// One push, three steps started together: prod waits for
			// canary, which waits for staging; no approvals on the way.
			name:    "approval-free chain staging → canary → prod",
			poll:    time.Minute,
			objects: append(stagingAndProd(), deployment("canary", "web", ctr("web", img+":v1"))),
			play: func(t *testing.T, w *world) {
				canary, prod := setImage("canary", "canary"), setImage("prod", "prod")
				canary.After, canary.Soak = "staging", "5m"
				prod.After, prod.Soak = "canary", "15m"
				svc := service("web", img, setImage("staging", "staging"), canary, prod)
				p := push(img, 1, "v2", 100)
				w.clock.at(2*time.Second, func() { // while prod waits
					w.step(svc, "staging", p, "rolled/0", "")
					w.step(svc, "canary", p, "rolled/0", "")
				})
				at := updatedAt(w)
				w.step(svc, "prod", p, "rolled/0", "")
				if healthy, _ := time.Parse(time.RFC3339, w.entry("local", "canary", "web", "web").HealthyAt); !at.Equal(healthy.Add(15 * time.Minute)) {
					t.Errorf("prod updated at %s, want canary's healthyAt %s + 15m", at, healthy)
				}
			},
			actions: []string{
				getCanary,                                                    // prod: canary has nothing yet
				getStaging, updateStaging, getStaging + " ×3", updateStaging, // staging ← X
				getStaging + " ×6",                                       // canary soaks staging's X: five reads a minute apart, one at the soak's end
				getCanary, updateCanary, getCanary + " ×3", updateCanary, // canary ← X
				getCanary + " ×16",                               // prod soaks canary's X: fifteen reads a minute apart, one at the soak's end
				getProd, updateProd, getProd + " ×3", updateProd, // prod ← X
			},
			images: map[string]string{"staging/web/web": ref(img, 1), "canary/web/web": ref(img, 1), "prod/web/web": ref(img, 1)},
		},
		{
			// SIGTERM (an Argo deadline, an eviction) while waiting for the
			// rollout: the change is undone with a context of its own.
			name:    "TERM during the rollout wait",
			poll:    time.Minute,
			objects: []runtime.Object{deployment("prod", "web", ctr("web", img+":v1"))},
			play: func(t *testing.T, w *world) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				c := w.ctl("local", "prod", "web")
				c.mode = "never"
				c.onGet = func(n int, _ *appsv1.Deployment) {
					if n == 3 {
						cancel()
					}
				}
				checkResult(t, "prod", w.run(ctx, webOnProd, "prod", push(img, 1, "v2", 100)), "undone/1", "interrupted (context canceled) while waiting for the rollout; deployment prod/web container web in cluster local was returned to what it ran before")
			},
			actions: []string{getProd, updateProd, getProd + " ×3", updateProd},
			images:  map[string]string{"prod/web/web": img + ":v1"},
			state:   map[string]*Entry{"prod/web/web": {Outcome: StateInterrupted, Undone: dig(1)}},
		},
		{
			// Reads fail while a healthy rollout completes: they are logged
			// and the wait goes on; nothing is undone.
			name:    "transient Get errors during a healthy rollout",
			objects: []runtime.Object{deployment("prod", "web", ctr("web", img+":v1"))},
			play: func(t *testing.T, w *world) {
				c := w.ctl("local", "prod", "web")
				c.delay = 2
				c.getErr = func(n int) error {
					switch n {
					case 2:
						return errors.New("an error on the server (\"\") has prevented the request from succeeding: watch closed")
					case 3:
						return apierrors.NewServiceUnavailable("apiserver is shutting down")
					case 4:
						return apierrors.NewTimeoutError("request timed out", 1)
					}
					return nil
				}
				w.step(webOnProd, "prod", push(img, 1, "v2", 100), "rolled/0", "")
			},
			actions: []string{getProd, updateProd, getProd + " ×7", updateProd},
			images:  map[string]string{"prod/web/web": ref(img, 1)},
			state:   map[string]*Entry{"prod/web/web": {Digest: dig(1), Tag: "v2", PublishedAt: 100, Outcome: StateHealthy, HealthyAt: "2025-06-02T10:00:11Z"}},
		},
		{
			// Pushes published at 1, 3, 2 arrive in that order: 2 is older
			// than what prod has, whatever its arrival.
			name:    "out-of-order arrival",
			poll:    time.Minute,
			objects: []runtime.Object{deployment("prod", "web", ctr("web", img+":v1"))},
			play: func(t *testing.T, w *world) {
				w.step(webOnProd, "prod", push(img, 1, "b1", 1), "rolled/0", "")
				w.step(webOnProd, "prod", push(img, 3, "b3", 3), "rolled/0", "")
				w.step(webOnProd, "prod", push(img, 2, "b2", 2), "skipped/0", "target prod already has a newer push (b3 at "+dig(3))
			},
			actions: append(append(rolledActions(getProd, updateProd), rolledActions(getProd, updateProd)...), getProd),
			images:  map[string]string{"prod/web/web": ref(img, 3)},
			state:   map[string]*Entry{"prod/web/web": {Digest: dig(3), Tag: "b3", PublishedAt: 3, Outcome: StateHealthy, Previous: Previous{Digest: dig(1), Tag: "b1", PublishedAt: 1}}},
		},
		{
			// A hotfix of an older line, pushed after a higher version,
			// never moves a semver target down.
			name:    "semver hotfix after a higher version",
			poll:    time.Minute,
			objects: []runtime.Object{deployment("prod", "web", ctr("web", img+":v1"))},
			play: func(t *testing.T, w *world) {
				prod := setImage("prod", "prod")
				prod.Policy = mapping.PolicySemver
				svc := service("web", img, prod)
				w.step(svc, "prod", push(img, 3, "v1.3.0", 100), "rolled/0", "")
				w.step(svc, "prod", push(img, 2, "v1.2.1", 200), "skipped/0", "never moves to a lower version: runs 1.3.0, pushed 1.2.1")
			},
			actions: append(rolledActions(getProd, updateProd), getProd),
			images:  map[string]string{"prod/web/web": ref(img, 3)},
			state:   map[string]*Entry{"prod/web/web": {Digest: dig(3), Tag: "v1.3.0", PublishedAt: 100, Version: "1.3.0", Outcome: StateHealthy}},
		},
	} {
		t.Run(sc.name, func(t *testing.T) {
			w := newWorld(t)
			w.add(sc.objects...)
			if sc.poll > 0 {
				w.opts = func(o *Options) { o.Poll = sc.poll }
			}
			sc.play(t, w)
			w.checkActions("local", sc.actions...)
			for key, want := range sc.images {
				k := strings.Split(key, "/")
				if got := w.image("local", k[0], k[1], k[2]); got != want {
					t.Errorf("%s runs %s, want %s", key, got, want)
				}
			}
			for key, want := range sc.state {
				k := strings.Split(key, "/")
				checkEntry(t, key, w.entry("local", k[0], k[1], k[2]), want)
			}
		})
	}
}
