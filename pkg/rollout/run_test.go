package rollout

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/argodeploy/argodeploy/pkg/mapping"
)

var deploymentsGR = schema.GroupResource{Group: "apps", Resource: "deployments"}

// withState records entries on d, by container.
func withState(d *appsv1.Deployment, entries map[string]Entry) *appsv1.Deployment {
	for c, e := range entries {
		if err := writeState(d, c, e); err != nil {
			panic(err)
		}
	}
	return d
}

// withTemplateAnnotations sets annotations of d's pod template.
func withTemplateAnnotations(d *appsv1.Deployment, kv ...string) *appsv1.Deployment {
	if d.Spec.Template.Annotations == nil {
		d.Spec.Template.Annotations = map[string]string{}
	}
	for i := 0; i < len(kv); i += 2 {
		d.Spec.Template.Annotations[kv[i]] = kv[i+1]
	}
	return d
}

// TestRunSetImage: a set-image roll changes the container's image to the
// pushed digest reference and records "rolling" in the same update, then
// polls until kubectl's status says done and records "healthy" with the
// time; the other container and the pod template's annotations are not
// touched.
func TestRunSetImage(t *testing.T) {
	w := newWorld(t)
	w.add(deployment("prod", "web", ctr("web", img+":v1"), ctr("sidecar", proxy+":v7")))
	svc := service("web", img, setImage("prod", "prod"))
	var rolling string
	w.ctl("local", "prod", "web").updateErr = func(n int, d *appsv1.Deployment) error {
		if n == 1 {
			rolling = d.Annotations[AnnotationState]
		}
		return nil
	}

	res := w.run(context.Background(), svc, "prod", push(img, 1, "v2", 100))

	checkResult(t, "push", res, "rolled/0", "rolled out "+dig(1))
	w.checkActions("local", "get deployments prod/web", "update deployments prod/web", "get deployments prod/web ×3", "update deployments prod/web")
	if want := `{"web":{"digest":"` + dig(1) + `","tag":"v2","publishedAt":"100","outcome":"rolling","workflow":"wf-1"}}`; rolling != want {
		t.Errorf("state written with the change:\n got %s\nwant %s", rolling, want)
	}
	d := w.get("local", "prod", "web")
	if want := `{"web":{"digest":"` + dig(1) + `","tag":"v2","publishedAt":"100","outcome":"healthy","healthyAt":"2025-06-02T10:00:02Z","workflow":"wf-1"}}`; d.Annotations[AnnotationState] != want {
		t.Errorf("state:\n got %s\nwant %s", d.Annotations[AnnotationState], want)
	}
	if got := w.image("local", "prod", "web", "web"); got != ref(img, 1) {
		t.Errorf("image %s, want %s", got, ref(img, 1))
	}
	if got := w.image("local", "prod", "web", "sidecar"); got != proxy+":v7" {
		t.Errorf("sidecar image %s, want it untouched", got)
	}
	if len(d.Spec.Template.Annotations) != 0 {
		t.Errorf("pod template annotations %v, want none", d.Spec.Template.Annotations)
	}
	for _, line := range w.logLines() {
		if !strings.HasPrefix(line, "argodeploy: ") {
			t.Errorf("log line %q lacks the prefix", line)
		}
	}
	for _, want := range []string{
		"service web: v2 (" + dig(1) + ") -> target prod: deployment prod/web container web in cluster local, strategy set-image, policy publish-time",
		"prod: rolling deployment prod/web container web in cluster local from " + img + ":v1 to " + ref(img, 1),
		`prod: Waiting for deployment "web" rollout to finish: 1 out of 2 new replicas have been updated...`,
		"prod: rolled: deployment prod/web container web in cluster local rolled out " + dig(1),
	} {
		if !strings.Contains(w.log.String(), "argodeploy: "+want) {
			t.Errorf("log lacks %q:\n%s", want, w.log.String())
		}
	}
}

