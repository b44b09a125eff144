package reconcile

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/rollout"
)

const image = "europe-docker.pkg.dev/acme/apps/web"

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func dig(n int) string { return fmt.Sprintf("sha256:%064x", n) }

// at is the n-th minute after t0.
func at(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }

func target(name, strategy, pattern, policy string) mapping.Target {
	return mapping.Target{Name: name, Namespace: name, Deployment: "web", Container: "web", Strategy: strategy, TagPattern: pattern, Policy: policy}
}

func state(n int, tag string, published time.Time, outcome string) Observed {
	e := &rollout.Entry{Digest: dig(n), Tag: tag, PublishedAt: published.UnixNano(), Outcome: outcome}
	if v, ok := rollout.TagVersion(tag); ok {
		e.Version = v.String()
	}
	return Observed{State: e, Image: image + "@" + dig(n)}
}

// undone marks o's entry as the rollout step leaves it after taking push
// n back.
func undone(o Observed, n int) Observed {
	o.State.Undone = dig(n)
	return o
}

// rolledBack marks o's entry as argodeploy rollback leaves it after taking
// push n back.
func rolledBack(o Observed, n int) Observed {
	o.State.RolledBack = dig(n)
	return o
}

func TestPlan(t *testing.T) {
	setImage := target("prod", mapping.StrategySetImage, mapping.DefaultTagPattern, mapping.PolicyPublishTime)
	restart := target("prod", mapping.StrategyRestart, mapping.DefaultTagPattern, mapping.PolicyPublishTime)
	semver := target("prod", mapping.StrategySetImage, `v.*`, mapping.PolicySemver)
	staging := target("staging", mapping.StrategySetImage, `main-.*`, mapping.PolicyPublishTime)
	releases := target("prod", mapping.StrategySetImage, `v.*`, mapping.PolicyPublishTime)
	release := func(n int, tag string, when time.Time, targets ...string) Release {
		return Release{Digest: image + "@" + dig(n), Tag: image + ":" + tag, PublishedAt: when.UnixNano(), Targets: targets}
	}
	for _, c := range []struct {
		name     string
		targets  []mapping.Target
		pushed   []Pushed
		observed map[string]Observed
		want     []Release
		notes    int
	}{
		{"a missed push is released again", []mapping.Target{setImage},
			[]Pushed{{dig(1), []string{"a"}, at(1)}, {dig(2), []string{"b"}, at(2)}},
			map[string]Observed{"prod": state(1, "a", at(1), rollout.StateHealthy)},
			[]Release{release(2, "b", at(2), "prod")}, 0},
		{"a target that has the newest push costs nothing", []mapping.Target{setImage},
			[]Pushed{{dig(1), []string{"a"}, at(1)}, {dig(2), []string{"b"}, at(2)}},
			map[string]Observed{"prod": state(2, "b", at(2).Add(time.Second), rollout.StateHealthy)},
			nil, 1},
		{"never backwards: the target has a push the registry lists as older", []mapping.Target{setImage},
			[]Pushed{{dig(1), []string{"a"}, at(1)}},
			map[string]Observed{"prod": state(9, "x", at(5), rollout.StateHealthy)},
			nil, 1},
		{"semver: a hotfix uploaded later does not beat a higher version", []mapping.Target{semver},
			[]Pushed{{dig(1), []string{"v1.3.0"}, at(1)}, {dig(2), []string{"v1.2.1"}, at(2)}},
			map[string]Observed{"prod": state(1, "v1.3.0", at(1), rollout.StateHealthy)},
			nil, 1},
		{"semver: a missed higher version is released", []mapping.Target{semver},
			[]Pushed{{dig(1), []string{"v1.3.0"}, at(1)}, {dig(2), []string{"v1.4.0"}, at(2)}, {dig(3), []string{"v1.3.9"}, at(3)}},
			map[string]Observed{"prod": state(1, "v1.3.0", at(1), rollout.StateHealthy)},
			[]Release{release(2, "v1.4.0", at(2), "prod")}, 0},
		{"restart: only the tag the container references, when it moved", []mapping.Target{restart},
			[]Pushed{{dig(1), []string{"pr-7"}, at(3)}, {dig(2), []string{"latest", "v2"}, at(2)}},
			map[string]Observed{"prod": {State: &rollout.Entry{Digest: dig(5), Tag: "latest", PublishedAt: at(1).UnixNano(), Outcome: rollout.StateHealthy}, Image: image + ":latest"}},
			[]Release{release(2, "latest", at(2), "prod")}, 0},
		{"restart without state is left to the next event", []mapping.Target{restart},
			[]Pushed{{dig(2), []string{"latest"}, at(2)}},
			map[string]Observed{"prod": {Image: image + ":latest"}},
			nil, 1},
		{"set-image without state, pinned to another digest", []mapping.Target{setImage},
			[]Pushed{{dig(2), []string{"b"}, at(2)}},
			map[string]Observed{"prod": {Image: image + "@" + dig(1)}},
			[]Release{release(2, "b", at(2), "prod")}, 0},
		{"set-image without state, referencing the newest tag", []mapping.Target{setImage},
			[]Pushed{{dig(2), []string{"b"}, at(2)}},
			map[string]Observed{"prod": {Image: image + ":b"}},
			nil, 1},
		// The step writes the entry it returned to, with the digest it took
		// back in Undone.
		{"an undone push is not retried", []mapping.Target{setImage},
			[]Pushed{{dig(1), []string{"a"}, at(1)}, {dig(2), []string{"b"}, at(2)}},
			map[string]Observed{"prod": undone(state(1, "a", at(1), rollout.StateUndone), 2)},
			nil, 1},
		{"an undone first push is not retried", []mapping.Target{setImage},
			[]Pushed{{dig(2), []string{"b"}, at(2)}},
			map[string]Observed{"prod": undone(Observed{State: &rollout.Entry{Outcome: rollout.StateUndone}, Image: image + ":a"}, 2)},
			nil, 1},
		{"a push newer than the undone one is released", []mapping.Target{setImage},
			[]Pushed{{dig(1), []string{"a"}, at(1)}, {dig(2), []string{"b"}, at(2)}, {dig(3), []string{"c"}, at(3)}},
			map[string]Observed{"prod": undone(state(1, "a", at(1), rollout.StateUndone), 2)},
			[]Release{release(3, "c", at(3), "prod")}, 0},
		{"a push rolled back from is not released again", []mapping.Target{semver},
			[]Pushed{{dig(1), []string{"v1.2.0"}, at(1)}, {dig(2), []string{"v1.3.0"}, at(2)}},
			map[string]Observed{"prod": rolledBack(state(1, "v1.2.0", at(2), rollout.StateHealthy), 2)},
			nil, 1},
		{"a push newer than the one rolled back from is released", []mapping.Target{semver},
			[]Pushed{{dig(1), []string{"v1.2.0"}, at(1)}, {dig(2), []string{"v1.3.0"}, at(2)}, {dig(3), []string{"v1.3.1"}, at(3)}},
			map[string]Observed{"prod": rolledBack(state(1, "v1.2.0", at(2), rollout.StateHealthy), 2)},
			[]Release{release(3, "v1.3.1", at(3), "prod")}, 0},
		{"an interrupted rollout is released again for the step to repair", []mapping.Target{setImage},
			[]Pushed{{dig(2), []string{"b"}, at(2)}},
			map[string]Observed{"prod": state(2, "b", at(2), rollout.StateInterrupted)},
			[]Release{release(2, "b", at(2), "prod")}, 0},
		{"each target its own newest push, in publish order", []mapping.Target{staging, releases},
			[]Pushed{{dig(1), []string{"v1.0.0"}, at(1)}, {dig(2), []string{"main-abc"}, at(2)}, {dig(3), []string{"main-def"}, at(3)}},
			map[string]Observed{"staging": state(2, "main-abc", at(2), rollout.StateHealthy), "prod": {Image: image + ":v0.9.0"}},
			[]Release{release(1, "v1.0.0", at(1), "prod"), release(3, "main-def", at(3), "staging")}, 0},
		{"two targets behind on one push share a release", []mapping.Target{staging, {Name: "canary", Namespace: "canary", Deployment: "web", Container: "web", Strategy: mapping.StrategySetImage, TagPattern: `main-.*`, Policy: mapping.PolicyPublishTime}},
			[]Pushed{{dig(3), []string{"main-def"}, at(3)}},
			map[string]Observed{"staging": state(2, "main-abc", at(2), rollout.StateHealthy), "canary": state(2, "main-abc", at(2), rollout.StateHealthy)},
			[]Release{release(3, "main-def", at(3), "staging", "canary")}, 0},
		{"a missing Deployment is noted", []mapping.Target{setImage},
			[]Pushed{{dig(2), []string{"b"}, at(2)}},
			map[string]Observed{"prod": {Missing: true}},
			nil, 1},
		{"no upload time, no order", []mapping.Target{setImage},
			[]Pushed{{Digest: dig(2), Tags: []string{"b"}}},
			map[string]Observed{"prod": state(1, "a", at(1), rollout.StateHealthy)},
			nil, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			svc := mapping.Service{Name: "web", Image: image, Targets: c.targets}
			got, notes := Plan(&svc, c.pushed, c.observed)
			if !reflect.DeepEqual(got, c.want) || len(notes) != c.notes {
				t.Errorf("Plan = %+v, notes %+v; want %+v and %d notes", got, notes, c.want, c.notes)
			}
		})
	}
}

// BenchmarkPlan: one target against an image with 1,000 tagged pushes,
// as a pass meets a busy repository.
func BenchmarkPlan(b *testing.B) {
	svc := mapping.Service{Name: "web", Image: image, Targets: []mapping.Target{target("prod", mapping.StrategySetImage, `v[0-9]+\.[0-9]+\.[0-9]+`, mapping.PolicySemver)}}
	var pushed []Pushed
	for i := range 1000 {
		pushed = append(pushed, Pushed{dig(i), []string{fmt.Sprintf("v1.%d.0", i), fmt.Sprintf("main-%d", i)}, at(i)})
	}
	observed := map[string]Observed{"prod": state(1, "v1.1.0", at(1), rollout.StateHealthy)}
	b.ReportAllocs()
	for b.Loop() {
		if releases, _ := Plan(&svc, pushed, observed); len(releases) != 1 {
			b.Fatalf("releases %+v", releases)
		}
	}
}
