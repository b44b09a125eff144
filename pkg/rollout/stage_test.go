package rollout

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/argodeploy/argodeploy/pkg/mapping"
)

// staged is service web with targets staging and prod, prod after
// staging with soak.
func staged(soak string) mapping.Service {
	prod := setImage("prod", "prod")
	prod.After, prod.Soak = "staging", soak
	return service("web", img, setImage("staging", "staging"), prod)
}

// stageWorld has staging/web and prod/web at img:v1, polled every minute.
func stageWorld(t *testing.T, staging *appsv1.Deployment) *world {
	w := newWorld(t)
	if staging == nil {
		staging = deployment("staging", "web", ctr("web", img+":v1"))
	}
	w.add(staging, deployment("prod", "web", ctr("web", img+":v1")))
	w.opts = func(o *Options) { o.Poll = time.Minute }
	return w
}

// updatedAt records when the first update of prod/web happened.
func updatedAt(w *world) *time.Time {
	var at time.Time
	w.ctl("local", "prod", "web").updateErr = func(n int, _ *appsv1.Deployment) error {
		if n == 1 {
			at = w.clock.Now()
		}
		return nil
	}
	return &at
}

// TestStageWaitsForSoak: prod receives a digest only once staging has run
// it healthily for the soak, counted from staging's recorded healthyAt;
// the wait runs on the clock (no real sleep).
func TestStageWaitsForSoak(t *testing.T) {
	w := stageWorld(t, nil)
	svc := staged("10m")
	at := updatedAt(w)
	w.step(svc, "staging", push(img, 1, "v2", 100), "rolled/0", "")
	healthyAt := w.entry("local", "staging", "web", "web").HealthyAt
	if healthyAt != "2025-06-02T10:01:01Z" {
		t.Fatalf("staging healthy at %s", healthyAt)
	}
	w.step(svc, "prod", push(img, 1, "v2", 100), "rolled/0", "")
	if want := start.Add(11*time.Minute + time.Second); !at.Equal(want) {
		t.Errorf("prod updated at %s, want at staging's healthyAt + soak, %s", at, want)
	}
	if got := w.image("local", "prod", "web", "web"); got != ref(img, 1) {
		t.Errorf("prod runs %s", got)
	}
	for _, want := range []string{
		"prod: waiting for target staging (deployment staging/web container web in cluster local) to run " + dig(1) + " healthily for 10m0s",
		"prod: staging runs " + dig(1) + " healthily since 2025-06-02T10:01:01Z; soaking until 2025-06-02T10:11:01Z",
		"prod: staging has run " + dig(1) + " healthily since 2025-06-02T10:01:01Z, for its soak of 10m0s",
	} {
		if !strings.Contains(w.log.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if n := strings.Count(w.log.String(), "soaking until"); n != 1 {
		t.Errorf("the soak is logged %d times, want once", n)
	}
}

// TestStageRules: what prod's step does with each state of staging.
func TestStageRules(t *testing.T) {
	long := start.Add(-time.Hour).Format(time.RFC3339)
	withEntry := func(e Entry) *appsv1.Deployment {
		return withState(deployment("staging", "web", ctr("web", img+":v1")), map[string]Entry{"web": e})
	}
	for _, tc := range []struct {
		name    string
		staging *appsv1.Deployment
		svc     func() mapping.Service
		stage   time.Duration // Options.StageTimeout
		want    string
		reason  string
	}{
		{name: "healthy for longer than the soak", staging: withEntry(Entry{Digest: dig(1), Outcome: StateHealthy, HealthyAt: long, PublishedAt: 100}), want: "rolled/0"},
		{name: "undone there", staging: withEntry(Entry{Digest: dig(2), PublishedAt: 50, Outcome: StateUndone, Undone: dig(1), HealthyAt: long}), want: "skipped/0", reason: "staging did not take " + dig(1) + ": it was undone there"},
		{name: "superseded there", staging: withEntry(Entry{Digest: dig(3), Tag: "v3", PublishedAt: 200, Outcome: StateHealthy, HealthyAt: long}), want: "skipped/0", reason: "superseded: staging now runs v3 at " + dig(3) + ", published after " + dig(1)},
		{name: "superseded by a rollout in progress", staging: withEntry(Entry{Digest: dig(3), Tag: "v3", PublishedAt: 200, Outcome: StateRolling}), want: "skipped/0", reason: "superseded"},
		{name: "an older digest there", staging: withEntry(Entry{Digest: dig(2), PublishedAt: 50, Outcome: StateHealthy, HealthyAt: long}), want: "failed/1", reason: "staging did not run " + dig(1) + " healthily for 10m0s within 15m0s"},
		{name: "nothing there", want: "failed/1", reason: "within 15m0s"},
		{name: "still rolling there", staging: withEntry(Entry{Digest: dig(1), PublishedAt: 100, Outcome: StateRolling}), want: "failed/1", reason: "within 15m0s"},
		{name: "unhealthy there", staging: func() *appsv1.Deployment {
			d := withEntry(Entry{Digest: dig(1), PublishedAt: 100, Outcome: StateHealthy, HealthyAt: long})
			progressing(d)
			return d
		}(), want: "failed/1", reason: "within 15m0s"},
		{name: "stage timeout", staging: withEntry(Entry{Digest: dig(1), PublishedAt: 100, Outcome: StateRolling}), stage: 2 * time.Minute, want: "failed/1", reason: "within 2m0s"},
		{name: "no container there", staging: deployment("staging", "web", ctr("app", img+":v1")), want: "failed/2", reason: "deployment staging/web of target staging has no container web"},
		{name: "unreadable healthyAt", staging: withEntry(Entry{Digest: dig(1), PublishedAt: 100, Outcome: StateHealthy, HealthyAt: "yesterday"}), want: "failed/2", reason: `recorded healthyAt "yesterday"`},
		{name: "a tag staging does not take", staging: withEntry(Entry{Digest: dig(1), Outcome: StateHealthy, HealthyAt: long, PublishedAt: 100}), svc: func() mapping.Service {
			s := staged("10m")
			s.Targets[0].TagPattern = "main-.+"
			return s
		}, want: "skipped/0", reason: "prod waits for staging, which does not take this push"},
		{name: "after an unknown target", svc: func() mapping.Service {
			s := staged("10m")
			s.Targets[1].After = "qa"
			return s
		}, want: "failed/2", reason: `target prod comes after "qa", which is not another target of service web`},
		{name: "after itself", svc: func() mapping.Service {
			s := staged("10m")
			s.Targets[1].After = "prod"
			return s
		}, want: "failed/2", reason: `comes after "prod"`},
		{name: "after a cycle", svc: func() mapping.Service {
			s := staged("10m")
			s.Targets[0].After = "prod"
			return s
		}, want: "failed/2", reason: `target staging comes after "prod", which is not another target of service web before it`},
		{name: "bad soak up the chain", svc: func() mapping.Service {
			s := staged("10m")
			s.Targets = append(s.Targets, setImage("qa", "qa"))
			s.Targets[0].After, s.Targets[0].Soak = "qa", "1 day"
			return s
		}, want: "failed/2", reason: `target staging: soak "1 day"`},
		{name: "chain timeout sums the links", staging: withEntry(Entry{Digest: dig(1), PublishedAt: 100, Outcome: StateRolling}), svc: func() mapping.Service {
			s := staged("10m")
			s.Targets = append(s.Targets, setImage("qa", "qa"))
			s.Targets[0].After, s.Targets[0].Soak = "qa", "20m"
			return s
		}, want: "failed/1", reason: "within 40m0s"},
		{name: "bad soak", svc: func() mapping.Service { return staged("ten minutes") }, want: "failed/2", reason: `soak "ten minutes" is not a non-negative Go duration`},
		{name: "negative soak", svc: func() mapping.Service { return staged("-1m") }, want: "failed/2", reason: "soak"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := stageWorld(t, tc.staging)
			if tc.stage > 0 {
				w.opts = func(o *Options) { o.Poll, o.StageTimeout = time.Minute, tc.stage }
			}
			svc := staged("10m")
			if tc.svc != nil {
				svc = tc.svc()
			}
			w.step(svc, "prod", push(img, 1, "v2", 100), tc.want, tc.reason)
			if c := w.ctl("local", "prod", "web"); (c.updates > 0) != (tc.want == "rolled/0") {
				t.Errorf("%d updates of prod", c.updates)
			}
		})
	}
}

// TestStageDeploymentMissing: a missing After Deployment is permanent.
func TestStageDeploymentMissing(t *testing.T) {
	w := newWorld(t)
	w.add(deployment("prod", "web", ctr("web", img+":v1")))
	w.step(staged("10m"), "prod", push(img, 1, "v2", 100), "failed/2", `deployments.apps "web" not found`)
}

// TestStageSoakRestartsWhenUnhealthy: staging seen unhealthy during the
// soak restarts it from when staging is seen healthy again.
func TestStageSoakRestartsWhenUnhealthy(t *testing.T) {
	w := stageWorld(t, withState(deployment("staging", "web", ctr("web", ref(img, 1))),
		map[string]Entry{"web": {Digest: dig(1), PublishedAt: 100, Outcome: StateHealthy, HealthyAt: start.Format(time.RFC3339)}}))
	w.ctl("local", "staging", "web").onGet = func(n int, d *appsv1.Deployment) {
		switch n {
		case 3:
			progressing(d) // at 10:02:01
		case 5:
			rolledOut(d) // at 10:04:01
		}
	}
	at := updatedAt(w)
	w.step(staged("10m"), "prod", push(img, 1, "v2", 100), "rolled/0", "")
	if want := start.Add(14*time.Minute + time.Second); !at.Equal(want) {
		t.Errorf("prod updated at %s, want 10m after staging was healthy again, %s", at, want)
	}
	if !strings.Contains(w.log.String(), "prod: staging runs "+dig(1)+" but is not healthy") {
		t.Errorf("log does not say staging was unhealthy:\n%s", w.log.String())
	}
}

// TestStageWaitsForAnInterruptedRetry: an interrupted rollout of the
// digest to staging is retried by its Workflow, so prod waits for it
// rather than skipping the digest.
func TestStageWaitsForAnInterruptedRetry(t *testing.T) {
	w := stageWorld(t, withState(deployment("staging", "web", ctr("web", ref(img, 2))),
		map[string]Entry{"web": {Digest: dig(2), PublishedAt: 50, Outcome: StateInterrupted, Undone: dig(1), HealthyAt: start.Add(-time.Hour).Format(time.RFC3339)}}))
	svc := staged("5m")
	w.clock.at(3*time.Minute, func() { w.step(svc, "staging", push(img, 1, "v2", 100), "rolled/0", "") })
	w.step(svc, "prod", push(img, 1, "v2", 100), "rolled/0", "")
	if !strings.Contains(w.log.String(), "prod: the rollout of "+dig(1)+" to staging was interrupted; waiting for its retry") {
		t.Errorf("log:\n%s", w.log.String())
	}
	if got := w.image("local", "prod", "web", "web"); got != ref(img, 1) {
		t.Errorf("prod runs %s", got)
	}
}

// TestStageAcrossClusters: the After target may live in another cluster;
// its Deployment is read there, the target's own in its cluster.
func TestStageAcrossClusters(t *testing.T) {
	w := newWorld(t)
	w.cluster("east", withState(deployment("staging", "web", ctr("web", ref(img, 1))),
		map[string]Entry{"web": {Digest: dig(1), PublishedAt: 100, Outcome: StateHealthy, HealthyAt: start.Add(-time.Hour).Format(time.RFC3339)}}))
	w.add(deployment("prod", "web", ctr("web", img+":v1")))
	svc := staged("10m")
	svc.Targets[0].Cluster = &mapping.Cluster{Name: "east", KubeconfigSecret: mapping.SecretKeyRef{Name: "east", Key: "config"}}
	w.step(svc, "prod", push(img, 1, "v2", 100), "rolled/0", "")
	w.checkActions("east", "get deployments staging/web")
	w.checkActions("local", "get deployments prod/web", "update deployments prod/web", "get deployments prod/web ×3", "update deployments prod/web")
}

// TestStageInterrupted: a step cancelled while it waits for its stage has
// changed nothing.
func TestStageInterrupted(t *testing.T) {
	w := stageWorld(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w.ctl("local", "staging", "web").onGet = func(n int, _ *appsv1.Deployment) {
		if n == 2 {
			cancel()
		}
	}
	res := w.run(ctx, staged("10m"), "prod", push(img, 1, "v2", 100))
	checkResult(t, "prod", res, "failed/1", "interrupted (context canceled) while waiting for staging; nothing was changed")
	w.checkActions("local", "get deployments staging/web ×2")
}