// TestRunRestart: a restart sets the pod template's restartedAt to the
// clock's time in UTC, RFC 3339, and leaves the image as it is; a second
// restart within the same second still changes the template.
func TestRunRestart(t *testing.T) {
	w := newWorld(t)
	w.add(deployment("prod", "web", ctr("web", img+":latest")))
	svc := service("web", img, restart("prod", "prod"))
	w.clock.SetTime(time.Date(2025, 6, 2, 12, 0, 0, 0, time.FixedZone("CEST", 2*3600)))

	checkResult(t, "first", w.run(context.Background(), svc, "prod", push(img, 1, "latest", 100)), "rolled/0", "")
	d := w.get("local", "prod", "web")
	if got := d.Spec.Template.Annotations[AnnotationRestartedAt]; got != "2025-06-02T10:00:00Z" {
		t.Errorf("restartedAt %q, want 2025-06-02T10:00:00Z", got)
	}
	if got := w.image("local", "prod", "web", "web"); got != img+":latest" {
		t.Errorf("image %s, want it untouched", got)
	}
	checkEntry(t, "state", w.entry("local", "prod", "web", "web"), &Entry{Digest: dig(1), Tag: "latest", PublishedAt: 100, Outcome: StateHealthy, HealthyAt: "2025-06-02T10:00:02Z"})

	w.clock.SetTime(start.Add(500 * time.Millisecond))
	w.ctl("local", "prod", "web").delay = 0
	checkResult(t, "second", w.run(context.Background(), svc, "prod", push(img, 2, "latest", 200)), "rolled/0", "")
	if got := w.get("local", "prod", "web").Spec.Template.Annotations[AnnotationRestartedAt]; got != "2025-06-02T10:00:00.5Z" {
		t.Errorf("restartedAt of a second restart in the same second %q, want 2025-06-02T10:00:00.5Z", got)
	}
	if g := w.get("local", "prod", "web").Generation; g != 3 {
		t.Errorf("generation %d, want 3: each restart changes the template", g)
	}
}

// TestRunBeforeTheAPI: a refused push, an unknown target and a tag that is
// not for the target end the step before any API call: nothing from the
// event names what to roll.
func TestRunBeforeTheAPI(t *testing.T) {
	svc := service("web", img, setImage("prod", "prod"))
	svc.Targets[0].TagPattern = `v\d+`
	for _, tc := range []struct {
		name, target string
		push         Push
		want, reason string
	}{
		{"digest of another image", "prod", Push{Digest: ref(proxy, 1), Tag: img + ":v2", PublishedAt: 1}, "failed/2", "refusing the push: digest"},
		{"malformed tag", "prod", Push{Digest: ref(img, 1), Tag: img + ":v2;rm", PublishedAt: 1}, "failed/2", "malformed"},
		{"no publish time", "prod", push(img, 1, "v2", 0), "failed/2", "publish time"},
		{"unknown target", "staging", push(img, 1, "v2", 1), "failed/2", `service web has no target "staging"`},
		{"tag not for the target", "prod", push(img, 1, "main-abc", 1), "skipped/0", `tag main-abc does not match target prod's tagPattern v\d+`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.add(deployment("prod", "web", ctr("web", img+":v1")))
			checkResult(t, tc.name, w.run(context.Background(), svc, tc.target, tc.push), tc.want, tc.reason)
			w.checkActions("local")
		})
	}
}

