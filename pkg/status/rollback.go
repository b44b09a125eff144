package status

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/rollout"
)

// Rollback is the release argodeploy rollback asks for: the target, the
// push to return to, and the publish time the target had recorded, which
// the step refuses to roll back over when a newer push arrives first.
type Rollback struct {
	Service, Target string
	// Push is the digest and tag to return to, as full references, with
	// the recorded publish time.
	Push rollout.Push
	// Digest and Tag are Push's, bare.
	Digest, Tag string
	// From is the digest (bare) the target runs now.
	From, FromTag string
	// Already says the target's container already runs Push's digest.
	Already bool
}

var bareDigest = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// PlanRollback reads target's Deployment and returns the rollback of it:
// to the digest it ran before (to empty, its recorded Previous), or to
// the digest to ("sha256:…" or "<image>@sha256:…"), tagged tag or, when
// tag is empty, by the tag the target's state records for that digest.
func PlanRollback(ctx context.Context, clusters rollout.Clusters, m *mapping.ServiceMapping, target, to, tag string) (*Rollback, error) {
	svc, t := findTarget(m, target)
	if t == nil {
		return nil, fmt.Errorf("the mapping has no target %q", target)
	}
	if t.Strategy != mapping.StrategySetImage {
		return nil, fmt.Errorf("target %s has strategy %s: it runs a tag, which a rollback cannot pin; push the old digest under that tag instead", t.Name, t.Strategy)
	}
	_, image, e, err := readContainer(ctx, clusters, t)
	if err != nil {
		return nil, fmt.Errorf("reading target %s (cluster %s): %w", t.Name, t.ClusterName(), err)
	}
	if e == nil || e.Digest == "" {
		return nil, fmt.Errorf("target %s has no recorded push (annotation %s of deployment %s/%s): nothing to roll back from", t.Name, rollout.AnnotationState, t.Namespace, t.Deployment)
	}
	digest := strings.TrimPrefix(to, svc.Image+"@")
	switch {
	case to == "":
		if e.Previous.Digest == "" {
			return nil, fmt.Errorf("target %s records no digest it ran before %s: name one with --to", t.Name, e.Digest)
		}
		digest = e.Previous.Digest
	case !bareDigest.MatchString(digest):
		return nil, fmt.Errorf("--to %q is not a digest of %s: want sha256:<64 hex digits> or %s@sha256:<64 hex digits>", to, svc.Image, svc.Image)
	}
	if tag == "" {
		switch digest {
		case e.Previous.Digest:
			tag = e.Previous.Tag
		case e.Digest:
			tag = e.Tag
		}
	}
	if tag == "" {
		return nil, fmt.Errorf("target %s's state records no tag for %s: name it with --tag", t.Name, digest)
	}
	r := &Rollback{
		Service: svc.Name,
		Target:  t.Name,
		Digest:  digest,
		Tag:     tag,
		Push:    rollout.Push{Digest: svc.Image + "@" + digest, Tag: svc.Image + ":" + tag, PublishedAt: max(e.PublishedAt, 1)},
		From:    e.Digest,
		FromTag: e.Tag,
		Already: image == svc.Image+"@"+digest,
	}
	if err := rollout.CheckRollback(svc, t, r.Push); err != nil {
		return nil, err
	}
	return r, nil
}

// findTarget finds a target of the mapping by name, and its service.
func findTarget(m *mapping.ServiceMapping, name string) (*mapping.Service, *mapping.Target) {
	for i := range m.Spec.Services {
		svc := &m.Spec.Services[i]
		if t := svc.Target(name); t != nil {
			return svc, t
		}
	}
	return nil, nil
}
