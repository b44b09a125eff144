package reconcile

import (
	"context"
	"fmt"
	"io"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/rollout"
)

// Options are what one reconcile pass works with.
type Options struct {
	// Services are the cache's entries.
	Services []mapping.Service
	// List lists an image's tagged manifests (Registry.List).
	List func(ctx context.Context, image string, wanted func(tag string) bool) ([]Pushed, error)
	// Clusters reaches each target's Deployments.
	Clusters rollout.Clusters
	// Release creates the release Workflow of r for service svc and
	// returns its name; nil, or DryRun, only reports.
	Release func(ctx context.Context, svc *mapping.Service, r Release) (string, error)
	DryRun  bool
	// Log receives a line per service and per release.
	Log io.Writer
}

// Summary counts what a pass did.
type Summary struct {
	Services, Targets, UpToDate, Releases, Failed int
}

// Run makes one pass over every service: lists its image in the registry,
// reads what each target runs, plans (Plan) and releases what is behind.
// A service that fails (the registry or the cluster did not answer) is
// logged and counted, and the others go on; the error then says how many
// failed.
func Run(ctx context.Context, o Options) (Summary, error) {
	var sum Summary
	logf := func(format string, args ...any) { fmt.Fprintf(o.Log, "argodeploy: "+format+"\n", args...) }
	for i := range o.Services {
		svc := &o.Services[i]
		sum.Services++
		sum.Targets += len(svc.Targets)
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		pushed, err := o.List(ctx, svc.Image, wantedBy(svc))
		if err != nil {
			logf("%s: registry: %v", svc.Name, err)
			sum.Failed++
			continue
		}
		observed, err := observe(ctx, svc, o.Clusters)
		if err != nil {
			logf("%s: %v", svc.Name, err)
			sum.Failed++
			continue
		}
		releases, notes := Plan(svc, pushed, observed)
		for _, n := range notes {
			logf("%s/%s: %s", svc.Name, n.Target, n.Text)
		}
		sum.UpToDate += len(svc.Targets) - countTargets(releases)
		for _, r := range releases {
			what := fmt.Sprintf("%s/%s behind: release %s (%s)", svc.Name, strings.Join(r.Targets, ","), r.Tag, r.Digest)
			if o.DryRun || o.Release == nil {
				logf("%s: dry run", what)
				sum.Releases++
				continue
			}
			name, err := o.Release(ctx, svc, r)
			if err != nil {
				logf("%s: %v", what, err)
				sum.Failed++
				continue
			}
			logf("%s: Workflow %s", what, name)
			sum.Releases++
		}
	}
	if sum.Failed > 0 {
		return sum, fmt.Errorf("%d of %d services or releases failed", sum.Failed, sum.Services)
	}
	return sum, nil
}

// wantedBy says whether some target of svc takes a tag, for registries that
// must be asked tag by tag.
func wantedBy(svc *mapping.Service) func(string) bool {
	digest := svc.Image + "@sha256:" + strings.Repeat("0", 64)
	return func(tag string) bool {
		for i := range svc.Targets {
			push := rollout.Push{Digest: digest, Tag: svc.Image + ":" + tag, PublishedAt: 1}
			if rollout.Admit(svc, &svc.Targets[i], push).Action == rollout.Roll {
				return true
			}
		}
		return false
	}
}

// observe reads what each target of svc runs.
func observe(ctx context.Context, svc *mapping.Service, clusters rollout.Clusters) (map[string]Observed, error) {
	observed := map[string]Observed{}
	for i := range svc.Targets {
		t := &svc.Targets[i]
		client, err := clusters(ctx, t)
		if err != nil {
			return nil, fmt.Errorf("reaching cluster %s of target %s: %v", t.ClusterName(), t.Name, err)
		}
		d, err := client.Deployments(t.Namespace).Get(ctx, t.Deployment, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			observed[t.Name] = Observed{Missing: true}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading deployment %s/%s of target %s: %v", t.Namespace, t.Deployment, t.Name, err)
		}
		obs := Observed{Missing: true}
		for _, c := range d.Spec.Template.Spec.Containers {
			if c.Name == t.Container {
				obs = Observed{Image: c.Image}
			}
		}
		if !obs.Missing {
			obs.State, err = rollout.ReadState(d, t.Container)
			if err != nil {
				return nil, fmt.Errorf("deployment %s/%s: %v", t.Namespace, t.Deployment, err)
			}
		}
		observed[t.Name] = obs
	}
	return observed, nil
}

func countTargets(releases []Release) int {
	n := 0
	for _, r := range releases {
		n += len(r.Targets)
	}
	return n
}