// TestRunAPIErrors: NotFound, Forbidden and Invalid answers are permanent
// (exit 2), other errors transient (exit 1), and so are a Deployment
// without the target's container and an unreadable state annotation.
func TestRunAPIErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(w *world)
		want   string
		reason string
	}{
		{"deployment not found", func(w *world) { w.add() }, "failed/2", "not found"},
		{"get forbidden", func(w *world) {
			w.ctl("local", "prod", "web").getErr = func(int) error {
				return apierrors.NewForbidden(deploymentsGR, "web", errors.New("RBAC"))
			}
		}, "failed/2", "forbidden"},
		{"get connection refused", func(w *world) {
			w.ctl("local", "prod", "web").getErr = func(int) error { return errors.New("dial tcp 10.0.0.1:443: connect: connection refused") }
		}, "failed/1", "connection refused"},
		{"get too many requests", func(w *world) {
			w.ctl("local", "prod", "web").getErr = func(int) error { return apierrors.NewTooManyRequests("slow down", 1) }
		}, "failed/1", "slow down"},
		{"update invalid", func(w *world) {
			w.ctl("local", "prod", "web").updateErr = func(int, *appsv1.Deployment) error {
				return apierrors.NewInvalid(schema.GroupKind{Group: "apps", Kind: "Deployment"}, "web", nil)
			}
		}, "failed/2", "is invalid"},
		{"update unavailable", func(w *world) {
			w.ctl("local", "prod", "web").updateErr = func(int, *appsv1.Deployment) error {
				return apierrors.NewServiceUnavailable("etcd leader changed")
			}
		}, "failed/1", "etcd leader changed"},
		{"no such container", func(w *world) {
			w.add(deployment("prod", "web", ctr("app", img+":v1")))
		}, "failed/2", "deployment prod/web has no container web"},
		{"unreadable state", func(w *world) {
			d := deployment("prod", "web", ctr("web", img+":v1"))
			d.Annotations = map[string]string{AnnotationState: "digest=sha256:1"}
			w.add(d)
		}, "failed/2", "annotation argodeploy.dev/state of deployment prod/web is not a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.cluster("local")
			tc.setup(w)
			if _, err := w.clusters["local"].Tracker().Get(deploymentsGVR, "prod", "web"); err != nil && tc.name != "deployment not found" {
				w.add(deployment("prod", "web", ctr("web", img+":v1")))
			}
			res := w.run(context.Background(), service("web", img, setImage("prod", "prod")), "prod", push(img, 1, "v2", 1))
			checkResult(t, tc.name, res, tc.want, tc.reason)
			if tc.name != "deployment not found" && tc.name != "no such container" {
				if got := w.image("local", "prod", "web", "web"); got != img+":v1" {
					t.Errorf("image %s, want it unchanged", got)
				}
			}
		})
	}
}

// TestRunClustersError: a cluster that cannot be reached is permanent when
// its kubeconfig is wrong, transient otherwise.
func TestRunClustersError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{permanent(errors.New("kubeconfig: bad")), "failed/2"},
		{apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, "east"), "failed/2"},
		{errors.New("i/o timeout"), "failed/1"},
	} {
		w := newWorld(t)
		o := w.options(service("web", img, setImage("prod", "prod")), "prod", push(img, 1, "v2", 1))
		o.Clusters = func(context.Context, *mapping.Target) (appsv1client.DeploymentsGetter, error) { return nil, tc.err }
		checkResult(t, tc.err.Error(), Run(context.Background(), o), tc.want, tc.err.Error())
	}
}

// TestRunRetriesConflicts: a conflicting update is read, decided and
// applied again (retry.RetryOnConflict).
func TestRunRetriesConflicts(t *testing.T) {
	w := newWorld(t)
	w.add(deployment("prod", "web", ctr("web", img+":v1")))
	w.ctl("local", "prod", "web").updateErr = func(n int, _ *appsv1.Deployment) error {
		if n == 1 {
			return apierrors.NewConflict(deploymentsGR, "web", errors.New("the object has been modified"))
		}
		return nil
	}
	res := w.run(context.Background(), service("web", img, setImage("prod", "prod")), "prod", push(img, 1, "v2", 1))
	checkResult(t, "push", res, "rolled/0", "")
	w.checkActions("local", "get deployments prod/web", "update deployments prod/web", "get deployments prod/web", "update deployments prod/web", "get deployments prod/web ×3", "update deployments prod/web")
}

