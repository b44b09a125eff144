package rollout

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/argodeploy/argodeploy/pkg/mapping"
)

// writeCache writes the entries of services as a ConfigMap volume shows
// them: each key a symlink into a ..data directory.
func writeCache(t *testing.T, services ...mapping.Service) string {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "..2025_06_02")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("..2025_06_02", filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for _, s := range services {
		entry, err := mapping.EncodeEntry(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(data, s.Name), []byte(entry), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join("..data", s.Name), filepath.Join(dir, s.Name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestRoutes(t *testing.T) {
	staging, prod := setImage("web-staging", "staging"), setImage("web-prod", "prod")
	prod.TagPattern, prod.Policy, prod.After = `v\d+\.\d+\.\d+`, mapping.PolicySemver, "web-staging"
	cache := writeCache(t,
		service("web", img, staging, prod),
		service("proxy", proxy, restart("proxy", "edge")),
	)
	for _, c := range []struct {
		name string
		push Push
		want []Route
		log  string
	}{
		{"a release reaches both stages", push(img, 1, "v1.2.3", 1),
			[]Route{{"web", "web-staging", "local.staging.web", false}, {"web", "web-prod", "local.prod.web", false}}, ""},
		{"a branch tag reaches staging alone", push(img, 2, "pr-7", 1),
			[]Route{{"web", "web-staging", "local.staging.web", false}}, "web/web-prod: skip: tag pr-7 does not match"},
		{"the other image reaches its own service", push(proxy, 3, "latest", 1),
			[]Route{{"proxy", "proxy", "local.edge.web", false}}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var log bytes.Buffer
			got, err := Routes(DirLookup(cache), c.push, &log)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("Routes = %+v, want %+v", got, c.want)
			}
			if !strings.Contains(log.String(), c.log) || (c.log == "" && log.Len() > 0) {
				t.Errorf("log %q, want %q", log.String(), c.log)
			}
		})
	}
}

func TestRoutesRefuses(t *testing.T) {
	cache := writeCache(t, service("web", img, setImage("web", "prod")))
	other := "europe-docker.pkg.dev/acme/apps/web-canary"
	for _, c := range []struct {
		name string
		push Push
		want string
	}{
		{"an image the cache lacks", push(other, 1, "v1", 1), "image " + other + " has no service in the cache"},
		{"an image that only starts like a mapped one", push(img+"x", 1, "v1", 1), "has no service in the cache"},
		{"a digest without an image", Push{Digest: dig(1), Tag: img + ":v1", PublishedAt: 1}, "names no image"},
		{"a tag of another image", Push{Digest: ref(img, 1), Tag: proxy + ":v1", PublishedAt: 1}, "is not a tag of " + img},
		{"a malformed digest", Push{Digest: img + "@sha256:XYZ", Tag: img + ":v1", PublishedAt: 1}, "is malformed"},
		{"a malformed tag", Push{Digest: ref(img, 1), Tag: img + ":v1 rm -rf", PublishedAt: 1}, "is malformed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Routes(DirLookup(cache), c.push, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Routes = %v, %v; want an error with %q", got, err, c.want)
			}
		})
	}
	if _, err := Routes(DirLookup(filepath.Join(cache, "missing")), push(img, 1, "v1", 1), &bytes.Buffer{}); err == nil {
		t.Error("Routes read a cache directory that does not exist")
	}
}
