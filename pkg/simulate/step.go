package simulate

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
	fakeappsv1 "k8s.io/client-go/kubernetes/typed/apps/v1/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/argodeploy/argodeploy/pkg/check"
	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/render"
	"github.com/argodeploy/argodeploy/pkg/rollout"
)

// Route is what a triggered Workflow's first step, argodeploy route, found:
// the targets the push reaches, or why it refused the push.
type Route struct {
	Cache   string          `json:"cache"` // the ConfigMaps mounted as volume "cache"
	Targets []rollout.Route `json:"targets"`
	Error   string          `json:"error,omitempty"`
	Exit    int             `json:"exit"` // 0, or 2 when refused
	Log     []string        `json:"log"`  // what the step printed on stderr
}

// Step is what one target's rollout step of a triggered Workflow did, run
// by argodeploy rollout's own code against the simulated Cluster.
type Step struct {
	Service string   `json:"service"`
	Target  string   `json:"target"`
	Cache   string   `json:"cache"`          // the ConfigMaps mounted as volume "cache"
	Before  string   `json:"before"`         // the target container's image before the step
	After   string   `json:"after"`          // and after it
	Calls   []string `json:"calls"`          // the API requests, in order; a repeated one once with its count
	Outcome string   `json:"outcome"`        // rolled, already, skipped, undone, failed, or waiting (for approval)
	Reason  string   `json:"reason"`         // why, in a sentence
	Exit    int      `json:"exit"`           // the step's exit code: 0, 1 retried, 2 failed, 3 undone
	State   string   `json:"state,omitzero"` // the container's argodeploy.dev/state entry after the step
	Log     []string `json:"log"`            // what the step printed
}

// OutcomeWaiting is the outcome of a step that waits for approval.
const OutcomeWaiting = "waiting"

// CurrentDigest is the digest a simulated set-image container runs before
// any push; a restart container runs its image's tag latest.
const CurrentDigest = "sha256:0000000000000000000000000000000000000000000000000000000000000000"

// Cluster is the simulated state that releases act on: the Deployment of
// every target of the pipeline, one fake API server (client-go's) per
// cluster, kept from one message to the next, so that a sequence of pushes
// sees what the earlier ones did. A rolled Deployment is healthy at once.
// Simulated time starts at the first message's publish time and only moves
// forward: to each message's publish time, and through each wait (a soak).
type Cluster struct {
	mu    sync.Mutex
	apis  map[string]*clusterAPI // cluster name → its API
	calls []string               // requests of the step being followed
	clock *stepClock
}

// NewCluster is the pipeline's Deployments as a Cluster, each ready with
// one replica: its containers are those its targets name, running
// IMAGE@CurrentDigest (set-image) or IMAGE:latest (restart). A Deployment
// of given (in the local cluster, by namespace and name) replaces the
// assumed one.
func (p *Pipeline) NewCluster(given []*appsv1.Deployment) (*Cluster, error) {
	c := &Cluster{apis: map[string]*clusterAPI{}, clock: &stepClock{}}
	type key struct{ cluster, namespace, name string }
	assumed := map[key]*appsv1.Deployment{}
	var order []key
	for _, name := range slices.Sorted(maps.Keys(p.entries)) {
		for _, e := range p.entries[name] {
			if e.err != nil {
				continue // not a cache entry: nothing rolls from it
			}
			for _, t := range e.svc.Targets {
				k := key{t.ClusterName(), t.Namespace, t.Deployment}
				d := assumed[k]
				if d == nil {
					d = readyDeployment(t.Namespace, t.Deployment)
					assumed[k] = d
					order = append(order, k)
				}
				if slices.ContainsFunc(d.Spec.Template.Spec.Containers, func(c corev1.Container) bool { return c.Name == t.Container }) {
					continue
				}
				image := e.svc.Image + "@" + CurrentDigest
				if t.Strategy == mapping.StrategyRestart {
					image = e.svc.Image + ":latest"
				}
				d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers, corev1.Container{Name: t.Container, Image: image})
			}
		}
	}
	for _, d := range given {
		k := key{mapping.LocalCluster, d.Namespace, d.Name}
		if assumed[k] == nil {
			order = append(order, k)
		}
		assumed[k] = d.DeepCopy()
	}
	slices.SortFunc(order, func(a, b key) int {
		return strings.Compare(a.cluster+"/"+a.namespace+"/"+a.name, b.cluster+"/"+b.namespace+"/"+b.name)
	})
	for _, k := range order {
		api := c.apis[k.cluster]
		if api == nil {
			api = newClusterAPI()
			cluster := k.cluster
			api.PrependReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
				c.record(cluster, a)
				return false, nil, nil
			})
			c.apis[k.cluster] = api
		}
		if err := api.tracker.Add(assumed[k]); err != nil {
			return nil, fmt.Errorf("simulate: Deployment %s/%s: %w", k.namespace, k.name, err)
		}
	}
	return c, nil
}