// TestRunTimeoutUndoes: a rollout that is not healthy within the timeout
// is undone: the image and the container's previous entry come back, with
// outcome undone and a note of the digest taken back; exit 3.
func TestRunTimeoutUndoes(t *testing.T) {
	w := newWorld(t)
	prev := Entry{Digest: dig(2), Tag: "v1", PublishedAt: 50, Outcome: StateHealthy, HealthyAt: "2025-06-01T09:00:00Z", Workflow: "wf-0"}
	w.add(withState(deployment("prod", "web", ctr("web", ref(img, 2))), map[string]Entry{"web": prev}))
	w.ctl("local", "prod", "web").mode = "never"
	w.opts = func(o *Options) { o.Poll = time.Minute }

	res := w.run(context.Background(), service("web", img, setImage("prod", "prod")), "prod", push(img, 1, "v2", 100))

	checkResult(t, "push", res, "undone/3", "not healthy within 5m0s (Waiting for deployment \"web\" rollout to finish: 1 out of 2 new replicas have been updated...); deployment prod/web container web in cluster local was returned")
	// One read a minute for five minutes, then the read at the deadline.
	w.checkActions("local", "get deployments prod/web", "update deployments prod/web", "get deployments prod/web ×6", "update deployments prod/web")
	if got := w.image("local", "prod", "web", "web"); got != ref(img, 2) {
		t.Errorf("image %s, want %s back", got, ref(img, 2))
	}
	want := prev
	want.Outcome, want.Undone, want.Workflow = StateUndone, dig(1), "wf-1"
	if got := w.entry("local", "prod", "web", "web"); got == nil || *got != want {
		t.Errorf("state %+v, want %+v", got, want)
	}
	if now := w.clock.Now(); !now.Equal(start.Add(5 * time.Minute)) {
		t.Errorf("undone at %s, want at the deadline %s", now, start.Add(5*time.Minute))
	}
}

// TestRunTimeoutUndoesRestart: a restart's undo gives the pod template
// back its previous restartedAt, or none when it had none.
func TestRunTimeoutUndoesRestart(t *testing.T) {
	for _, before := range []string{"", "2025-01-01T00:00:00Z"} {
		w := newWorld(t)
		d := deployment("prod", "web", ctr("web", img+":latest"))
		if before != "" {
			withTemplateAnnotations(d, AnnotationRestartedAt, before)
		}
		w.add(d)
		w.ctl("local", "prod", "web").mode = "never"
		w.opts = func(o *Options) { o.Poll = time.Minute }
		checkResult(t, "push", w.run(context.Background(), service("web", img, restart("prod", "prod")), "prod", push(img, 1, "latest", 100)), "undone/3", "")
		got, ok := w.get("local", "prod", "web").Spec.Template.Annotations[AnnotationRestartedAt]
		if got != before || ok != (before != "") {
			t.Errorf("restartedAt %q (present %v), want %q", got, ok, before)
		}
		checkEntry(t, "state", w.entry("local", "prod", "web", "web"), &Entry{Outcome: StateUndone, Undone: dig(1)})
	}
}

// TestRunProgressDeadlineUndoes: a Deployment past its progress deadline
// is undone at once, as kubectl rollout status fails at once.
func TestRunProgressDeadlineUndoes(t *testing.T) {
	w := newWorld(t)
	w.add(deployment("prod", "web", ctr("web", img+":v1")))
	w.ctl("local", "prod", "web").mode = "deadline"
	res := w.run(context.Background(), service("web", img, setImage("prod", "prod")), "prod", push(img, 1, "v2", 100))
	checkResult(t, "push", res, "undone/3", `deployment "web" exceeded its progress deadline`)
	w.checkActions("local", "get deployments prod/web", "update deployments prod/web", "get deployments prod/web ×2", "update deployments prod/web")
	if got := w.image("local", "prod", "web", "web"); got != img+":v1" {
		t.Errorf("image %s, want %s back", got, img+":v1")
	}
}

