package rollout

import (
	"fmt"
	"regexp"
	"strings"
)

// Push is one image push as the event reports it. Every field is event
// text: untrusted until Check has accepted it.
type Push struct {
	// Digest is "<image>@sha256:<64 lowercase hex>".
	Digest string
	// Tag is "<image>:<tag>".
	Tag string
	// PublishedAt is the publish time in Unix nanoseconds.
	PublishedAt int64
}

var (
	digestPattern = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	tagPattern    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
)

// Check returns the push's bare digest ("sha256:…") and tag, or why the
// push is not a push of image.
func (p Push) Check(image string) (digest, tag string, err error) {
	if image == "" {
		return "", "", fmt.Errorf("the service has no image")
	}
	digest, ok := strings.CutPrefix(p.Digest, image+"@")
	if !ok {
		return "", "", fmt.Errorf("digest %q is not an image of %s", p.Digest, image)
	}
	if !digestPattern.MatchString(digest) {
		return "", "", fmt.Errorf("digest %q is malformed: want %s@sha256:<64 lowercase hex digits>", p.Digest, image)
	}
	tag, ok = strings.CutPrefix(p.Tag, image+":")
	if !ok {
		return "", "", fmt.Errorf("tag %q is not a tag of %s", p.Tag, image)
	}
	if !tagPattern.MatchString(tag) {
		return "", "", fmt.Errorf("tag %q is malformed", p.Tag)
	}
	if p.PublishedAt <= 0 {
		return "", "", fmt.Errorf("publish time %d is not a positive Unix time in nanoseconds", p.PublishedAt)
	}
	return digest, tag, nil
}