// clusterAPI is one cluster's in-memory API server, made as client-go's
// fake clientset makes it but for the one group the step reads and
// writes (apps/v1, Get and Update): the whole fake clientset links every
// API group's fake client, 61 packages argodeploy does not use.
type clusterAPI struct {
	k8stesting.Fake
	tracker k8stesting.ObjectTracker
}

// newClusterAPI is an empty API over client-go's scheme of the built-in
// kinds, which its typed clients use.
func newClusterAPI() *clusterAPI {
	a := &clusterAPI{tracker: k8stesting.NewObjectTracker(scheme.Scheme, scheme.Codecs.UniversalDecoder())}
	a.AddReactor("*", "*", k8stesting.ObjectReaction(a.tracker))
	return a
}

// readyDeployment is a Deployment with one replica, rolled out.
func readyDeployment(namespace, name string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}},
		},
		Status: appsv1.DeploymentStatus{Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1},
	}
}

// record notes one API request of the step being followed.
func (c *Cluster) record(cluster string, a k8stesting.Action) {
	what := a.GetVerb() + " " + a.GetResource().Resource
	if a.GetNamespace() != "" {
		what += " " + a.GetNamespace() + "/"
	} else {
		what += " "
	}
	switch a := a.(type) {
	case k8stesting.GetAction:
		what += a.GetName()
	case k8stesting.UpdateAction:
		if m, err := metaOf(a.GetObject()); err == nil {
			what += m.GetName()
		}
	}
	if cluster != mapping.LocalCluster {
		what = "[" + cluster + "] " + what
	}
	c.calls = append(c.calls, what)
}

func metaOf(obj runtime.Object) (metav1.Object, error) {
	if m, ok := obj.(metav1.Object); ok {
		return m, nil
	}
	return nil, fmt.Errorf("%T has no metadata", obj)
}

// clusters gives the step the API of a target's cluster.
func (c *Cluster) clusters(_ context.Context, t *mapping.Target) (appsv1client.DeploymentsGetter, error) {
	api := c.apis[t.ClusterName()]
	if api == nil {
		return nil, fmt.Errorf("cluster %s has no Deployment of the pipeline", t.ClusterName())
	}
	return &fakeappsv1.FakeAppsV1{Fake: &api.Fake}, nil
}

// deployment reads a target's Deployment, nil when there is none.
func (c *Cluster) deployment(t *mapping.Target) *appsv1.Deployment {
	api := c.apis[t.ClusterName()]
	if api == nil {
		return nil
	}
	obj, err := api.tracker.Get(appsv1.SchemeGroupVersion.WithResource("deployments"), t.Namespace, t.Deployment)
	if err != nil {
		return nil
	}
	return obj.(*appsv1.Deployment)
}

// container reads the image of a target's container, "" when it has none.
func (c *Cluster) container(t *mapping.Target) string {
	if d := c.deployment(t); d != nil {
		for _, ct := range d.Spec.Template.Spec.Containers {
			if ct.Name == t.Container {
				return ct.Image
			}
		}
	}
	return ""
}

// state reads a target container's argodeploy.dev/state entry as JSON,
// "" when it has none.
func (c *Cluster) state(t *mapping.Target) string {
	d := c.deployment(t)
	if d == nil {
		return ""
	}
	e, err := rollout.ReadState(d, t.Container)
	if err != nil || e == nil {
		return ""
	}
	data, err := json.Marshal(e)
	if err != nil {
		return ""
	}
	return string(data)
}

