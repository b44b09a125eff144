package status

import (
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestBoundExpired: past the bound are the dead letters older than MaxAge,
// then the oldest beyond Keep; ties in creation time go by name, the same
// on every pass.
func TestBoundExpired(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	at := func(name string, ago time.Duration) corev1.ConfigMap {
		return corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(now.Add(-ago))}}
	}
	cms := []corev1.ConfigMap{
		at("d-old", 200*time.Hour), at("d-a", time.Hour), at("d-b", time.Hour), at("d-new", time.Minute), at("d-mid", 2*time.Hour),
	}
	for _, c := range []struct {
		bound Bound
		want  []string
	}{
		{Bound{Keep: 100, MaxAge: 168 * time.Hour}, []string{"d-old"}},
		{Bound{Keep: 3, MaxAge: 168 * time.Hour}, []string{"d-mid", "d-old"}},
		{Bound{Keep: 2, MaxAge: 168 * time.Hour}, []string{"d-a", "d-mid", "d-old"}}, // d-b is kept: same time, later name
		{Bound{Keep: 100, MaxAge: 90 * time.Minute}, []string{"d-mid", "d-old"}},
		{Bound{Keep: 100, MaxAge: 1000 * time.Hour}, nil},
	} {
		var got []string
		for _, cm := range c.bound.Expired(cms, now) {
			got = append(got, cm.Name)
		}
		slices.Sort(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("%+v: expired %v, want %v", c.bound, got, c.want)
		}
	}
}

// TestReadDeadLetter: the push comes from the digest and tag keys, else
// (a dead letter of an older argodeploy) from the message; a message
// shorter than messageBytes was cut.
func TestReadDeadLetter(t *testing.T) {
	for _, c := range []struct {
		data        map[string]string
		digest, tag string
		cutFrom     int
	}{
		{map[string]string{"digest": "x@sha256:1", "tag": "x:v1", "message": `{"dig`, "messageBytes": "900000"}, "x@sha256:1", "x:v1", 900000},
		{map[string]string{"message": `{"digest":"x@sha256:2","tag":"x:v2"}`}, "x@sha256:2", "x:v2", 0},
		{map[string]string{"digest": "x@sha256:3", "tag": "x:v3", "message": `{"a":1}`, "messageBytes": "7"}, "x@sha256:3", "x:v3", 0},
		{map[string]string{"message": "not JSON"}, "", "", 0},
	} {
		dl := ReadDeadLetter(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "d"}, Data: c.data})
		if dl.Digest != c.digest || dl.Tag != c.tag || dl.CutFrom != c.cutFrom {
			t.Errorf("%v: read %+v, want digest %q tag %q cut from %d", c.data, dl, c.digest, c.tag, c.cutFrom)
		}
	}
}
