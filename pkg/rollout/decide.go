package rollout

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/argodeploy/argodeploy/pkg/mapping"
)

// Action is what Decide says to do with a push.
type Action string

// Actions of a Decision.
const (
	// Roll changes the Deployment.
	Roll Action = "roll"
	// Already: the container already runs the push; wait for it to be healthy.
	Already Action = "already"
	// Skip leaves the target alone: the push is not for it, or older.
	Skip Action = "skip"
	// Refuse is a permanent error: the push or the mapping is wrong.
	Refuse Action = "refuse"
)

// Decision is Decide's answer.
type Decision struct {
	Action Action
	// Reason says why, in words for the log.
	Reason string
	// Version is the pushed tag's semantic version under policy semver.
	Version string
}

// Admit decides what can be decided from the push alone: whether it is a
// well-formed push of the service's image, and whether target t takes its
// tag (tagPattern, and under policy semver the version and semverRange).
// It answers Roll when nothing stands against the push.
func Admit(svc *mapping.Service, t *mapping.Target, p Push) Decision {
	_, tag, err := p.Check(svc.Image)
	if err != nil {
		return Decision{Action: Refuse, Reason: err.Error()}
	}
	if t.Strategy != mapping.StrategyRestart && t.Strategy != mapping.StrategySetImage {
		return Decision{Action: Refuse, Reason: fmt.Sprintf("target %s has unknown strategy %q", t.Name, t.Strategy)}
	}
	if t.Policy != mapping.PolicyPublishTime && t.Policy != mapping.PolicySemver {
		return Decision{Action: Refuse, Reason: fmt.Sprintf("target %s has unknown policy %q", t.Name, t.Policy)}
	}
	pattern := t.TagPattern
	if pattern == "" {
		pattern = mapping.DefaultTagPattern
	}
	re, err := tagRegexp(pattern)
	if err != nil {
		return Decision{Action: Refuse, Reason: fmt.Sprintf("target %s: tagPattern %q: %v", t.Name, pattern, err)}
	}
	if !re.MatchString(tag) {
		return Decision{Action: Skip, Reason: fmt.Sprintf("tag %s does not match target %s's tagPattern %s", tag, t.Name, pattern)}
	}
	if t.Policy != mapping.PolicySemver {
		return Decision{Action: Roll}
	}
	v, ok := TagVersion(tag)
	if !ok {
		return Decision{Action: Skip, Reason: fmt.Sprintf("tag %s is not a semantic version; target %s uses policy semver", tag, t.Name)}
	}
	if t.SemverRange != "" {
		c, err := semver.NewConstraint(t.SemverRange)
		if err != nil {
			return Decision{Action: Refuse, Reason: fmt.Sprintf("target %s: semverRange %q: %v", t.Name, t.SemverRange, err)}
		}
		if !c.Check(v) {
			return Decision{Action: Skip, Reason: fmt.Sprintf("version %s is outside target %s's semverRange %s", v, t.Name, t.SemverRange)}
		}
	}
	return Decision{Action: Roll, Version: v.String()}
}

// tagRegexps holds the compiled tag patterns: reconcile asks Admit about
// every tag of every image each pass.
var tagRegexps sync.Map // pattern → *regexp.Regexp or error

// tagRegexp compiles pattern anchored at both ends, once.
func tagRegexp(pattern string) (*regexp.Regexp, error) {
	if v, ok := tagRegexps.Load(pattern); ok {
		if re, ok := v.(*regexp.Regexp); ok {
			return re, nil
		}
		return nil, v.(error)
	}
	re, err := regexp.Compile(`^(?:` + pattern + `)$`)
	if err != nil {
		tagRegexps.Store(pattern, err)
		return nil, err
	}
	tagRegexps.Store(pattern, re)
	return re, nil
}

// TagVersion parses a tag as a semantic version, a leading v allowed.
func TagVersion(tag string) (*semver.Version, bool) {
	v, err := semver.StrictNewVersion(strings.TrimPrefix(tag, "v"))
	return v, err == nil
}

