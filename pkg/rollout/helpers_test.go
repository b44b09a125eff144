package rollout

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/clock"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/argodeploy/argodeploy/pkg/mapping"
)

// The images of the tests.
const (
	img   = "europe-docker.pkg.dev/acme/apps/web"
	proxy = "europe-docker.pkg.dev/acme/apps/proxy"
)

// start is when every test's clock starts.
var start = time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)

var deploymentsGVR = appsv1.SchemeGroupVersion.WithResource("deployments")

// dig is the n-th test digest, bare.
func dig(n int) string { return fmt.Sprintf("sha256:%064x", n) }

// ref is the n-th digest reference of image.
func ref(image string, n int) string { return image + "@" + dig(n) }

// push is a push of image's n-th digest tagged tag, published at ns.
func push(image string, n int, tag string, ns int64) Push {
	return Push{Digest: ref(image, n), Tag: image + ":" + tag, PublishedAt: ns}
}

// service is a defaulted service of image with targets.
func service(name, image string, targets ...mapping.Target) mapping.Service {
	s := mapping.Service{Name: name, Image: image, Targets: targets}
	s.Default()
	return s
}

// setImage is a set-image target: deployment web, container web.
func setImage(name, ns string) mapping.Target {
	return mapping.Target{Name: name, Namespace: ns, Deployment: "web", Container: "web", Strategy: mapping.StrategySetImage, TagPattern: mapping.DefaultTagPattern, Policy: mapping.PolicyPublishTime}
}

// restart is a restart target: deployment web, container web.
func restart(name, ns string) mapping.Target {
	return mapping.Target{Name: name, Namespace: ns, Deployment: "web", Container: "web", Strategy: mapping.StrategyRestart, TagPattern: mapping.DefaultTagPattern, Policy: mapping.PolicyPublishTime}
}

func ctr(name, image string) corev1.Container { return corev1.Container{Name: name, Image: image} }

// deployment is a rolled-out Deployment of two replicas.
func deployment(ns, name string, containers ...corev1.Container) *appsv1.Deployment {
	replicas := int32(2)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Generation: 1},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: containers}},
		},
	}
	rolledOut(d)
	return d
}

// rolledOut sets d's status to every replica updated and available.
func rolledOut(d *appsv1.Deployment) {
	n := *d.Spec.Replicas
	d.Status = appsv1.DeploymentStatus{
		ObservedGeneration: d.Generation, Replicas: n, UpdatedReplicas: n, ReadyReplicas: n, AvailableReplicas: n,
		Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable"}},
	}
}

// progressing sets d's status to one new replica of two.
func progressing(d *appsv1.Deployment) {
	d.Status = appsv1.DeploymentStatus{
		ObservedGeneration: d.Generation, Replicas: 3, UpdatedReplicas: 1, ReadyReplicas: 2, AvailableReplicas: 2,
		Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "ReplicaSetUpdated"}},
	}
}

// autoClock is a fake clock that never blocks: a timer moves the clock
// to its end at once, running on the way the hooks due by then. A hook
// stands for something happening while a step waits.
type autoClock struct {
	*testingclock.FakeClock
	hooks []hook
}

type hook struct {
	at time.Time
	fn func()
}

var _ clock.WithTicker = (*autoClock)(nil)

func newAutoClock() *autoClock { return &autoClock{FakeClock: testingclock.NewFakeClock(start)} }

// NewTimer returns a timer that has fired: the clock has moved past it.
func (c *autoClock) NewTimer(d time.Duration) clock.Timer {
	t := c.FakeClock.NewTimer(d)
	c.advance(c.Now().Add(d))
	return t
}

// After returns a channel that has received: the clock has moved past it.
func (c *autoClock) After(d time.Duration) <-chan time.Time {
	ch := c.FakeClock.After(d)
	c.advance(c.Now().Add(d))
	return ch
}

// advance moves the clock to t, running the hooks due on the way.
func (c *autoClock) advance(t time.Time) {
	for len(c.hooks) > 0 && !c.hooks[0].at.After(t) {
		h := c.hooks[0]
		c.hooks = c.hooks[1:]
		if h.at.After(c.Now()) {
			c.SetTime(h.at)
		}
		h.fn()
	}
	if t.After(c.Now()) {
		c.SetTime(t)
	}
}

// at runs fn when the clock reaches d from now.
func (c *autoClock) at(d time.Duration, fn func()) {
	c.hooks = append(c.hooks, hook{at: c.Now().Add(d), fn: fn})
	slices.SortStableFunc(c.hooks, func(a, b hook) int { return a.at.Compare(b.at) })
}