// Follow runs the release of w, as the Argo Workflows controller and the
// pods would, against c at time now (the message's publish time, or c's
// time if that is later): argodeploy route's code over the cache ConfigMap
// the template mounts (w.Route), then one argodeploy rollout step per
// route (w.Steps). Targets run one after another, each upstream stage
// before the targets that wait for it, and each to its end before the
// next message (the cluster runs them side by side; pkg/rollout's tests
// cover that).
func (p *Pipeline) Follow(ctx context.Context, c *Cluster, w *Workflow, now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	tmpl := p.templates[w.Namespace+"/"+w.Template]
	if tmpl == nil {
		return fmt.Errorf("WorkflowTemplate %s/%s not found", w.Namespace, w.Template)
	}
	step, err := rolloutTemplate(tmpl)
	if err != nil {
		return err
	}
	cacheName, cache, err := p.cacheOf(tmpl, w)
	if err != nil {
		return err
	}
	timeout, err := rolloutTimeout(step.Container.Args)
	if err != nil {
		return err
	}
	at, err := strconv.ParseInt(w.Arguments[render.ParamPublishedAt], 10, 64)
	if err != nil {
		at = 0 // the step refuses it
	}
	push := rollout.Push{Digest: w.Arguments[render.ParamDigest], Tag: w.Arguments[render.ParamTag], PublishedAt: at}
	services := map[string]mapping.Service{}
	lookup := func(image string) (mapping.Service, error) {
		for _, e := range cache {
			if e.err != nil {
				return mapping.Service{}, fmt.Errorf("cache entry %s of %s: %v", e.key, cacheName, e.err)
			}
			if e.svc.Image == image {
				services[e.svc.Name] = e.svc
				return e.svc, nil
			}
		}
		return mapping.Service{}, rollout.UnknownImage(image, cacheName, len(cache))
	}
	var log bytes.Buffer
	routes, err := rollout.Routes(lookup, push, &log)
	w.Route = &Route{Cache: cacheName, Targets: routes, Log: lines(&log)}
	if err != nil {
		w.Route.Error, w.Route.Exit = err.Error(), rollout.ExitPermanent
		return nil
	}
	c.clock.advanceTo(now)
	w.Steps = nil
	for _, route := range stageOrder(services, routes) {
		svc := services[route.Service]
		t := svc.Target(route.Target)
		s := &Step{Service: route.Service, Target: route.Target, Cache: cacheName, Calls: []string{}}
		if t != nil {
			s.Before = c.container(t)
		}
		if route.Approval {
			// The release suspends before the rollout step until a human
			// approves: simulate does not decide for them.
			s.Outcome, s.Reason, s.After = OutcomeWaiting, fmt.Sprintf("waits for approval: argodeploy approve %s (or reject)", route.Target), s.Before
			if t != nil {
				s.State = c.state(t)
			}
			w.Steps = append(w.Steps, s)
			continue
		}
		log.Reset()
		c.calls = nil
		res := rollout.Run(ctx, rollout.Options{
			Service:        svc,
			Target:         route.Target,
			Push:           push,
			RolloutTimeout: timeout,
			Clock:          c.clock,
			Log:            &log,
			Workflow:       "simulated",
			Clusters:       c.clusters,
		})
		s.Outcome, s.Reason, s.Exit = res.Outcome, res.Reason, res.Exit
		s.Calls = collapse(c.calls)
		if t != nil {
			s.After = c.container(t)
			s.State = c.state(t)
		}
		s.Log = lines(&log)
		w.Steps = append(w.Steps, s)
	}
	return nil
}

