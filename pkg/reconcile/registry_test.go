package reconcile

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// pushImage pushes a new random image created at created to repo:tag and
// returns its digest.
func pushImage(t *testing.T, repo name.Repository, tag string, created time.Time) string {
	t.Helper()
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.CreatedAt(img, v1.Time{Time: created})
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(repo.Tag(tag), img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// TestRegistryPlainV2: against a real registry (go-containerregistry's,
// which answers tags/list with tag names alone), List looks up each tag
// wanted, with its digest and its image's creation time, and no other.
func TestRegistryPlainV2(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	image := host + "/acme/apps/web"
	repo, err := name.NewRepository(image)
	if err != nil {
		t.Fatal(err)
	}
	v1d := pushImage(t, repo, "v1.0.0", t0)
	v2d := pushImage(t, repo, "v2.0.0", t0.Add(time.Hour))
	pushImage(t, repo, "pr-7", t0.Add(2*time.Hour))

	r := &Registry{Keychain: authn.NewMultiKeychain()}
	got, err := r.List(context.Background(), image, func(tag string) bool { return strings.HasPrefix(tag, "v") })
	if err != nil {
		t.Fatal(err)
	}
	want := []Pushed{{v1d, []string{"v1.0.0"}, t0}, {v2d, []string{"v2.0.0"}, t0.Add(time.Hour)}}
	if len(got) != len(want) {
		t.Fatalf("List = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Digest != want[i].Digest || strings.Join(got[i].Tags, ",") != strings.Join(want[i].Tags, ",") || !got[i].Uploaded.Equal(want[i].Uploaded) {
			t.Errorf("List[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	if _, err := r.List(context.Background(), host+"/acme/apps/missing", func(string) bool { return true }); err == nil {
		t.Error("listing an image the registry does not have succeeded")
	}
}

// arTagsList is what Artifact Registry answers to GET /v2/<repo>/tags/list
// (the Container Registry extension it keeps: every manifest with its tags
// and times in Unix milliseconds, as strings).
const arTagsList = `{
  "child": [],
  "manifest": {
    "sha256:0efad4d09a419dc6d574c3c3baacb804a530acd61d5eba72cb1f14e1f5ac0c8f": {
      "imageSizeBytes": "0",
      "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
      "tag": ["1.19.0"],
      "timeCreatedMs": "0",
      "timeUploadedMs": "1605063108339"
    },
    "sha256:4949aa7259aa6f827450207db5ad94cabaa9248277c6d736d5e1975d200c7e43": {
      "imageSizeBytes": "0",
      "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
      "tag": ["latest", "1.19.3"],
      "timeCreatedMs": "0",
      "timeUploadedMs": "1605078050615"
    },
    "sha256:794275d96b4ab96eeb954728a7bf11156570e8372ecd5ed0cbc7280313a27d19": {
      "imageSizeBytes": "0",
      "mediaType": "application/vnd.oci.image.index.v1+json",
      "tag": [],
      "timeCreatedMs": "0",
      "timeUploadedMs": "1605078036805"
    }
  },
  "name": "acme/apps/web",
  "tags": ["1.19.0", "1.19.3", "latest"]
}`

// TestRegistryArtifactRegistryShape: Artifact Registry's answer gives every
// tagged manifest with its upload time in one request; untagged manifests
// are left out and nothing else is asked.
func TestRegistryArtifactRegistryShape(t *testing.T) {
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		paths = append(paths, req.URL.Path)
		switch req.URL.Path {
		case "/v2/":
			w.WriteHeader(http.StatusOK)
		case "/v2/acme/apps/web/tags/list":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, arTagsList)
		default:
			http.NotFound(w, req)
		}
	}))
	defer srv.Close()
	r := &Registry{Keychain: authn.NewMultiKeychain()}
	got, err := r.List(context.Background(), strings.TrimPrefix(srv.URL, "http://")+"/acme/apps/web", func(string) bool {
		t.Error("a tag was looked up one by one")
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []Pushed{
		{"sha256:0efad4d09a419dc6d574c3c3baacb804a530acd61d5eba72cb1f14e1f5ac0c8f", []string{"1.19.0"}, time.UnixMilli(1605063108339)},
		{"sha256:4949aa7259aa6f827450207db5ad94cabaa9248277c6d736d5e1975d200c7e43", []string{"1.19.3", "latest"}, time.UnixMilli(1605078050615)},
	}
	if len(got) != len(want) {
		t.Fatalf("List = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Digest != want[i].Digest || strings.Join(got[i].Tags, ",") != strings.Join(want[i].Tags, ",") || !got[i].Uploaded.Equal(want[i].Uploaded) {
			t.Errorf("List[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	if len(paths) != 2 || paths[1] != "/v2/acme/apps/web/tags/list" || r.Requests.Load() < 2 {
		t.Errorf("the registry was asked %v (%d requests counted), want the ping and one tags/list", paths, r.Requests.Load())
	}
}

// TestRegistryAuthenticatesOncePerRepository plays a registry that wants
// bearer tokens, as Artifact Registry does (Workload Identity's access
// token, sent as the password of "oauth2accesstoken", exchanged at its
// token endpoint for a token scoped to one repository): a pass over three
// images pings the registry once, exchanges a token per repository and
// lists each with it, and a token for one repository does not list
// another.
func TestRegistryAuthenticatesOncePerRepository(t *testing.T) {
	var paths []string
	var srv *httptest.Server
	challenge := func(w http.ResponseWriter, scope string) {
		v := fmt.Sprintf(`Bearer realm=%q,service="registry.test"`, srv.URL+"/token")
		if scope != "" {
			v += fmt.Sprintf(`,scope=%q`, scope)
		}
		w.Header().Set("WWW-Authenticate", v)
		w.WriteHeader(http.StatusUnauthorized)
	}
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		paths = append(paths, req.URL.Path)
		switch {
		case req.URL.Path == "/v2/":
			challenge(w, "")
		case req.URL.Path == "/token":
			user, pass, ok := req.BasicAuth()
			scope := req.URL.Query().Get("scope")
			if !ok || user != "oauth2accesstoken" || pass != "ya29.access" || !strings.HasPrefix(scope, "repository:") {
				w.WriteHeader(http.StatusForbidden)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"token":%q}`, "for "+scope)
		case strings.HasSuffix(req.URL.Path, "/tags/list"):
			repo := strings.TrimSuffix(strings.TrimPrefix(req.URL.Path, "/v2/"), "/tags/list")
			scope := "repository:" + repo + ":pull"
			if req.Header.Get("Authorization") != "Bearer for "+scope {
				challenge(w, scope)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, strings.Replace(arTagsList, `"acme/apps/web"`, strconv.Quote(repo), 1))
		default:
			http.NotFound(w, req)
		}
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	keychain := authn.NewMultiKeychain(staticKeychain{authn.FromConfig(authn.AuthConfig{Username: "oauth2accesstoken", Password: "ya29.access"})})
	r := &Registry{Keychain: keychain}
	for _, repo := range []string{"acme/apps/web", "acme/apps/api", "acme/jobs/batch"} {
		got, err := r.List(context.Background(), host+"/"+repo, func(string) bool { return false })
		if err != nil {
			t.Fatalf("%s: %v", repo, err)
		}
		if len(got) != 2 {
			t.Errorf("%s: %+v", repo, got)
		}
	}
	want := []string{"/v2/",
		"/token", "/v2/acme/apps/web/tags/list",
		"/token", "/v2/acme/apps/api/tags/list",
		"/token", "/v2/acme/jobs/batch/tags/list"}
	if !slices.Equal(paths, want) {
		t.Errorf("requests %v, want %v", paths, want)
	}
	if n := r.Requests.Load(); n != int64(len(want)) {
		t.Errorf("%d requests counted, %d made", n, len(want))
	}
}

// staticKeychain resolves every registry to one authenticator.
type staticKeychain struct{ auth authn.Authenticator }

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) { return k.auth, nil }