// ctl plays a Deployment's controller and the faults of its API.
type ctl struct {
	// mode is how an updated Deployment rolls out: "healthy" (after delay
	// reads), "never", or "deadline" (its progress deadline is exceeded).
	mode  string
	delay int
	// getErr fails the n-th get (counted from 1) when it returns an error.
	getErr func(n int) error
	// onGet may change the stored Deployment before the n-th get reads it.
	onGet func(n int, d *appsv1.Deployment)
	// updateErr fails the n-th update when it returns an error; it may
	// change d, which is stored when it returns nil.
	updateErr func(n int, d *appsv1.Deployment) error

	pending       bool
	reads         int
	gets, updates int
}

// world is a set of fake clusters whose Deployments roll out as their
// ctl says, on an autoClock.
type world struct {
	t        *testing.T
	clock    *autoClock
	clusters map[string]*fake.Clientset
	ctls     map[string]*ctl
	log      bytes.Buffer
	runs     int
	// opts adjusts the Options of each run.
	opts func(*Options)
}

func newWorld(t *testing.T) *world {
	w := &world{t: t, clock: newAutoClock(), clusters: map[string]*fake.Clientset{}, ctls: map[string]*ctl{}}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", w.log.String())
		}
	})
	return w
}

// ctl returns the controller of a Deployment, created healthy after one read.
func (w *world) ctl(cluster, ns, name string) *ctl {
	key := cluster + "/" + ns + "/" + name
	c, ok := w.ctls[key]
	if !ok {
		c = &ctl{mode: "healthy", delay: 1}
		w.ctls[key] = c
	}
	return c
}

// cluster returns the fake clientset of a cluster, created with objs.
func (w *world) cluster(name string, objs ...runtime.Object) *fake.Clientset {
	if cs, ok := w.clusters[name]; ok {
		for _, o := range objs {
			if err := cs.Tracker().Add(o); err != nil {
				w.t.Fatal(err)
			}
		}
		return cs
	}
	cs := fake.NewClientset(objs...)
	tracker := cs.Tracker()
	cs.PrependReactor("get", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ga := a.(k8stesting.GetAction)
		c := w.ctl(name, ga.GetNamespace(), ga.GetName())
		c.gets++
		if c.getErr != nil {
			if err := c.getErr(c.gets); err != nil {
				return true, nil, err
			}
		}
		obj, err := tracker.Get(deploymentsGVR, ga.GetNamespace(), ga.GetName())
		if err != nil {
			return false, nil, nil
		}
		d := obj.(*appsv1.Deployment).DeepCopy()
		changed := false
		if c.pending {
			c.reads++
			changed = true
			switch {
			case c.mode == "healthy" && c.reads > c.delay:
				rolledOut(d)
				c.pending = false
			case c.mode == "deadline":
				progressing(d)
				d.Status.Conditions[0] = appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded"}
			default:
				progressing(d)
			}
		}
		if c.onGet != nil {
			c.onGet(c.gets, d)
			changed = true
		}
		if changed {
			if err := tracker.Update(deploymentsGVR, d, d.Namespace); err != nil {
				return true, nil, err
			}
		}
		return false, nil, nil
	})
	cs.PrependReactor("update", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ua := a.(k8stesting.UpdateAction)
		d := ua.GetObject().(*appsv1.Deployment)
		c := w.ctl(name, d.Namespace, d.Name)
		c.updates++
		if c.updateErr != nil {
			if err := c.updateErr(c.updates, d); err != nil {
				return true, nil, err
			}
		}
		obj, err := tracker.Get(deploymentsGVR, d.Namespace, d.Name)
		if err != nil {
			return false, nil, nil
		}
		old := obj.(*appsv1.Deployment)
		d.Status, d.Generation = old.Status, old.Generation
		if !equality.Semantic.DeepEqual(old.Spec, d.Spec) {
			d.Generation++
			c.pending, c.reads = true, 0
		}
		return false, nil, nil
	})
	w.clusters[name] = cs
	return cs
}

// add stores Deployments in the local cluster.
func (w *world) add(objs ...runtime.Object) { w.cluster("local", objs...) }

// clustersFunc reaches the world's clusters by name.
func (w *world) clustersFunc(_ context.Context, t *mapping.Target) (appsv1client.DeploymentsGetter, error) {
	cs, ok := w.clusters[t.ClusterName()]
	if !ok {
		return nil, fmt.Errorf("no cluster %s", t.ClusterName())
	}
	return ctxApps{cs.AppsV1()}, nil
}

// ctxApps gives Deployments clients that fail on a done context without
// calling the API, as client-go's REST client does; the fake clientset
// alone ignores contexts.
type ctxApps struct{ appsv1client.DeploymentsGetter }

func (a ctxApps) Deployments(ns string) appsv1client.DeploymentInterface {
	return ctxDeployments{a.DeploymentsGetter.Deployments(ns)}
}

type ctxDeployments struct {
	appsv1client.DeploymentInterface
}

func (c ctxDeployments) Get(ctx context.Context, name string, opts metav1.GetOptions) (*appsv1.Deployment, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return c.DeploymentInterface.Get(ctx, name, opts)
}

