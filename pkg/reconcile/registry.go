package reconcile

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/google"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Registry lists the tagged manifests of images through the Docker
// Registry API v2, with go-containerregistry. Artifact Registry (and
// Container Registry) answer tags/list with every manifest, its tags and
// its upload time: one request per image, however many tags. Another
// registry answers with tag names alone; then each tag that wanted takes
// costs a HEAD of its manifest and a read of its image config, whose
// creation time stands in for the upload time.
type Registry struct {
	// Keychain finds credentials; default: Google's (gcloud, Workload
	// Identity's metadata server) and then Docker's config.
	Keychain authn.Keychain
	// Transport carries the requests; default: http.DefaultTransport.
	Transport http.RoundTripper
	// Requests counts the HTTP requests sent, for reports.
	Requests atomic.Int64

	mu         sync.Mutex
	challenges map[string]*transport.Challenge // each registry's ping answer
}

// transportFor returns a transport authorized to pull repo. The
// registry's ping (how it wants to be authenticated) is asked once per
// Registry, not once per call as go-containerregistry does on its own, and
// a bearer token once per repository: against Artifact Registry an image
// whose targets are up to date then costs its one tags/list request.
func (r *Registry) transportFor(ctx context.Context, repo name.Repository, keychain authn.Keychain, base http.RoundTripper) (http.RoundTripper, error) {
	auth, err := keychain.Resolve(repo)
	if err != nil {
		return nil, err
	}
	host := repo.RegistryStr()
	r.mu.Lock()
	pr := r.challenges[host]
	r.mu.Unlock()
	if pr == nil {
		if pr, err = transport.Ping(ctx, repo.Registry, base); err != nil {
			return nil, err
		}
		r.mu.Lock()
		if r.challenges == nil {
			r.challenges = map[string]*transport.Challenge{}
		}
		r.challenges[host] = pr
		r.mu.Unlock()
	}
	tok := &transport.Token{}
	if strings.EqualFold(pr.Scheme, "bearer") {
		if tok, err = transport.Exchange(ctx, repo.Registry, auth, base, []string{repo.Scope(transport.PullScope)}, pr); err != nil {
			return nil, err
		}
	}
	return transport.FromToken(repo.Registry, auth, base, pr, tok)
}

// List returns the tagged manifests of image, an image repository with no
// tag or digest; wanted says which tags to look up when the registry does
// not list manifests.
func (r *Registry) List(ctx context.Context, image string, wanted func(tag string) bool) ([]Pushed, error) {
	repo, err := name.NewRepository(image)
	if err != nil {
		return nil, err
	}
	keychain := r.Keychain
	if keychain == nil {
		keychain = authn.NewMultiKeychain(google.Keychain, authn.DefaultKeychain)
	}
	base := r.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	authorized, err := r.transportFor(ctx, repo, keychain, transport.NewRetry(countingTransport{next: base, n: &r.Requests}))
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", image, err)
	}
	tags, err := google.List(repo, google.WithContext(ctx), google.WithTransport(authorized))
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", image, err)
	}
	if len(tags.Manifests) > 0 {
		pushed := make([]Pushed, 0, len(tags.Manifests))
		for _, digest := range slices.Sorted(func(yield func(string) bool) {
			for d := range tags.Manifests {
				if !yield(d) {
					return
				}
			}
		}) {
			m := tags.Manifests[digest]
			if len(m.Tags) == 0 {
				continue // untagged: no target takes it
			}
			pushed = append(pushed, Pushed{Digest: digest, Tags: slices.Sorted(slices.Values(m.Tags)), Uploaded: m.Uploaded})
		}
		return pushed, nil
	}
	opts := []remote.Option{remote.WithContext(ctx), remote.WithTransport(authorized)}
	var pushed []Pushed
	for _, tag := range slices.Sorted(slices.Values(tags.Tags)) {
		if !wanted(tag) {
			continue
		}
		ref := repo.Tag(tag)
		desc, err := remote.Get(ref, opts...)
		if err != nil {
			return nil, fmt.Errorf("get %s: %w", ref, err)
		}
		p := Pushed{Digest: desc.Digest.String(), Tags: []string{tag}}
		if img, err := desc.Image(); err == nil {
			if cfg, err := img.ConfigFile(); err == nil {
				p.Uploaded = cfg.Created.Time
			}
		}
		pushed = append(pushed, p)
	}
	return pushed, nil
}

// countingTransport counts the requests it carries that the registry
// answered (not, say, the https attempt a ping makes before it falls back
// to a plain-http local registry).
type countingTransport struct {
	next http.RoundTripper
	n    *atomic.Int64
}

func (t countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := t.next.RoundTrip(req)
	if err == nil {
		t.n.Add(1)
	}
	return res, err
}
