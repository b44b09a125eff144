package check

import (
	"slices"
	"testing"
)

func TestAdmittedImages(t *testing.T) {
	for _, c := range []struct {
		pattern string
		want    []string // nil: not known
	}{
		{`^us-docker\.pkg\.dev/acme/apps/web@sha256:[a-f0-9]{64}$`, []string{"us-docker.pkg.dev/acme/apps/web"}},
		{`^a\.io/p/(?:api|web(?:/canary)?|svc-1|svc-2)@sha256:[a-f0-9]{64}$`, []string{"a.io/p/api", "a.io/p/svc-1", "a.io/p/svc-2", "a.io/p/web", "a.io/p/web/canary"}},
		{`^a\.io/(?:x|y)/z@sha256:[a-f0-9]{64}$`, []string{"a.io/x/z", "a.io/y/z"}},
		{`^a\.io/p/.*@sha256:[a-f0-9]{64}$`, nil},
		{`^a\.io/p/web.@sha256:[a-f0-9]{64}$`, nil},
		{`a\.io/p/web@sha256:[a-f0-9]{64}$`, nil},
		{`^a\.io/p/web@sha256:[a-f0-9]{64}`, nil},
		{`^a\.io/p/web@sha256:[a-f0-9]+$`, nil},
		{`^(?i)a\.io/p/web@sha256:[a-f0-9]{64}$`, nil},
		{`^a\.io/p/web$`, nil},
		{`^@sha256:[a-f0-9]{64}$`, nil},
		{`^(`, nil},
	} {
		got, ok := admittedImages(c.pattern)
		slices.Sort(got)
		if ok != (c.want != nil) || !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, %v; want %v", c.pattern, got, ok, c.want)
		}
	}
}