// TestRunUndoLeavesOthersChanges: when someone else changed the container
// after the step did, the step does not undo: not at the deadline, and it
// stops waiting when it sees the change earlier.
func TestRunUndoLeavesOthersChanges(t *testing.T) {
	for _, tc := range []struct {
		name   string
		at     int // the get that sees the other change
		want   string
		reason string
	}{
		{"at the deadline", 7, "failed/2", "was changed by someone else since, so it is not undone"},
		{"while waiting", 3, "failed/2", "was changed by someone else while rolling out"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.add(deployment("prod", "web", ctr("web", img+":v1")))
			c := w.ctl("local", "prod", "web")
			c.mode = "never"
			c.onGet = func(n int, d *appsv1.Deployment) {
				if n == tc.at {
					findContainer(d, "web").Image = ref(img, 9)
				}
			}
			w.opts = func(o *Options) { o.Poll = time.Minute }
			checkResult(t, tc.name, w.run(context.Background(), service("web", img, setImage("prod", "prod")), "prod", push(img, 1, "v2", 100)), tc.want, tc.reason)
			if got := w.image("local", "prod", "web", "web"); got != ref(img, 9) {
				t.Errorf("image %s, want the other change %s kept", got, ref(img, 9))
			}
			if c.updates != 1 {
				t.Errorf("%d updates, want only the step's own", c.updates)
			}
		})
	}
}

// TestRunHealthyAtTheDeadlineIsKept: reads fail ("watch closed") until the
// deadline while the rollout completes; the read at the deadline decides
// from the real status, so the healthy rollout is recorded, not undone.
func TestRunHealthyAtTheDeadlineIsKept(t *testing.T) {
	w := newWorld(t)
	w.add(deployment("prod", "web", ctr("web", img+":v1")))
	c := w.ctl("local", "prod", "web")
	c.delay = 0
	c.getErr = func(n int) error {
		if n >= 2 && n <= 6 {
			return errors.New("watch closed before UntilWithoutRetry timeout")
		}
		return nil
	}
	w.opts = func(o *Options) { o.Poll = time.Minute }
	res := w.run(context.Background(), service("web", img, setImage("prod", "prod")), "prod", push(img, 1, "v2", 100))
	checkResult(t, "push", res, "rolled/0", "rolled out")
	w.checkActions("local", "get deployments prod/web", "update deployments prod/web", "get deployments prod/web ×6", "update deployments prod/web")
	if got := w.image("local", "prod", "web", "web"); got != ref(img, 1) {
		t.Errorf("image %s, want %s kept", got, ref(img, 1))
	}
	checkEntry(t, "state", w.entry("local", "prod", "web", "web"), &Entry{Digest: dig(1), Tag: "v2", PublishedAt: 100, Outcome: StateHealthy, HealthyAt: "2025-06-02T10:05:00Z"})
	if n := strings.Count(w.log.String(), "watch closed"); n != 1 {
		t.Errorf("the read error is logged %d times, want once:\n%s", n, w.log.String())
	}
}

// TestRunInterrupted: a cancelled context before the update changes
// nothing (exit 1); during an update that applied, the change is undone
// with a context of its own, outcome interrupted (exit 1); during an
// update that did not apply, nothing is undone.
func TestRunInterrupted(t *testing.T) {
	t.Run("before the update", func(t *testing.T) {
		w := newWorld(t)
		w.add(deployment("prod", "web", ctr("web", img+":v1")))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		w.ctl("local", "prod", "web").onGet = func(int, *appsv1.Deployment) { cancel() }
		checkResult(t, "push", w.run(ctx, service("web", img, setImage("prod", "prod")), "prod", push(img, 1, "v2", 1)), "failed/1", "interrupted (context canceled) rolling deployment prod/web container web in cluster local; nothing was changed")
		w.checkActions("local", "get deployments prod/web")
	})
	for _, applied := range []bool{true, false} {
		name := map[bool]string{true: "during an update that applied", false: "during an update that did not apply"}[applied]
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			w.add(deployment("prod", "web", ctr("web", img+":v1")))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			w.ctl("local", "prod", "web").updateErr = func(n int, d *appsv1.Deployment) error {
				if n != 1 {
					return nil
				}
				cancel()
				if applied {
					d.Generation++
					if err := w.clusters["local"].Tracker().Update(deploymentsGVR, d, d.Namespace); err != nil {
						t.Fatal(err)
					}
				}
				return context.Canceled
			}
			res := w.run(ctx, service("web", img, setImage("prod", "prod")), "prod", push(img, 1, "v2", 1))
			if applied {
				checkResult(t, "push", res, "undone/1", "interrupted (context canceled) during the update")
				w.checkActions("local", "get deployments prod/web", "update deployments prod/web", "get deployments prod/web", "update deployments prod/web")
				checkEntry(t, "state", w.entry("local", "prod", "web", "web"), &Entry{Outcome: StateInterrupted, Undone: dig(1)})
			} else {
				checkResult(t, "push", res, "failed/1", "the update did not apply, nothing was changed")
				w.checkActions("local", "get deployments prod/web", "update deployments prod/web", "get deployments prod/web")
			}
			if got := w.image("local", "prod", "web", "web"); got != img+":v1" {
				t.Errorf("image %s, want %s", got, img+":v1")
			}
		})
	}
}

