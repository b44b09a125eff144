package rollout

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
)

// Annotations the step reads and writes.
const (
	// AnnotationState, on the Deployment's metadata, records per container
	// what the step last did: a JSON object of Entry keyed by container name.
	AnnotationState = "argodeploy.dev/state"
	// AnnotationRestartedAt, on the pod template, is what strategy restart
	// sets, as kubectl rollout restart does.
	AnnotationRestartedAt = "kubectl.kubernetes.io/restartedAt"
	// AnnotationLegacyDigest and AnnotationLegacyPublishedAt, on the pod
	// template, are the state older versions kept for the whole Deployment.
	AnnotationLegacyDigest      = "argodeploy.dev/digest"
	AnnotationLegacyPublishedAt = "argodeploy.dev/published-at"
)

// Outcomes of the last step recorded in an Entry.
const (
	StateRolling     = "rolling"
	StateHealthy     = "healthy"
	StateUndone      = "undone"
	StateInterrupted = "interrupted"
)

// Entry is what one container last received. Digest, Tag, PublishedAt,
// Version and HealthyAt describe the push the container runs; Outcome is
// how the last step ended and Undone the digest that step took back.
type Entry struct {
	// Digest is the bare digest, "sha256:…".
	Digest string `json:"digest,omitempty"`
	// Tag is the bare tag the push carried.
	Tag string `json:"tag,omitempty"`
	// PublishedAt is the push's publish time, Unix nanoseconds, written as
	// a JSON string.
	PublishedAt int64 `json:"publishedAt,string,omitempty"`
	// Version is the tag's semantic version (policy semver only).
	Version string `json:"version,omitempty"`
	// Outcome is rolling, healthy, undone or interrupted.
	Outcome string `json:"outcome,omitempty"`
	// HealthyAt is when Digest was seen rolled out (RFC 3339, UTC).
	HealthyAt string `json:"healthyAt,omitempty"`
	// Workflow names the Workflow of the last step.
	Workflow string `json:"workflow,omitempty"`
	// Undone is the digest an undone or interrupted step took back.
	Undone string `json:"undone,omitempty"`
	// RolledBack is the digest a rollback took the container away from:
	// neither a later delivery of that push nor reconcile brings it back.
	RolledBack string `json:"rolledBack,omitempty"`
	// Previous is what the container ran before Digest, for rollback
	// --previous (strategy set-image only).
	Previous Previous `json:"previous,omitzero"`
}

// Previous is a push a container ran before the one its Entry records.
type Previous struct {
	Digest      string `json:"digest,omitempty"`
	Tag         string `json:"tag,omitempty"`
	PublishedAt int64  `json:"publishedAt,string,omitempty"`
	Version     string `json:"version,omitempty"`
}

// previousOf is the Previous of the entry a step writes over prev, for a
// container that runs image: prev's push when the container runs it (prev
// is not a rollout left in doubt), else what prev itself recorded, else the
// digest the image pins.
func previousOf(prev *Entry, repo, image string) Previous {
	switch {
	case prev != nil && prev.Digest != "" && prev.Outcome != StateRolling:
		return Previous{Digest: prev.Digest, Tag: prev.Tag, PublishedAt: prev.PublishedAt, Version: prev.Version}
	case prev != nil && prev.Outcome == StateRolling:
		return prev.Previous
	}
	if ref := parseImage(image); ref.repo == repo && ref.digest != "" {
		return Previous{Digest: ref.digest}
	}
	return Previous{}
}

// ReadState returns the entry of container recorded on d, nil when there
// is none. A Deployment with one container and no entry for it is read
// from the legacy pod-template annotations, when they are there.
func ReadState(d *appsv1.Deployment, container string) (*Entry, error) {
	entries, err := stateEntries(d)
	if err != nil {
		return nil, err
	}
	if raw, ok := entries[container]; ok {
		var e Entry
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, fmt.Errorf("annotation %s of deployment %s/%s: entry %q: %v", AnnotationState, d.Namespace, d.Name, container, err)
		}
		return &e, nil
	}
	return legacyEntry(d, container), nil
}

// stateEntries decodes the state annotation, keeping each entry raw so
// that writing one container's entry leaves the others as they were.
func stateEntries(d *appsv1.Deployment) (map[string]json.RawMessage, error) {
	text, ok := d.Annotations[AnnotationState]
	if !ok || strings.TrimSpace(text) == "" {
		return map[string]json.RawMessage{}, nil
	}
	var entries map[string]json.RawMessage
	if err := json.Unmarshal([]byte(text), &entries); err != nil {
		return nil, fmt.Errorf("annotation %s of deployment %s/%s is not a JSON object: %v", AnnotationState, d.Namespace, d.Name, err)
	}
	if entries == nil {
		entries = map[string]json.RawMessage{}
	}
	return entries, nil
}

// legacyEntry reads the pod-template annotations older versions wrote, for
// the Deployment's only container.
func legacyEntry(d *appsv1.Deployment, container string) *Entry {
	cs := d.Spec.Template.Spec.Containers
	if len(cs) != 1 || cs[0].Name != container {
		return nil
	}
	a := d.Spec.Template.Annotations
	digest, ok := a[AnnotationLegacyDigest]
	if !ok {
		return nil
	}
	if i := strings.LastIndexByte(digest, '@'); i >= 0 {
		digest = digest[i+1:]
	}
	e := &Entry{Digest: digest}
	if n, err := strconv.ParseInt(a[AnnotationLegacyPublishedAt], 10, 64); err == nil && n > 0 {
		e.PublishedAt = n
	}
	return e
}

// writeState records e as container's entry on d.
func writeState(d *appsv1.Deployment, container string, e Entry) error {
	entries, err := stateEntries(d)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(e)
	if err != nil {
		return err
	}
	entries[container] = raw
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(entries); err != nil {
		return err
	}
	if d.Annotations == nil {
		d.Annotations = map[string]string{}
	}
	d.Annotations[AnnotationState] = strings.TrimSuffix(b.String(), "\n")
	return nil
}
