package rollout

import (
	"strings"
	"testing"
)

// TestStateFormat pins the annotation's JSON: one object keyed by
// container, publishedAt as a string of Unix nanoseconds, and another
// container's entry kept byte for byte, fields this version does not know
// included.
func TestStateFormat(t *testing.T) {
	d := deployment("prod", "web", ctr("web", img+":v1"), ctr("proxy", proxy+":v1"))
	d.Annotations = map[string]string{AnnotationState: `{"proxy":{"digest":"` + dig(2) + `","publishedAt":"1748858400000000000","rollback":{"to":"x"}}}`}
	if err := writeState(d, "web", Entry{Digest: dig(1), Tag: "v1.2.3", PublishedAt: 1748858400123456789, Version: "1.2.3", Outcome: StateRolling, Workflow: "web-abc12"}); err != nil {
		t.Fatal(err)
	}
	want := `{"proxy":{"digest":"` + dig(2) + `","publishedAt":"1748858400000000000","rollback":{"to":"x"}},"web":{"digest":"` + dig(1) + `","tag":"v1.2.3","publishedAt":"1748858400123456789","version":"1.2.3","outcome":"rolling","workflow":"web-abc12"}}`
	if got := d.Annotations[AnnotationState]; got != want {
		t.Errorf("annotation\n got %s\nwant %s", got, want)
	}
	e, err := ReadState(d, "proxy")
	if err != nil || e == nil || e.PublishedAt != 1748858400000000000 || e.Digest != dig(2) {
		t.Errorf("ReadState(proxy) = %+v, %v", e, err)
	}
	if e, err := ReadState(d, "sidecar"); e != nil || err != nil {
		t.Errorf("ReadState(sidecar) = %+v, %v; want nothing", e, err)
	}
}

// TestStateRejects: an annotation that is not an object of entries is an
// error, not an empty state; publishedAt must be a string.
func TestStateRejects(t *testing.T) {
	for _, text := range []string{
		`[]`,
		`{"web":"sha256:1"}`,
		`{"web":{"publishedAt":1748858400}}`,
		`{"web":{"publishedAt":"soon"}}`,
	} {
		d := deployment("prod", "web", ctr("web", img+":v1"))
		d.Annotations = map[string]string{AnnotationState: text}
		if _, err := ReadState(d, "web"); err == nil || !strings.Contains(err.Error(), AnnotationState) {
			t.Errorf("ReadState of %s: error %v", text, err)
		}
	}
}

// TestLegacyState: the legacy pod-template annotations stand for the only
// container's entry when it has none: the digest made bare, an unreadable
// publish time left out.
func TestLegacyState(t *testing.T) {
	for _, tc := range []struct {
		name       string
		containers int
		annots     []string
		state      string
		want       *Entry
	}{
		{"digest reference and time", 1, []string{AnnotationLegacyDigest, ref(img, 2), AnnotationLegacyPublishedAt, "500"}, "", &Entry{Digest: dig(2), PublishedAt: 500}},
		{"bare digest, unreadable time", 1, []string{AnnotationLegacyDigest, dig(2), AnnotationLegacyPublishedAt, "yesterday"}, "", &Entry{Digest: dig(2)}},
		{"no legacy digest", 1, []string{AnnotationLegacyPublishedAt, "500"}, "", nil},
		{"two containers", 2, []string{AnnotationLegacyDigest, ref(img, 2)}, "", nil},
		{"new state wins", 1, []string{AnnotationLegacyDigest, ref(img, 2)}, `{"web":{"digest":"` + dig(3) + `"}}`, &Entry{Digest: dig(3)}},
		{"new state of another container", 1, []string{AnnotationLegacyDigest, ref(img, 2)}, `{"old":{"digest":"` + dig(3) + `"}}`, &Entry{Digest: dig(2)}},
	} {
		d := deployment("prod", "web", ctr("web", img+":v1"))
		if tc.containers == 2 {
			d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers, ctr("proxy", proxy))
		}
		withTemplateAnnotations(d, tc.annots...)
		if tc.state != "" {
			d.Annotations = map[string]string{AnnotationState: tc.state}
		}
		got, err := ReadState(d, "web")
		if err != nil {
			t.Fatal(err)
		}
		checkEntry(t, tc.name, got, tc.want)
	}
}
