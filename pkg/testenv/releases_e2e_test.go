//go:build e2e

package testenv_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/argodeploy/argodeploy/pkg/render"
	"github.com/argodeploy/argodeploy/pkg/rollout"
	"github.com/argodeploy/argodeploy/pkg/simulate"
	"github.com/argodeploy/argodeploy/pkg/testenv"
)

// What testdata/e2e/releases.yaml maps.
const (
	relMapping  = "../../testdata/e2e/releases.yaml"
	relRegistry = "us-east1-docker.pkg.dev/acme-rel/apps/"
	relAccount  = "rel-rollout"
	relSensor   = "rel"
)

// relRoutes are, per service, the targets a push of its image reaches, as
// the route step must print them: in mapping order, each with the lock of
// its Deployment (worker and worker-batch share prod/worker's).
var relRoutes = map[string][]rollout.Route{
	"web":          {{Service: "web", Target: "web-staging", Lock: "local.staging.web"}, {Service: "web", Target: "web-prod", Lock: "local.prod.web"}},
	"api":          {{Service: "api", Target: "api-staging", Lock: "local.staging.api"}, {Service: "api", Target: "api-prod", Lock: "local.prod.api"}},
	"worker":       {{Service: "worker", Target: "worker", Lock: "local.prod.worker"}},
	"worker-batch": {{Service: "worker-batch", Target: "worker-batch", Lock: "local.prod.worker"}},
}

// TestReleases runs the release model on the real kube-apiserver,
// deployment controller and Argo Workflows controller: for a sequence of
// pushes, the Workflow the Sensor's trigger creates (as simulate predicts
// it, created as the Sensor's account) is run by the controller, whose
// route and rollout step pods run argodeploy as the pods would with the
// generated ServiceAccount's token (runPod), the route step printing the
// targets simulate's Follow predicts, and the controller holding each
// step's lock and ending each Workflow Succeeded. One image reaches two targets; a
// staged target receives a digest only after its upstream has run it
// healthily for the soak, and never a push its upstream has replaced; two
// services in two containers of one Deployment both end on their newest
// digest whichever order their releases run in.
func TestReleases(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	e := testenv.New(t)
	step := stepper(t)
	api := startKube(ctx, e, step)
	step("start workflow-controller", func() error {
		_, err := e.StartWorkflowController(ctx, api, testenv.WithRequeueTime(time.Second))
		return err
	})

	objs := renderMapping(t, relMapping)
	applyPipeline(ctx, t, step, api, yamlOf(t, objs), pipelineN, "staging", "prod")
	createDeployments(ctx, step, api,
		targetDeployment("staging", "web", corev1.Container{Name: "web", Image: relRegistry + "web:0.9"}),
		targetDeployment("prod", "web", corev1.Container{Name: "web", Image: relRegistry + "web:0.9"}),
		targetDeployment("staging", "api", corev1.Container{Name: "api", Image: relRegistry + "api:0.9"}),
		targetDeployment("prod", "api", corev1.Container{Name: "api", Image: relRegistry + "api:0.9"}),
		targetDeployment("prod", "worker",
			corev1.Container{Name: "worker", Image: relRegistry + "worker:0.9"},
			corev1.Container{Name: "batch", Image: relRegistry + "worker-batch:0.9"}))
	if sensors := sensorsOf(objs); len(sensors) != 1 || sensors[0].Name != relSensor {
		t.Fatalf("the pipeline has Sensors %v, want one, %s", sensors, relSensor)
	}
	r := newReleaseRun(ctx, t, api, objs, newWorkflowRun(ctx, t, api, relMapping, pipelineN, relSensor))

	// One image, two targets: one push rolls both.
	a := r.push("api", "v1.0.0", "a1")
	r.run(a)
	r.wantImage("staging", "api", "api", a.digest)
	r.wantImage("prod", "api", "api", a.digest)

	// A staged target: prod only after staging has run the digest for 3s.
	b := r.push("web", "v1.0.0", "b1")
	started := time.Now()
	runs := r.run(b)
	r.wantImage("staging", "web", "web", b.digest)
	r.wantImage("prod", "web", "web", b.digest)
	if took := time.Since(started); took < 3*time.Second {
		t.Errorf("web-prod received %s %.1fs after the release began, before the 3s soak", b.digest, took.Seconds())
	}
	t.Logf("staged release of %s: %+v", b.digest, runs)

	// A push superseded during the soak never reaches prod: c and then d
	// reach staging; c's prod step finds staging on d and skips; d's rolls.
	c := r.push("web", "v1.1.0", "c1")
	d := r.push("web", "v1.2.0", "d1")
	r.run(c, "web-staging")
	r.run(d, "web-staging")
	if runs := r.run(c, "web-prod"); runs[0].exit != 0 {
		t.Errorf("superseded push: web-prod exit %d", runs[0].exit)
	}
	r.wantImage("prod", "web", "web", b.digest)
	r.run(d, "web-prod")
	r.wantImage("prod", "web", "web", d.digest)

	// Two services, two containers of one Deployment, in either order: the
	// later-published push applied first does not shadow the other.
	w1, b1 := r.push("worker", "v1.0.0", "e1"), r.push("worker-batch", "v1.0.0", "f1")
	r.run(b1)
	r.run(w1)
	r.wantImage("prod", "worker", "worker", w1.digest)
	r.wantImage("prod", "worker", "batch", b1.digest)
	w2, b2 := r.push("worker", "v1.1.0", "e2"), r.push("worker-batch", "v1.1.0", "f2")
	r.run(w2)
	r.run(b2)
	r.wantImage("prod", "worker", "worker", w2.digest)
	r.wantImage("prod", "worker", "batch", b2.digest)
	// An older push of worker arriving last is skipped.
	old := r.push("worker", "v0.9.9", "e0")
	old.at = w1.at.Add(-time.Minute)
	old.wf = r.workflow(old)
	r.run(old)
	r.wantImage("prod", "worker", "worker", w2.digest)
	r.wantAllSucceeded()
}