// cacheOf is the directory the cache volume of tmpl shows a Workflow w, as
// its entries in the order the route step reads them (by file name), and
// the ConfigMaps it is made of (one, or several projected into one
// directory), for reports.
func (p *Pipeline) cacheOf(tmpl *wfv1.WorkflowTemplate, w *Workflow) (string, []cacheEntry, error) {
	resolve := func(s string) string {
		// An argument the Workflow lacks is empty, as the pod would see it.
		return check.ResolveParameters(s, func(name string) (string, bool) { return w.Arguments[name], true })
	}
	names, _ := check.CacheConfigMaps(tmpl.Spec.Volumes)
	for i := range names {
		names[i] = resolve(names[i])
	}
	if len(names) == 0 {
		return "", nil, fmt.Errorf("WorkflowTemplate %s/%s mounts no cache ConfigMap", tmpl.Namespace, tmpl.Name)
	}
	var entries []cacheEntry
	for _, name := range names {
		decoded, ok := p.entries[w.Namespace+"/"+name]
		if !ok {
			return "", nil, fmt.Errorf("cache ConfigMap %s/%s not found", w.Namespace, name)
		}
		entries = append(entries, decoded...)
	}
	if len(names) > 1 {
		slices.SortStableFunc(entries, func(a, b cacheEntry) int { return strings.Compare(a.key, b.key) })
	}
	return strings.Join(names, ", "), entries, nil
}

// lines are the lines written to b, empty ones left out.
func lines(b *bytes.Buffer) []string {
	out := []string{}
	for _, line := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
		if line != "" {
			out = append(out, line)
		}
	}
	return out
}

// rolloutTemplate is the template that runs argodeploy rollout: the second
// step of tmpl's entrypoint, after the step that runs argodeploy route.
func rolloutTemplate(tmpl *wfv1.WorkflowTemplate) (*wfv1.Template, error) {
	byName := map[string]*wfv1.Template{}
	for i := range tmpl.Spec.Templates {
		byName[tmpl.Spec.Templates[i].Name] = &tmpl.Spec.Templates[i]
	}
	runs := func(name string, command ...string) *wfv1.Template {
		t := byName[name]
		if t == nil || t.Container == nil || !slices.Equal(t.Container.Command, command) {
			return nil
		}
		return t
	}
	entry := byName[tmpl.Spec.Entrypoint]
	if entry == nil || len(entry.Steps) != 2 || len(entry.Steps[0].Steps) != 1 || len(entry.Steps[1].Steps) != 1 {
		return nil, fmt.Errorf("WorkflowTemplate %s: entrypoint %q is not a route step and then one step over the routes", tmpl.Name, tmpl.Spec.Entrypoint)
	}
	if runs(entry.Steps[0].Steps[0].Template, "argodeploy", "route") == nil {
		return nil, fmt.Errorf("WorkflowTemplate %s: the first step does not run argodeploy route", tmpl.Name)
	}
	over := entry.Steps[1].Steps[0].Template
	if d := byName[over]; d != nil && len(d.Steps) == 2 && len(d.Steps[1].Steps) == 1 {
		over = d.Steps[1].Steps[0].Template // the deliver step: approve, then rollout
	}
	step := runs(over, "argodeploy", "rollout")
	if step == nil {
		return nil, fmt.Errorf("WorkflowTemplate %s: the step over the routes does not run argodeploy rollout", tmpl.Name)
	}
	return step, nil
}

// rolloutTimeout is the value of --rollout-timeout among args.
func rolloutTimeout(args []string) (time.Duration, error) {
	for i, a := range args {
		if a == "--rollout-timeout" && i+1 < len(args) {
			return time.ParseDuration(args[i+1])
		}
	}
	return 0, fmt.Errorf("the rollout step takes no --rollout-timeout")
}

// stageOrder is routes with every target after the one it waits for:
// sorted by how many stages stand before each, otherwise in the order
// given. (The loader refuses cycles; the count stops at one anyway.)
func stageOrder(services map[string]mapping.Service, routes []rollout.Route) []rollout.Route {
	stages := func(r rollout.Route) int {
		svc := services[r.Service]
		n := 0
		for t := svc.Target(r.Target); t != nil && t.After != "" && n <= len(svc.Targets); t = svc.Target(t.After) {
			n++
		}
		return n
	}
	out := slices.Clone(routes)
	slices.SortStableFunc(out, func(a, b rollout.Route) int { return cmp.Compare(stages(a), stages(b)) })
	return out
}

// collapse writes a run of the same request once, with its count.
func collapse(calls []string) []string {
	out := []string{}
	for i := 0; i < len(calls); {
		j := i
		for j < len(calls) && calls[j] == calls[i] {
			j++
		}
		if n := j - i; n > 1 {
			out = append(out, fmt.Sprintf("%s (×%d)", calls[i], n))
		} else {
			out = append(out, calls[i])
		}
		i = j
	}
	return out
}
