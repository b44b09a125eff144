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

// TestReleases runs the release model on the real kube-apiserver and
// deployment controller: the Workflows simulate predicts for a sequence of
// pushes, their route step and each target's step run as their pods would
// with the generated ServiceAccount's token (runRelease), the route step
// printing the targets simulate's Follow predicts. One image reaches two targets; a
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
	r := newReleaseRun(ctx, t, api, objs)

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
	at         time.Time // the last publish time handed out
}

// newReleaseRun prepares the releases of the pipeline objs on api: the
// simulated pipeline and cluster that predict each push, and the rollout
// account's kubeconfig and WorkflowTemplate the steps run with.
func newReleaseRun(ctx context.Context, t *testing.T, api *testenv.APIServer, objs []render.Object) *releaseRun {
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
	return &releaseRun{t: t, ctx: ctx, api: api, sim: sim, simCluster: simCluster, kc: kc, tmpl: tmpl, at: time.Now().Add(-time.Hour)}
}

// relPush is one push, the Workflow its trigger creates and the routes
// simulate predicts its route step prints.
type relPush struct {
	service, tag, digest string
	at                   time.Time
	wf                   *wfv1.Workflow
	routes               []rollout.Route
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
	rel := runRelease(r.ctx, r.t, r.api, r.kc, r.tmpl, p.wf, "", only...)
	if rel.route.exit != 0 || !slices.Equal(rel.route.routes, p.routes) {
		r.t.Fatalf("%s %s: route step exit %d, routes %+v, simulate predicts %+v:\n%s", p.service, p.tag, rel.route.exit, rel.route.routes, p.routes, rel.route.log)
	}
	runs := rel.targets
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