// Decide is the release policy: what to do with push p for target t of
// svc, whose container runs image and last received prev (nil when
// nothing is recorded). It reads nothing but its arguments.
func Decide(svc *mapping.Service, t *mapping.Target, image string, prev *Entry, p Push) Decision {
	d := Admit(svc, t, p)
	if d.Action != Roll {
		return d
	}
	digest, tag, _ := p.Check(svc.Image)
	if prev != nil && prev.RolledBack == digest {
		return Decision{Action: Skip, Reason: fmt.Sprintf("target %s was rolled back from %s; only a newer push or another rollback moves it", t.Name, digest)}
	}
	switch t.Strategy {
	case mapping.StrategySetImage:
		if image == p.Digest {
			return Decision{Action: Already, Reason: fmt.Sprintf("container %s already runs %s", t.Container, p.Digest), Version: d.Version}
		}
	case mapping.StrategyRestart:
		ref := parseImage(image)
		if ref.repo != svc.Image {
			return Decision{Action: Refuse, Reason: fmt.Sprintf("container %s runs %s, not an image of %s", t.Container, image, svc.Image)}
		}
		if ref.digest != "" {
			return Decision{Action: Refuse, Reason: fmt.Sprintf("container %s pins digest %s, which a restart cannot move: use strategy set-image", t.Container, ref.digest)}
		}
		if ref.tag != tag {
			return Decision{Action: Skip, Reason: fmt.Sprintf("container %s references :%s; %s does not move it", t.Container, ref.tag, tag)}
		}
		if prev != nil && prev.Digest == digest && prev.Tag == tag {
			return Decision{Action: Already, Reason: fmt.Sprintf("container %s was already restarted for %s at %s", t.Container, tag, digest), Version: d.Version}
		}
	}
	if prev == nil {
		return d
	}
	if t.Policy == mapping.PolicySemver {
		if prev.Version == "" {
			return d
		}
		was, err := semver.StrictNewVersion(prev.Version)
		if err != nil {
			return Decision{Action: Refuse, Reason: fmt.Sprintf("container %s's recorded version %q is not a semantic version", t.Container, prev.Version)}
		}
		pushed, _ := semver.StrictNewVersion(d.Version)
		switch pushed.Compare(was) {
		case -1:
			return Decision{Action: Skip, Reason: fmt.Sprintf("target %s never moves to a lower version: runs %s, pushed %s", t.Name, was, pushed)}
		case 1:
			return d
		}
	}
	if prev.PublishedAt > p.PublishedAt {
		return Decision{Action: Skip, Reason: fmt.Sprintf("target %s already has a newer push (%s, published %s); %s was published %s",
			t.Name, describe(prev.Tag, prev.Digest), publishTime(prev.PublishedAt), tag, publishTime(p.PublishedAt))}
	}
	return d
}

// describe names a push by tag and digest for the log.
func describe(tag, digest string) string {
	if tag == "" {
		return digest
	}
	return tag + " at " + digest
}

// publishTime prints Unix nanoseconds as an RFC 3339 time.
func publishTime(ns int64) string {
	return time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
}

// imageRef is a container image reference, repo[:tag][@digest].
type imageRef struct {
	repo, tag, digest string
}

// parseImage splits a container image reference; a reference without tag
// or digest references latest.
func parseImage(image string) imageRef {
	var r imageRef
	if i := strings.IndexByte(image, '@'); i >= 0 {
		image, r.digest = image[:i], image[i+1:]
	}
	if i := strings.LastIndexByte(image, ':'); i > strings.LastIndexByte(image, '/') {
		image, r.tag = image[:i], image[i+1:]
	}
	r.repo = image
	if r.tag == "" && r.digest == "" {
		r.tag = "latest"
	}
	return r
}

// CheckRollback says why push p cannot be a rollback of target t of svc:
// it is not a well-formed push of the service's image, or t's strategy
// cannot pin a digest.
func CheckRollback(svc *mapping.Service, t *mapping.Target, p Push) error {
	if _, _, err := p.Check(svc.Image); err != nil {
		return err
	}
	if t.Strategy != mapping.StrategySetImage {
		return fmt.Errorf("target %s has strategy %s: it runs a tag, which a rollback cannot pin; push the old digest under that tag instead", t.Name, t.Strategy)
	}
	return nil
}

// decideRollback is Decide for a rollback of target t to push p (tagged
// tag), whose container runs image and last received prev: it rolls
// whatever the order or version, unless the container already runs the
// digest or a push published after p's publish time (the one the target
// had when the rollback was asked) has reached it since.
func decideRollback(t *mapping.Target, image string, prev *Entry, p Push, tag string) Decision {
	var version string
	if v, ok := TagVersion(tag); ok && t.Policy == mapping.PolicySemver {
		version = v.String()
	}
	if image == p.Digest {
		return Decision{Action: Already, Reason: fmt.Sprintf("container %s already runs %s", t.Container, p.Digest), Version: version}
	}
	if prev != nil && prev.PublishedAt > p.PublishedAt {
		return Decision{Action: Skip, Reason: fmt.Sprintf("target %s received a newer push (%s, published %s) after the rollback was asked; not rolling it back",
			t.Name, describe(prev.Tag, prev.Digest), publishTime(prev.PublishedAt))}
	}
	return Decision{Action: Roll, Version: version}
}