// TestRunAlready: a container that already runs the push is waited for
// and recorded healthy without touching the pod template; an entry that
// says so already is not written again; one that never gets healthy is
// not undone (the rollout is not the step's): exit 2.
func TestRunAlready(t *testing.T) {
	svc := service("web", img, setImage("prod", "prod"))
	t.Run("recorded", func(t *testing.T) {
		w := newWorld(t)
		w.add(deployment("prod", "web", ctr("web", ref(img, 1))))
		checkResult(t, "push", w.run(context.Background(), svc, "prod", push(img, 1, "v2", 100)), "already/0", "already runs "+dig(1))
		w.checkActions("local", "get deployments prod/web ×3", "update deployments prod/web")
		checkEntry(t, "state", w.entry("local", "prod", "web", "web"), &Entry{Digest: dig(1), Tag: "v2", PublishedAt: 100, Outcome: StateHealthy, HealthyAt: "2025-06-02T10:00:00Z"})
		if g := w.get("local", "prod", "web").Generation; g != 1 {
			t.Errorf("generation %d, want the template untouched", g)
		}
	})
	t.Run("a later re-push keeps healthyAt", func(t *testing.T) {
		w := newWorld(t)
		w.add(withState(deployment("prod", "web", ctr("web", ref(img, 1))), map[string]Entry{"web": {Digest: dig(1), Tag: "v2", PublishedAt: 100, Outcome: StateHealthy, HealthyAt: "2025-06-01T00:00:00Z"}}))
		checkResult(t, "push", w.run(context.Background(), svc, "prod", push(img, 1, "v2-again", 300)), "already/0", "")
		checkEntry(t, "state", w.entry("local", "prod", "web", "web"), &Entry{Digest: dig(1), Tag: "v2-again", PublishedAt: 300, Outcome: StateHealthy, HealthyAt: "2025-06-01T00:00:00Z"})
	})
	t.Run("nothing new to record", func(t *testing.T) {
		w := newWorld(t)
		w.add(withState(deployment("prod", "web", ctr("web", ref(img, 1))), map[string]Entry{"web": {Digest: dig(1), Tag: "v2", PublishedAt: 100, Outcome: StateHealthy, HealthyAt: "2025-06-01T00:00:00Z"}}))
		checkResult(t, "push", w.run(context.Background(), svc, "prod", push(img, 1, "v2", 100)), "already/0", "")
		w.checkActions("local", "get deployments prod/web ×3")
	})
	t.Run("never healthy", func(t *testing.T) {
		w := newWorld(t)
		d := deployment("prod", "web", ctr("web", ref(img, 1)))
		progressing(d)
		w.add(d)
		w.opts = func(o *Options) { o.Poll = time.Minute }
		checkResult(t, "push", w.run(context.Background(), svc, "prod", push(img, 1, "v2", 100)), "failed/2", "not undoing a rollout this step did not start")
		w.checkActions("local", "get deployments prod/web ×7")
	})
}

