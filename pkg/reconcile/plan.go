// Package reconcile finds the pushes the targets of a mapping have missed,
// for the reconcile loop that backs up the event-driven pipeline: it
// compares the newest push in the registry that each target takes with
// what the target last received, and says which pushes to release again.
// A release goes through the pipeline's own WorkflowTemplate, so the same
// route step, locks and policies decide; reconcile only never asks for a
// push older than what a target has.
package reconcile

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/rollout"
)

// Pushed is one tagged manifest of an image in the registry.
type Pushed struct {
	Digest string // sha256:<hex>
	Tags   []string
	// Uploaded is when the registry received it; zero when the registry
	// does not say.
	Uploaded time.Time
}

// Observed is what a target runs: the state its Deployment records for
// its container (nil when none), and the image its container references.
// Missing is set when the Deployment or container does not exist.
type Observed struct {
	State   *rollout.Entry
	Image   string
	Missing bool
}

// Release is a push to create a release Workflow for: the digest and tag
// references and the publish time the Workflow gets, and the targets that
// are behind on it.
type Release struct {
	Digest      string   `json:"digest"`
	Tag         string   `json:"tag"`
	PublishedAt int64    `json:"publishedAt"`
	Targets     []string `json:"targets"`
}

// Note says why a target needs nothing, or cannot be helped.
type Note struct {
	Target string `json:"target"`
	Text   string `json:"text"`
}

// Plan compares, for each target of svc, the newest push among pushed that
// the target takes (its tagPattern, policy and semverRange: rollout.Admit;
// by upload time under publish-time, by version under semver; a restart
// target only takes the tag its container references) with what observed
// says it runs, and returns the releases that bring the behind targets up
// to date, in order of publish time, and a note for each other target.
// It never asks for a push older than what a target recorded, nor again
// for a push a target undid.
func Plan(svc *mapping.Service, pushed []Pushed, observed map[string]Observed) ([]Release, []Note) {
	var releases []Release
	var notes []Note
	note := func(t *mapping.Target, format string, args ...any) {
		notes = append(notes, Note{Target: t.Name, Text: fmt.Sprintf(format, args...)})
	}
	for i := range svc.Targets {
		t := &svc.Targets[i]
		obs := observed[t.Name]
		if obs.Missing {
			note(t, "deployment %s/%s container %s not found", t.Namespace, t.Deployment, t.Container)
			continue
		}
		want, tag, ok := newest(svc, t, pushed, obs.Image)
		if !ok {
			note(t, "no push in the registry that the target takes")
			continue
		}
		if want.Uploaded.IsZero() {
			note(t, "the registry gives no upload time for %s, so its order is not known", want.Digest)
			continue
		}
		digest := svc.Image + "@" + want.Digest
		if reason, behind := isBehind(svc, t, obs, want, tag); !behind {
			note(t, "%s", reason)
			continue
		}
		ref, at := svc.Image+":"+tag, publishedAt(want)
		j := slices.IndexFunc(releases, func(r Release) bool { return r.Digest == digest && r.Tag == ref })
		if j < 0 {
			releases = append(releases, Release{Digest: digest, Tag: ref, PublishedAt: at})
			j = len(releases) - 1
		}
		releases[j].Targets = append(releases[j].Targets, t.Name)
	}
	slices.SortStableFunc(releases, func(a, b Release) int { return cmp.Compare(a.PublishedAt, b.PublishedAt) })
	return releases, notes
}

