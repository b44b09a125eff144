package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"

	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/rollout"
)

// BenchmarkReconcileRequests counts the registry requests of one reconcile
// pass (Run, with Registry.List as the command wires it, and a fake
// Kubernetes view) over N services, each one image and one target that
// already has the newest push: the steady-state cost of a pass, paid every
// reconcile interval. requests/op is per pass, requests/service per
// service. The registries ask for no credentials (anonymous keychain);
// one that does adds its token exchange to these.
//
// registry=plain is go-containerregistry's in-process registry, which
// answers tags/list with tag names alone, holding one tag per image: List
// then reads the manifest and image config of each tag the target takes,
// so the cost also grows with the tags per image. registry=artifact-registry
// answers tags/list as Artifact Registry does (arTagsList, every manifest
// with its upload time), whatever the number of tags.
func BenchmarkReconcileRequests(b *testing.B) {
	for _, kind := range []struct {
		name string
		// serve is the registry's handler for services' images.
		serve func(host string, services []mapping.Service) http.Handler
		// push puts each service's images in the registry and returns
		// the newest push of each.
		push func(b *testing.B, services []mapping.Service) []Pushed
	}{
		{"plain", servePlain, pushPlain},
		{"artifact-registry", serveArtifactRegistry, pushArtifactRegistry},
	} {
		b.Run("registry="+kind.name, func(b *testing.B) {
			for _, n := range []int{10, 100, 1000} {
				b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
					benchmarkPass(b, n, kind.serve, kind.push)
				})
			}
		})
	}
}

// benchmarkPass sets up n services on the registry serve answers for,
// with each target's Deployment recording the newest push of its image,
// and counts the HTTP requests the registry receives per pass.
func benchmarkPass(b *testing.B, n int, serve func(string, []mapping.Service) http.Handler, push func(*testing.B, []mapping.Service) []Pushed) {
	var requests atomic.Int64
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		requests.Add(1)
		handler.ServeHTTP(w, req)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	services := make([]mapping.Service, n)
	for i := range services {
		t := target("prod", mapping.StrategySetImage, mapping.DefaultTagPattern, mapping.PolicyPublishTime)
		t.Deployment = fmt.Sprintf("svc-%04d", i)
		services[i] = mapping.Service{Name: t.Deployment, Image: host + "/acme/" + t.Deployment, Targets: []mapping.Target{t}}
	}
	handler = serve(host, services)
	newest := push(b, services)
	objects := make([]runtime.Object, n)
	for i, svc := range services {
		objects[i] = deploymentWith(b, svc, newest[i])
	}
	cs := fake.NewClientset(objects...)
	opts := Options{
		Services: services,
		Clusters: func(context.Context, *mapping.Target) (appsv1client.DeploymentsGetter, error) {
			return cs.AppsV1(), nil
		},
		Release: func(_ context.Context, svc *mapping.Service, r Release) (string, error) {
			return "", fmt.Errorf("%s is up to date, yet the pass releases %s", svc.Name, r.Tag)
		},
		Log: io.Discard,
	}
	requests.Store(0) // the pushes are not a pass's
	passes := 0
	for b.Loop() {
		// A pass is a process of its own: a new Registry, which pings
		// each registry host once.
		reg := &Registry{Keychain: authn.NewMultiKeychain()}
		opts.List = reg.List
		sum, err := Run(context.Background(), opts)
		if err != nil || sum.UpToDate != n || sum.Releases != 0 {
			b.Fatalf("pass: %+v, %v; want %d targets up to date", sum, err, n)
		}
		passes++
	}
	perPass := float64(requests.Load()) / float64(passes)
	b.ReportMetric(perPass, "requests/op")
	b.ReportMetric(perPass/float64(n), "requests/service")
}

// deploymentWith is the Deployment of svc's target, running p and with p
// recorded as its state, as the step leaves it.
func deploymentWith(b *testing.B, svc mapping.Service, p Pushed) *appsv1.Deployment {
	t := svc.Targets[0]
	state, err := json.Marshal(map[string]rollout.Entry{t.Container: {
		Digest: p.Digest, Tag: p.Tags[0], PublishedAt: p.Uploaded.UnixNano(), Outcome: rollout.StateHealthy,
	}})
	if err != nil {
		b.Fatal(err)
	}
	d := deploymentRunning(t.Namespace, svc.Image+"@"+p.Digest)
	d.Name = t.Deployment
	d.Annotations = map[string]string{rollout.AnnotationState: string(state)}
	return d
}

// servePlain is go-containerregistry's registry.
func servePlain(string, []mapping.Service) http.Handler {
	return registry.New(registry.Logger(log.New(io.Discard, "", 0)))
}

// pushPlain pushes one random image, tagged v1, to each service's image.
func pushPlain(b *testing.B, services []mapping.Service) []Pushed {
	pushed := make([]Pushed, len(services))
	for i, svc := range services {
		created := t0.Add(time.Duration(i) * time.Second)
		repo, err := name.NewRepository(svc.Image)
		var img v1.Image
		if err == nil {
			img, err = random.Image(64, 1)
		}
		if err == nil {
			img, err = mutate.CreatedAt(img, v1.Time{Time: created})
		}
		if err == nil {
			err = remote.Write(repo.Tag("v1"), img)
		}
		var digest v1.Hash
		if err == nil {
			digest, err = img.Digest()
		}
		if err != nil {
			b.Fatal(err)
		}
		pushed[i] = Pushed{Digest: digest.String(), Tags: []string{"v1"}, Uploaded: created}
	}
	return pushed
}

// serveArtifactRegistry answers the ping, and each service's tags/list
// with arTagsList.
func serveArtifactRegistry(host string, services []mapping.Service) http.Handler {
	paths := map[string]bool{}
	for _, svc := range services {
		paths["/v2/"+strings.TrimPrefix(svc.Image, host+"/")+"/tags/list"] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch {
		case req.URL.Path == "/v2/":
			w.WriteHeader(http.StatusOK)
		case paths[req.URL.Path]:
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, arTagsList)
		default:
			http.NotFound(w, req)
		}
	})
}

// pushArtifactRegistry is arTagsList's newest tagged manifest, for every
// service.
func pushArtifactRegistry(_ *testing.B, services []mapping.Service) []Pushed {
	newest := Pushed{"sha256:4949aa7259aa6f827450207db5ad94cabaa9248277c6d736d5e1975d200c7e43", []string{"latest"}, time.UnixMilli(1605078050615)}
	pushed := make([]Pushed, len(services))
	for i := range pushed {
		pushed[i] = newest
	}
	return pushed
}