// TestRunLegacyState: a one-container Deployment without an entry is read
// from the legacy pod-template annotations; a roll drops them and an undo
// puts them back; with two containers they are ignored.
func TestRunLegacyState(t *testing.T) {
	legacy := func(d *appsv1.Deployment) *appsv1.Deployment {
		return withTemplateAnnotations(d, AnnotationLegacyDigest, ref(img, 2), AnnotationLegacyPublishedAt, "500")
	}
	svc := service("web", img, setImage("prod", "prod"))
	t.Run("older push skipped", func(t *testing.T) {
		w := newWorld(t)
		w.add(legacy(deployment("prod", "web", ctr("web", ref(img, 2)))))
		checkResult(t, "push", w.run(context.Background(), svc, "prod", push(img, 1, "v2", 300)), "skipped/0", "target prod already has a newer push ("+dig(2)+", published 1970-01-01T00:00:00.0000005Z)")
	})
	t.Run("newer push drops them", func(t *testing.T) {
		w := newWorld(t)
		w.add(legacy(deployment("prod", "web", ctr("web", ref(img, 2)))))
		checkResult(t, "push", w.run(context.Background(), svc, "prod", push(img, 1, "v2", 700)), "rolled/0", "")
		if a := w.get("local", "prod", "web").Spec.Template.Annotations; len(a) != 0 {
			t.Errorf("pod template annotations %v, want the legacy ones dropped", a)
		}
	})
	t.Run("undo puts them back", func(t *testing.T) {
		w := newWorld(t)
		w.add(legacy(deployment("prod", "web", ctr("web", ref(img, 2)))))
		w.ctl("local", "prod", "web").mode = "never"
		w.opts = func(o *Options) { o.Poll = time.Minute }
		checkResult(t, "push", w.run(context.Background(), svc, "prod", push(img, 1, "v2", 700)), "undone/3", "")
		a := w.get("local", "prod", "web").Spec.Template.Annotations
		if a[AnnotationLegacyDigest] != ref(img, 2) || a[AnnotationLegacyPublishedAt] != "500" {
			t.Errorf("pod template annotations %v, want the legacy ones back", a)
		}
		checkEntry(t, "state", w.entry("local", "prod", "web", "web"), &Entry{Digest: dig(2), PublishedAt: 500, Outcome: StateUndone, Undone: dig(1)})
	})
	t.Run("two containers ignore them", func(t *testing.T) {
		w := newWorld(t)
		w.add(legacy(deployment("prod", "web", ctr("web", ref(img, 2)), ctr("proxy", proxy+":v1"))))
		checkResult(t, "push", w.run(context.Background(), svc, "prod", push(img, 1, "v2", 300)), "rolled/0", "")
	})
}

// TestRunRestartWarnsOfPullPolicy: restarting a container that may keep
// its cached image says so.
func TestRunRestartWarnsOfPullPolicy(t *testing.T) {
	w := newWorld(t)
	c := ctr("web", img+":stable")
	c.ImagePullPolicy = "IfNotPresent"
	w.add(deployment("prod", "web", c))
	checkResult(t, "push", w.run(context.Background(), service("web", img, restart("prod", "prod")), "prod", push(img, 1, "stable", 1)), "rolled/0", "")
	if !strings.Contains(w.log.String(), "warning: container web has imagePullPolicy IfNotPresent") {
		t.Errorf("no warning in the log:\n%s", w.log.String())
	}
}

// TestRunPlainFakeClock runs a step against k8s.io/utils' FakeClock as it
// is, stepped from another goroutine whenever the step waits: the step
// sleeps only on its Clock.
func TestRunPlainFakeClock(t *testing.T) {
	w := newWorld(t)
	w.add(deployment("prod", "web", ctr("web", img+":v1")))
	w.ctl("local", "prod", "web").delay = 3
	fc := testingclock.NewFakeClock(start)
	w.opts = func(o *Options) { o.Clock = fc }
	done := make(chan Result, 1)
	o := w.options(service("web", img, setImage("prod", "prod")), "prod", push(img, 1, "v2", 1))
	go func() { done <- Run(context.Background(), o) }()
	giveUp := time.After(10 * time.Second)
	for {
		select {
		case res := <-done:
			checkResult(t, "push", res, "rolled/0", "")
			if got := fc.Now(); !got.Equal(start.Add(6 * time.Second)) {
				t.Errorf("clock at %s, want three polls of 2s after %s", got, start)
			}
			return
		case <-giveUp:
			t.Fatal("the step did not finish")
		default:
		}
		if fc.HasWaiters() {
			fc.Step(2 * time.Second)
		} else {
			runtime.Gosched()
		}
	}
}