// newest is the push and tag that target t takes last: of the tags it
// takes, the newest upload (publish-time) or the highest version (semver).
// A restart target takes only the tag image, its container's reference,
// names.
func newest(svc *mapping.Service, t *mapping.Target, pushed []Pushed, image string) (Pushed, string, bool) {
	referenced := ""
	if t.Strategy == mapping.StrategyRestart {
		var ok bool
		if referenced, ok = strings.CutPrefix(image, svc.Image+":"); !ok {
			return Pushed{}, "", false // pinned by digest or another image: the step refuses it
		}
	}
	var best Pushed
	bestTag, found := "", false
	for _, p := range pushed {
		for _, tag := range p.Tags {
			if referenced != "" && tag != referenced {
				continue
			}
			push := rollout.Push{Digest: svc.Image + "@" + p.Digest, Tag: svc.Image + ":" + tag, PublishedAt: max(publishedAt(p), 1)}
			if rollout.Admit(svc, t, push).Action != rollout.Roll {
				continue
			}
			if !found || later(t, p, tag, best, bestTag) {
				best, bestTag, found = p, tag, true
			}
		}
	}
	return best, bestTag, found
}

// later reports whether push a tagged ta comes after b tagged tb under
// t's policy; ties go to the greater digest, so that the answer does not
// depend on the registry's order.
func later(t *mapping.Target, a Pushed, ta string, b Pushed, tb string) bool {
	if t.Policy == mapping.PolicySemver {
		va, _ := rollout.TagVersion(ta)
		vb, _ := rollout.TagVersion(tb)
		if c := va.Compare(vb); c != 0 {
			return c > 0
		}
	}
	if c := a.Uploaded.Compare(b.Uploaded); c != 0 {
		return c > 0
	}
	return a.Digest+ta > b.Digest+tb
}

// isBehind says whether target t, which runs obs, lacks push want (tagged
// tag), and why not when it does not.
func isBehind(svc *mapping.Service, t *mapping.Target, obs Observed, want Pushed, tag string) (string, bool) {
	s := obs.State
	if s != nil && s.Outcome == rollout.StateUndone && s.Undone == want.Digest {
		// The step took want back and returned to s.Digest.
		return fmt.Sprintf("undid %s and returned to %s; reconcile does not retry it", want.Digest, orNothing(s.Digest)), false
	}
	if s != nil && s.RolledBack == want.Digest {
		return fmt.Sprintf("was rolled back from %s to %s; reconcile does not release it again", want.Digest, orNothing(s.Digest)), false
	}
	if s == nil || s.Digest == "" {
		if t.Strategy == mapping.StrategyRestart {
			return fmt.Sprintf("no state recorded: a restart target's running digest is not known, so reconcile leaves it to the next event (newest %s is %s)", tag, want.Digest), false
		}
		if d, ok := strings.CutPrefix(obs.Image, svc.Image+"@"); ok && d == want.Digest {
			return "runs " + want.Digest, false
		}
		if obs.Image == svc.Image+":"+tag {
			return fmt.Sprintf("references %s, which is %s in the registry", tag, want.Digest), false
		}
		return "", true
	}
	switch {
	case s.Digest == want.Digest && (s.Outcome == rollout.StateRolling || s.Outcome == rollout.StateInterrupted):
		return "", true // the step repairs an interrupted rollout
	case s.Digest == want.Digest:
		return "has " + want.Digest, false
	case t.Policy == mapping.PolicySemver && s.Version != "":
		have, _ := rollout.TagVersion(s.Version)
		got, _ := rollout.TagVersion(tag)
		if have != nil && got != nil && !got.GreaterThan(have) {
			return fmt.Sprintf("has version %s, not lower than %s", s.Version, tag), false
		}
	case s.PublishedAt >= publishedAt(want):
		return fmt.Sprintf("has %s, published after the newest push it takes (%s)", s.Digest, want.Digest), false
	}
	return "", true
}

// publishedAt is the publish time a release of p carries: its upload time
// in Unix nanoseconds, 0 when unknown.
func publishedAt(p Pushed) int64 {
	if p.Uploaded.IsZero() {
		return 0
	}
	return p.Uploaded.UnixNano()
}

// orNothing names a recorded digest, or says there was none.
func orNothing(digest string) string {
	if digest == "" {
		return "what it ran before"
	}
	return digest
}