func (c ctxDeployments) Update(ctx context.Context, d *appsv1.Deployment, opts metav1.UpdateOptions) (*appsv1.Deployment, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return c.DeploymentInterface.Update(ctx, d, opts)
}

// options are the Options of the world's next run.
func (w *world) options(svc mapping.Service, target string, p Push) Options {
	w.runs++
	o := Options{
		Service: svc, Target: target, Push: p,
		RolloutTimeout: 5 * time.Minute, Poll: 2 * time.Second,
		Clock: w.clock, Log: &w.log, Workflow: fmt.Sprintf("wf-%d", w.runs),
		Clusters: w.clustersFunc,
	}
	if w.opts != nil {
		w.opts(&o)
	}
	return o
}

// run runs a step.
func (w *world) run(ctx context.Context, svc mapping.Service, target string, p Push) Result {
	return Run(ctx, w.options(svc, target, p))
}

// step runs a step a second after the last and checks its result: want
// is "outcome/exit", reason a part of the reason.
func (w *world) step(svc mapping.Service, target string, p Push, want, reason string) Result {
	w.t.Helper()
	w.clock.advance(w.clock.Now().Add(time.Second))
	res := w.run(context.Background(), svc, target, p)
	checkResult(w.t, fmt.Sprintf("%s %s", target, p.Tag), res, want, reason)
	return res
}

func checkResult(t *testing.T, what string, res Result, want, reason string) {
	t.Helper()
	if got := fmt.Sprintf("%s/%d", res.Outcome, res.Exit); got != want {
		t.Errorf("%s: result %s (%s), want %s", what, got, res.Reason, want)
	} else if !strings.Contains(res.Reason, reason) {
		t.Errorf("%s: reason %q, want it to contain %q", what, res.Reason, reason)
	}
}

// get reads a stored Deployment.
func (w *world) get(cluster, ns, name string) *appsv1.Deployment {
	w.t.Helper()
	obj, err := w.clusters[cluster].Tracker().Get(deploymentsGVR, ns, name)
	if err != nil {
		w.t.Fatal(err)
	}
	return obj.(*appsv1.Deployment)
}

// image is the image of a container of a stored Deployment.
func (w *world) image(cluster, ns, name, container string) string {
	w.t.Helper()
	c := findContainer(w.get(cluster, ns, name), container)
	if c == nil {
		w.t.Fatalf("%s/%s has no container %s", ns, name, container)
	}
	return c.Image
}

// entry is a container's recorded state on a stored Deployment.
func (w *world) entry(cluster, ns, name, container string) *Entry {
	w.t.Helper()
	e, err := ReadState(w.get(cluster, ns, name), container)
	if err != nil {
		w.t.Fatal(err)
	}
	return e
}

// actions are the API actions of a cluster, "verb resource ns/name", a
// run of the same action written once with ×count.
func (w *world) actions(cluster string) []string {
	var out []string
	var last string
	count := 0
	flush := func() {
		if count == 1 {
			out = append(out, last)
		} else if count > 1 {
			out = append(out, fmt.Sprintf("%s ×%d", last, count))
		}
	}
	for _, a := range w.clusters[cluster].Actions() {
		s := a.GetVerb() + " " + a.GetResource().Resource
		switch a := a.(type) {
		case k8stesting.GetAction:
			s += " " + a.GetNamespace() + "/" + a.GetName()
		case k8stesting.UpdateAction:
			if m, err := meta.Accessor(a.GetObject()); err == nil {
				s += " " + m.GetNamespace() + "/" + m.GetName()
			}
		}
		if s == last {
			count++
			continue
		}
		flush()
		last, count = s, 1
	}
	flush()
	return out
}

// checkActions compares a cluster's actions with want.
func (w *world) checkActions(cluster string, want ...string) {
	w.t.Helper()
	if got := w.actions(cluster); !slices.Equal(got, want) {
		w.t.Errorf("actions on %s:\n got %q\nwant %q", cluster, got, want)
	}
}

// checkEntry compares a recorded entry with want, ignoring Workflow and,
// when want has none, HealthyAt.
func checkEntry(t *testing.T, what string, got *Entry, want *Entry) {
	t.Helper()
	if got == nil || want == nil {
		if got != want {
			t.Errorf("%s: state %+v, want %+v", what, got, want)
		}
		return
	}
	g := *got
	g.Workflow = ""
	if want.HealthyAt == "" && g.HealthyAt != "" {
		g.HealthyAt = ""
	}
	if g != *want {
		t.Errorf("%s: state\n got %+v\nwant %+v", what, g, *want)
	}
}

// logLines are the lines of the world's log.
func (w *world) logLines() []string {
	return strings.Split(strings.TrimSuffix(w.log.String(), "\n"), "\n")
}