// releaseRun is the state of TestReleases.
type releaseRun struct {
	t          *testing.T
	ctx        context.Context
	api        *testenv.APIServer
	sim        *simulate.Pipeline
	simCluster *simulate.Cluster // what simulate's Follow plays the releases on
	kc         string
	tmpl       *wfv1.WorkflowTemplate
	at         time.Time    // the last publish time handed out
	w          *workflowRun // the real controller's, or nil: runRelease plays it
	created    int          // the release Workflows created on w
}

// newReleaseRun prepares the releases of the pipeline objs on api: the
// simulated pipeline and cluster that predict each push, and the rollout
// account's kubeconfig and WorkflowTemplate the steps run with. With w,
// the Workflows are created and run on w's controller; without, runRelease
// plays them.
func newReleaseRun(ctx context.Context, t *testing.T, api *testenv.APIServer, objs []render.Object, w *workflowRun) *releaseRun {
	t.Helper()
	sim, err := simulate.NewPipeline(render.Convert[runtime.Object](objs))
	if err != nil {
		t.Fatal(err)
	}
	simCluster, err := sim.NewCluster(nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := api.ServiceAccountKubeconfig(ctx, pipelineN, relAccount)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := loadTemplate(ctx, t, api, pipelineN, relAccount)
	return &releaseRun{t: t, ctx: ctx, api: api, sim: sim, simCluster: simCluster, kc: kc, tmpl: tmpl, at: time.Now().Add(-time.Hour), w: w}
}

// relPush is one push, the Workflow its trigger creates and the routes
// simulate predicts its route step prints.
type relPush struct {
	service, tag, digest string
	at                   time.Time
	wf                   *wfv1.Workflow
	routes               []rollout.Route

	// On the controller: the Workflow of the push now running and the
	// targets whose steps have not run yet.
	current *wfPush
	left    []string
}

// push makes a push of service's image with tag and a digest of hex
// pairs, published a second after the previous one, and the Workflow
// simulate says its trigger creates.
func (r *releaseRun) push(service, tag, pair string) *relPush {
	r.at = r.at.Add(time.Second)
	image := relRegistry + service
	p := &relPush{service: service, tag: tag, digest: image + "@sha256:" + strings.Repeat(pair, 32), at: r.at}
	p.wf = r.workflow(p)
	return p
}

// workflow is the Workflow simulate predicts for p (exactly one, from the
// Sensor's one trigger, with the push as its only arguments), named as
// its generateName says; it sets p.routes to the routes simulate's Follow
// predicts, which must be relRoutes' of p's service.
func (r *releaseRun) workflow(p *relPush) *wfv1.Workflow {
	r.t.Helper()
	image := relRegistry + p.service
	tag := image + ":" + p.tag
	data := fmt.Appendf(nil, `{"action":"INSERT","digest":%q,"tag":%q}`, p.digest, tag)
	o := r.sim.Replay(simulate.Message{ID: p.tag, Data: data, PublishTime: p.at})
	if len(o.Fired) != 1 || o.Fired[0].Workflow == nil || o.Fired[0].Sensor != pipelineN+"/"+relSensor || o.Fired[0].Name != render.TriggerName {
		r.t.Fatalf("push %s: simulate fires %+v, want trigger %s of %s/%s", data, o.Fired, render.TriggerName, pipelineN, relSensor)
	}
	w := o.Fired[0].Workflow
	wantArgs := map[string]string{render.ParamDigest: p.digest, render.ParamTag: tag, render.ParamPublishedAt: strconv.FormatInt(p.at.UnixNano(), 10), render.ParamRollback: ""}
	if !maps.Equal(w.Arguments, wantArgs) {
		r.t.Fatalf("push %s: simulate's Workflow has arguments %v, want %v", data, w.Arguments, wantArgs)
	}
	if err := r.sim.Follow(r.ctx, r.simCluster, w, p.at); err != nil {
		r.t.Fatalf("push %s: simulate's Follow: %v", data, err)
	}
	if w.Route == nil || w.Route.Exit != 0 || !slices.Equal(w.Route.Targets, relRoutes[p.service]) {
		r.t.Fatalf("push %s: simulate's route %+v, want targets %+v", data, w.Route, relRoutes[p.service])
	}
	p.routes = w.Route.Targets
	var res wfv1.Workflow
	if err := json.Unmarshal(o.Fired[0].Resource, &res); err != nil {
		r.t.Fatalf("push %s: simulate's resource: %v", data, err)
	}
	if res.GenerateName != relSensor+"-" {
		r.t.Errorf("push %s: simulate's Workflow has generateName %q, want %s-", data, res.GenerateName, relSensor)
	}
	wf := &wfv1.Workflow{ObjectMeta: metav1.ObjectMeta{Name: res.GenerateName + p.service + "-" + p.tag, Namespace: w.Namespace}}
	wf.Spec.WorkflowTemplateRef = &wfv1.WorkflowTemplateRef{Name: w.Template}
	for _, name := range render.WorkflowParams() {
		wf.Spec.Arguments.Parameters = append(wf.Spec.Arguments.Parameters, wfv1.Parameter{Name: name, Value: wfv1.AnyStringPtr(w.Arguments[name])})
	}
	return wf
}

// run runs p's release (the rollout steps of only the named targets, when
// given): its route step must print the routes simulate predicts, and a
// step run for each (or each named) with p's service. It fails the test on
// an exit other than 0.
func (r *releaseRun) run(p *relPush, only ...string) []targetRun {
	r.t.Helper()
	var runs []targetRun
	if r.w != nil {
		runs = r.runWorkflow(p, only...)
	} else {
		rel := runRelease(r.ctx, r.t, r.api, r.kc, r.tmpl, p.wf, "", only...)
		if rel.route.exit != 0 || !slices.Equal(rel.route.routes, p.routes) {
			r.t.Fatalf("%s %s: route step exit %d, routes %+v, simulate predicts %+v:\n%s", p.service, p.tag, rel.route.exit, rel.route.routes, p.routes, rel.route.log)
		}
		runs = rel.targets
	}
	want := len(p.routes)
	if len(only) > 0 {
		want = len(only)
	}
	if len(runs) != want {
		r.t.Errorf("%s %s: %d rollout steps, want %d", p.service, p.tag, len(runs), want)
	}
	for _, run := range runs {
		r.t.Logf("%s %s -> %s: exit %d\n%s", p.service, p.tag, run.target, run.exit, strings.TrimSpace(run.log))
		if run.exit != 0 || run.service != p.service {
			r.t.Errorf("%s %s -> %s of service %s: exit %d", p.service, p.tag, run.target, run.service, run.exit)
		}
	}
	return runs
}

// runWorkflow runs p's release on the controller: unless p's Workflow still
// has steps to run, it creates a new one (a delivery of p) and runs its
// route pod, which must print the routes simulate predicts; then it runs
// the rollout pods of the named targets (or of all left), one after
// another, each once the controller has created it (after its lock). When
// no step is left, the Workflow must end Succeeded.
func (r *releaseRun) runWorkflow(p *relPush, only ...string) []targetRun {
	r.t.Helper()
	w := r.w
	if len(p.left) == 0 {
		p.current = &wfPush{service: p.service, digest: p.digest, tag: relRegistry + p.service + ":" + p.tag, at: p.at}
		w.createPush(p.current)
		r.created++
		rr := w.runPod(p.current, w.waitPod(p.current, render.RouteTemplate, 0))
		var routes []rollout.Route
		if err := json.Unmarshal([]byte(rr.stdout), &routes); rr.exit != 0 || err != nil || !slices.Equal(routes, p.routes) {
			r.t.Fatalf("%s %s: route step exit %d, stdout %q, simulate predicts %+v:\n%s", p.service, p.tag, rr.exit, rr.stdout, p.routes, rr.log)
		}
		for _, rt := range routes {
			p.left = append(p.left, rt.Target)
		}
	}
	names := only
	if len(names) == 0 {
		names = slices.Clone(p.left)
	}
	var runs []targetRun
	for _, name := range names {
		i := slices.Index(p.left, name)
		if i < 0 {
			r.t.Fatalf("%s %s: no step for target %s left in Workflow %s (left: %v)", p.service, p.tag, name, p.current.Name, p.left)
		}
		p.left = slices.Delete(p.left, i, i+1)
		route := p.routes[slices.IndexFunc(p.routes, func(rt rollout.Route) bool { return rt.Target == name })]
		run := w.runPod(p.current, r.targetPod(p.current, name))
		runs = append(runs, targetRun{service: route.Service, target: name, lock: route.Lock, exit: run.exit, log: run.log})
	}
	if len(p.left) == 0 && !slices.ContainsFunc(runs, func(t targetRun) bool { return t.exit != 0 }) {
		w.waitPhase(p.current.Name, wfv1.WorkflowSucceeded, time.Minute)
	}
	return runs
}

// targetPod waits for the controller to create the rollout pod of Workflow
// p for target: the pod of the rollout node whose target input it is.
func (r *releaseRun) targetPod(p *wfPush, target string) *corev1.Pod {
	r.t.Helper()
	var pod *corev1.Pod
	r.w.poll(fmt.Sprintf("the rollout pod of %s in Workflow %s", target, p.Name), time.Minute, func() string {
		wf := r.w.get(p.Name)
		for _, candidate := range r.w.pods(p.Name, render.RolloutTemplate) {
			if n := wf.Status.Nodes[candidate.Annotations[argoAnnotationNodeID]]; inputValue(n.Inputs, render.InputTarget) == target {
				pod = &candidate
				return ""
			}
		}
		return fmt.Sprintf("phase %q; nodes:\n%s", wf.Status.Phase, nodeSummary(wf))
	})
	return pod
}

// wantAllSucceeded checks that every release Workflow (the Sensor's; the
// controller may also have started a reconcile pass, whose pod nobody
// runs here) ended Succeeded.
func (r *releaseRun) wantAllSucceeded() {
	r.t.Helper()
	var list wfv1.WorkflowList
	getJSON(r.ctx, r.t, r.api, &list, "workflows", "-n", pipelineN, "-l", "events.argoproj.io/sensor="+relSensor)
	if len(list.Items) != r.created {
		r.t.Errorf("%d release Workflows, want the %d created", len(list.Items), r.created)
	}
	failed := 0
	for _, wf := range list.Items {
		if wf.Status.Phase != wfv1.WorkflowSucceeded {
			failed++
			r.t.Errorf("Workflow %s: phase %q (%s), want Succeeded; nodes:\n%s", wf.Name, wf.Status.Phase, wf.Status.Message, nodeSummary(&wf))
		}
	}
	r.t.Logf("%d release Workflows, %d not Succeeded", len(list.Items), failed)
}

// wantImage checks the image of one container of a Deployment.
func (r *releaseRun) wantImage(namespace, name, container, want string) {
	r.t.Helper()
	d := deploymentAs(r.ctx, r.t, r.api, namespace, name)
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == container {
			if c.Image != want {
				r.t.Errorf("deployment %s/%s container %s runs %s, want %s", namespace, name, container, c.Image, want)
			}
			return
		}
	}
	r.t.Errorf("deployment %s/%s has no container %s", namespace, name, container)
}

// deploymentAs reads a Deployment as admin.
func deploymentAs(ctx context.Context, t *testing.T, api *testenv.APIServer, namespace, name string) *appsv1.Deployment {
	t.Helper()
	out, err := api.Kubectl(ctx, "", "get", "deployment", name, "-n", namespace, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var d appsv1.Deployment
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatal(err)
	}
	return &d
}
