//go:build e2e

package testenv_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/argodeploy/argodeploy/pkg/render"
	"github.com/argodeploy/argodeploy/pkg/rollout"
	"github.com/argodeploy/argodeploy/pkg/simulate"
	"github.com/argodeploy/argodeploy/pkg/testenv"
)

// The pipelines TestWorkflowController runs on the real Argo Workflows
// controller.
const (
	wfMapping      = "../../testdata/e2e/workflows.yaml"
	wfRegistry     = "us-east1-docker.pkg.dev/acme-wf/apps/"
	wfProject      = "acme-wf"
	stuckMapping   = "../../testdata/e2e/workflows-stuck.yaml"
	stuckNamespace = "argo-stuck"
)

// Names Argo Workflows v3.7 gives its labels, annotations and containers
// (workflow/common).
const (
	argoLabelWorkflow        = "workflows.argoproj.io/workflow"
	argoLabelOutputsComplete = "workflows.argoproj.io/report-outputs-completed"
	argoAnnotationNodeID     = "workflows.argoproj.io/node-id"
	argoEnvIncludeOutput     = "ARGO_INCLUDE_SCRIPT_OUTPUT"
)

// TestWorkflowController runs the generated WorkflowTemplate on the real
// Argo Workflows controller (v3.7.9, installed with the upstream cluster
// install's RBAC), with Workflows created as the Sensor's trigger creates
// them. No kubelet runs yet: the test plays the node for each step pod the
// controller creates (runPod: it runs the pod's argodeploy command as the
// pod's main container would, then playPod writes the executor's
// WorkflowTaskResult with the pod's ServiceAccount token and sets the
// pod's status as the kubelet would). Everything the controller decides is
// its own: the template it resolves, the pods it creates, the mutex, the
// retries and their backoff, the deadline and the garbage collection.
func TestWorkflowController(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	e := testenv.New(t)
	step := stepper(t)
	ps, api, nats := startCluster(ctx, e, step)
	var wc *testenv.WorkflowController
	step("start workflow-controller", func() (err error) { wc, err = e.StartWorkflowController(ctx, api); return })
	if len(wc.Config) != 0 {
		t.Errorf("workflow-controller-configmap: %v, want the install's, empty", wc.Config)
	}

	applyPipeline(ctx, t, step, api, generateWith(t, wfMapping), pipelineN, "shop")
	// The stuck pipeline writes its Namespace first (createNamespace), so
	// it is applied as is: a server-side dry run would not find the
	// namespace its other objects go to.
	step("apply the stuck pipeline", func() error {
		_, err := api.Kubectl(ctx, generateWith(t, stuckMapping), "apply", "-f", "-")
		return err
	})
	var targets []string
	for _, name := range []string{"web", "api", "stuck"} {
		targets = append(targets, targetDeployment("shop", name, corev1.Container{Name: name, Image: wfRegistry + name + ":0.9"}))
	}
	createDeployments(ctx, step, api, targets...)
	w := newWorkflowRun(ctx, t, api, wfMapping, pipelineN, "wf")
	stuck := newWorkflowRun(ctx, t, api, stuckMapping, stuckNamespace, "stuck")
	// The wf pipeline's EventSource and Sensor run, for its first push.
	sensors := sensorsOf(renderMapping(t, wfMapping))
	if len(sensors) != 1 || sensors[0].Name != "wf" {
		t.Fatalf("the wf pipeline has Sensors %v, want one, wf", sensors)
	}
	chain := testenv.Pipeline{API: api, NATS: nats, PubSub: ps}
	step("create topic gcr", func() error { return ps.CreateTopic(ctx, wfProject, "gcr") })
	step("start eventsource", func() error { _, err := startEventSource(ctx, e, chain, "wf"); return err })
	step("start sensor", func() error { _, err := startSensor(ctx, e, chain, nats, sensors[0]); return err })

	// A Workflow whose step never runs: its pod stays Pending (say, on a
	// node that cannot pull its image). Created first: its deadline, which
	// the generator derives from the mapping's durations, is two minutes
	// away. Its namespace enforces Pod Security baseline, which the
	// controller's pod (the executor's init and wait containers beside
	// argodeploy's) must meet to be created.
	sw := stuck.create("stuck", "v1", "5a")
	stuckPod := stuck.waitPod(sw, render.RouteTemplate, 0)
	deadline := stuck.tmpl.Spec.ActiveDeadlineSeconds
	if deadline == nil || *deadline > 180 {
		t.Fatalf("WorkflowTemplate %s: activeDeadlineSeconds %v, want the shortest the mapping allows", stuck.tmpl.Name, deadline)
	}
	// The controller hands the Workflow's deadline down to the pod, where
	// the kubelet enforces it.
	if d := stuckPod.Spec.ActiveDeadlineSeconds; d == nil || *d > *deadline || *d < *deadline-30 {
		t.Errorf("pod %s: activeDeadlineSeconds %v, want what is left of the Workflow's %d", stuckPod.Name, d, *deadline)
	}

	// The first release of web, published to Pub/Sub: the Sensor creates
	// its Workflow, the controller resolves the template and creates the
	// route step's pod.
	w1 := w.publish(ps, "web", "v1", "a1")
	route1 := w.waitPod(w1, render.RouteTemplate, 0)
	w.checkPod(w1, route1, render.RouteTemplate, nil)
	wf := w.get(w1.Name)
	if wf.Status.Phase != wfv1.WorkflowRunning {
		t.Errorf("Workflow %s: phase %q while its route pod is pending, want Running", wf.Name, wf.Status.Phase)
	}
	if spec := wf.Status.StoredWorkflowSpec; spec == nil || !equality.Semantic.DeepEqual(spec.Templates, w.tmpl.Spec.Templates) {
		t.Errorf("Workflow %s: the controller stored templates that are not the WorkflowTemplate's", wf.Name)
	}

	// The route step prints web's one target; the controller runs the
	// rollout step over it, under the target's lock.
	rr := w.runPod(w1, route1)
	var routes []rollout.Route
	if err := json.Unmarshal([]byte(rr.stdout), &routes); rr.exit != 0 || err != nil || len(routes) != 1 {
		t.Fatalf("route step of %s: exit %d, stdout %q (%v), want one route", w1.Name, rr.exit, rr.stdout, err)
	}
	roll1 := w.waitPod(w1, render.RolloutTemplate, 0)
	if n := w.node(w.get(w1.Name), render.RouteTemplate, wfv1.NodeTypeRetry); n.Outputs == nil || n.Outputs.Result == nil || *n.Outputs.Result != strings.TrimSuffix(rr.stdout, "\n") {
		t.Errorf("Workflow %s: route node outputs %+v, want the result %q", w1.Name, n.Outputs, rr.stdout)
	}
	w.checkPod(w1, roll1, render.RolloutTemplate, map[string]string{render.InputService: "web", render.InputTarget: "web", render.InputLock: "local.shop.web"})
	w.wantHolding(w1.Name, "local.shop.web")

	// A second release of web waits for the lock: its rollout node is
	// pending with no pod, and the Workflow's status says what it waits for.
	w2 := w.create("web", "v2", "b2")
	w.runPod(w2, w.waitPod(w2, render.RouteTemplate, 0))
	w.wantWaiting(w2.Name, "local.shop.web")
	if pods := w.pods(w2.Name, render.RolloutTemplate); len(pods) != 0 {
		t.Errorf("Workflow %s: a rollout pod %s while %s holds the lock", w2.Name, pods[0].Name, w1.Name)
	}

	// A release of api runs beside them: another lock.
	w3 := w.create("api", "v1", "c3")
	w.runPod(w3, w.waitPod(w3, render.RouteTemplate, 0))
	roll3 := w.waitPod(w3, render.RolloutTemplate, 0)
	w.wantHolding(w3.Name, "local.shop.api")

	// w1's rollout runs (argodeploy rollout as the generated
	// ServiceAccount): web is rolled, w1 succeeds, its pods are removed
	// (podGC OnPodSuccess) and the lock passes to w2.
	if run := w.runPod(w1, roll1); run.exit != 0 {
		t.Fatalf("rollout of %s: exit %d:\n%s", w1.Name, run.exit, run.log)
	}
	w.waitPhase(w1.Name, wfv1.WorkflowSucceeded, time.Minute)
	w.wantImage("web", w1.digest)
	roll2 := w.waitPod(w2, render.RolloutTemplate, 0)
	w.wantHolding(w2.Name, "local.shop.web")
	w.waitNoPods(w1.Name, time.Minute)

	// Retries: a transient failure (exit 1) is retried after the backoff
	// (3s), a permanent one (exit 2) is not, whatever the limit (2) left.
	failed := w.playPod(w2, roll2, 1, "")
	roll2b := w.waitPod(w2, render.RolloutTemplate, 1)
	if wait := roll2b.CreationTimestamp.Sub(failed); wait < 3*time.Second-time.Second {
		t.Errorf("Workflow %s: retry pod %s created %s after the failure, before the 3s backoff", w2.Name, roll2b.Name, wait)
	} else {
		t.Logf("retry of %s: pod %s created %s after the failed attempt ended", w2.Name, roll2b.Name, wait.Round(10*time.Millisecond))
	}
	w.checkPod(w2, roll2b, render.RolloutTemplate, map[string]string{render.InputService: "web", render.InputTarget: "web", render.InputLock: "local.shop.web"})
	w.playPod(w2, roll2b, 2, "")
	r := w.waitPhase(w2.Name, wfv1.WorkflowFailed, time.Minute)
	retry := w.node(r, render.RolloutTemplate, wfv1.NodeTypeRetry)
	if got := len(retry.Children); got != 2 || retry.Phase != wfv1.NodeFailed || !strings.Contains(retry.Message, "retryStrategy.expression evaluated to false") {
		t.Errorf("Workflow %s: retry node %s: %d attempts, phase %s, message %q; want 2 attempts, the second's exit 2 refused by the expression", r.Name, retry.Name, got, retry.Phase, retry.Message)
	}
	time.Sleep(7 * time.Second) // longer than the next backoff (6s): still no third attempt
	if pods := w.pods(w2.Name, render.RolloutTemplate); len(pods) != 2 {
		t.Errorf("Workflow %s: %d rollout pods after the exit 2, want 2 (no retry)", w2.Name, len(pods))
	}
	w.wantImage("web", w1.digest)

	w.runPod(w3, roll3)
	w.waitPhase(w3.Name, wfv1.WorkflowSucceeded, time.Minute)
	w.wantImage("api", w3.digest)

	// Pod Security restricted in the pipeline's namespace: argodeploy's
	// containers meet it, Argo's init and wait containers only with the
	// controller's executor.securityContext (what the README says). Without
	// it the admission refuses every attempt's pod, naming only Argo's
	// containers; with it (the controller reloads its ConfigMap) the pod is
	// admitted.
	step("enforce restricted in "+pipelineN, func() error {
		_, err := api.Kubectl(ctx, "", "label", "namespace", pipelineN, "--overwrite", "pod-security.kubernetes.io/enforce=restricted")
		return err
	})
	w4 := w.create("api", "v2", "d4")
	r = w.waitPhase(w4.Name, wfv1.WorkflowFailed, time.Minute)
	attempts := 0
	for _, n := range r.Status.Nodes {
		if n.Type != wfv1.NodeTypePod {
			continue
		}
		attempts++
		if n.Phase != wfv1.NodeError || !strings.Contains(n.Message, "violates PodSecurity") || !strings.Contains(n.Message, `"init", "wait"`) || strings.Contains(n.Message, "main") {
			t.Errorf("Workflow %s: node %s %s %q, want refused by Pod Security for the init and wait containers alone", r.Name, n.Name, n.Phase, n.Message)
		}
	}
	t.Logf("Workflow %s failed: %s; nodes:\n%s", r.Name, r.Status.Message, nodeSummary(r))
	if attempts != 3 {
		t.Errorf("Workflow %s: %d attempts at its route pod, want 3 (an Error is retried, limit 2); nodes:\n%s", r.Name, attempts, nodeSummary(r))
	}
	executor := "securityContext:\n  allowPrivilegeEscalation: false\n  capabilities:\n    drop: [ALL]\n"
	step("set executor.securityContext", func() error {
		const updated = "Configuration updated"
		log, err := os.ReadFile(wc.Proc.LogPath)
		if err != nil {
			return err
		}
		patch, _ := json.Marshal(map[string]any{"data": map[string]string{"executor": executor}})
		if _, err := api.Kubectl(ctx, "", "patch", "configmap", testenv.WorkflowsConfigMap, "-n", testenv.WorkflowsNamespace, "--type", "merge", "-p", string(patch)); err != nil {
			return err
		}
		return testenv.WaitForLogCount(ctx, wc.Proc, updated, bytes.Count(log, []byte(updated))+1, 30*time.Second)
	})
	w5 := w.create("api", "v3", "e5")
	route5 := w.waitPod(w5, render.RouteTemplate, 0)
	for _, c := range append(slices.Clone(route5.Spec.InitContainers), route5.Spec.Containers...) {
		if sc := c.SecurityContext; c.Name != "main" && (sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation) {
			t.Errorf("pod %s: container %s has securityContext %+v, want the executor's", route5.Name, c.Name, sc)
		}
	}
	w.checkPod(w5, route5, render.RouteTemplate, nil)
	step("stop the release and enforce baseline again", func() error {
		if _, err := api.Kubectl(ctx, "", "delete", "workflow", w5.Name, "-n", pipelineN); err != nil {
			return err
		}
		_, err := api.Kubectl(ctx, "", "label", "namespace", pipelineN, "--overwrite", "pod-security.kubernetes.io/enforce-")
		return err
	})

	// The garbage collection: each finished Workflow is deleted 20s (the
	// mapping's ttl) after it ended.
	for _, p := range []*wfPush{w1, w2, w3} {
		ended, gone := w.waitDeleted(p.Name, time.Minute)
		if after := gone.Sub(ended); after < 20*time.Second-time.Second || after > 20*time.Second+10*time.Second {
			t.Errorf("Workflow %s ended at %s and was deleted %s later, want the ttl 20s", p.Name, ended.Format(time.RFC3339), after)
		} else {
			t.Logf("Workflow %s deleted %s after it ended (ttl 20s)", p.Name, after.Round(100*time.Millisecond))
		}
	}

	// The stuck pipeline's reconcile CronWorkflow runs every minute: the
	// cron controller starts a pass as the reconcile ServiceAccount, with
	// the bus Secret mounted. Its pod never runs here, so the next
	// minute's pass is not started (concurrencyPolicy: Forbid).
	var cron wfv1.CronWorkflow
	getJSON(ctx, t, api, &cron, "cronworkflow", "stuck-reconcile", "-n", stuckNamespace)
	passes := stuck.cronPasses(cron.Name, 1, time.Minute)
	pass := &wfPush{Name: passes[0]}
	checkStepPod(t, &cron.Spec.WorkflowSpec, stuck.waitPod(pass, render.ReconcileTemplate, 0), render.ReconcileTemplate, "the reconcile pass "+pass.Name, func(s string) string { return s })
	if err := testenv.WaitForLog(ctx, wc.Proc, cron.Name+" has 'ConcurrencyPolicy: Forbid' and has an active Workflow so it was not run", 90*time.Second); err != nil {
		t.Error(err)
	}
	if got := stuck.cronPasses(cron.Name, 1, 0); len(got) != 1 {
		t.Errorf("CronWorkflow %s started %v while its first pass runs, want only %s", cron.Name, got, pass.Name)
	}

	// The stuck Workflow: its pod is failed by the kubelet at its
	// deadline, and the controller fails the Workflow.
	stuck.playDeadline(stuckPod)
	r = stuck.waitPhase(sw.Name, wfv1.WorkflowFailed, time.Minute)
	took := r.Status.FinishedAt.Sub(r.Status.StartedAt.Time)
	if want := time.Duration(*deadline) * time.Second; took < want-time.Second || took > want+30*time.Second {
		t.Errorf("Workflow %s: ended %s after it started (%q), want failed at its deadline %s; nodes:\n%s", r.Name, took, r.Status.Message, want, nodeSummary(r))
	} else {
		t.Logf("Workflow %s failed %s after it started: %q; nodes:\n%s", r.Name, took.Round(100*time.Millisecond), r.Status.Message, nodeSummary(r))
	}
}

// workflowRun is one pipeline run on the real controller.
type workflowRun struct {
	t         *testing.T
	ctx       context.Context
	api       *testenv.APIServer
	ns        string
	name      string // the pipeline's
	sim       *simulate.Pipeline
	tmpl      *wfv1.WorkflowTemplate
	sensorKC  string // acts as the Sensor's ServiceAccount
	stepKC    string // as the Workflow's
	stepToken string
	at        time.Time

	mu      sync.Mutex
	seen    map[string]time.Time // by the watch: when each Workflow was first seen
	ended   map[string]time.Time // when each Workflow ended
	deleted map[string]time.Time // and when the apiserver announced its deletion
}

func newWorkflowRun(ctx context.Context, t *testing.T, api *testenv.APIServer, mappingFile, ns, name string) *workflowRun {
	t.Helper()
	sim, err := simulate.NewPipeline(render.Convert[runtime.Object](renderMapping(t, mappingFile)))
	if err != nil {
		t.Fatal(err)
	}
	w := &workflowRun{t: t, ctx: ctx, api: api, ns: ns, name: name, sim: sim, at: time.Now().Add(-time.Hour)}
	w.tmpl = loadTemplate(ctx, t, api, ns, name+"-rollout")
	if w.sensorKC, err = api.ServiceAccountKubeconfig(ctx, ns, name+"-sensor"); err != nil {
		t.Fatal(err)
	}
	if w.stepKC, err = api.ServiceAccountKubeconfig(ctx, ns, w.tmpl.Spec.ServiceAccountName); err != nil {
		t.Fatal(err)
	}
	if w.stepToken, err = api.CreateToken(ctx, ns, w.tmpl.Spec.ServiceAccountName); err != nil {
		t.Fatal(err)
	}
	w.seen, w.ended, w.deleted = map[string]time.Time{}, map[string]time.Time{}, map[string]time.Time{}
	watchEach(ctx, t, api, &w.mu, func(ev testenv.WatchEvent, wf *wfv1.Workflow) {
		if _, ok := w.seen[wf.Name]; !ok {
			w.seen[wf.Name] = ev.Seen
		}
		if !wf.Status.FinishedAt.IsZero() {
			w.ended[wf.Name] = wf.Status.FinishedAt.Time
		}
		if ev.Type == "DELETED" {
			w.deleted[wf.Name] = ev.Seen
		}
	}, "workflows", "-n", ns)
	return w
}

// watchEach watches objects (kubectl get ARGS --watch) and calls each, under
// mu, with every event and its object decoded as a T, until ctx ends.
func watchEach[T any](ctx context.Context, t *testing.T, api *testenv.APIServer, mu *sync.Mutex, each func(testenv.WatchEvent, *T), args ...string) {
	t.Helper()
	events, err := api.Watch(ctx, args...)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for ev := range events {
			var obj T
			if json.Unmarshal(ev.Object, &obj) != nil {
				continue
			}
			mu.Lock()
			each(ev, &obj)
			mu.Unlock()
		}
	}()
}

// generateWith is what `argodeploy generate -f FILE` prints.
func generateWith(t *testing.T, file string) string {
	t.Helper()
	bin, err := argodeployBinary()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "generate", "-f", file).Output()
	if err != nil {
		t.Fatalf("argodeploy generate -f %s: %v", file, err)
	}
	return string(out)
}

// wfPush is a Workflow created for a push.
type wfPush struct {
	Name, service, digest, tag string
	at                         time.Time // its publish time, as the Workflow's parameter has it
	sent                       time.Time // publishImage: when the test published it
}

// create publishes nothing: it creates, as the Sensor's ServiceAccount,
// the Workflow the Sensor's trigger creates for a push of service's image
// (simulate's Replay of the message gives the resource after the trigger's
// parameters; the labels are those the trigger adds on create).
func (w *workflowRun) create(service, tag, pair string) *wfPush {
	w.t.Helper()
	image := wfRegistry + service
	return w.push(service, image+"@sha256:"+strings.Repeat(pair, 32), image+":"+tag)
}

// push is create for a push of digest (REPO@sha256:...) and tag
// (REPO:TAG), e.g. of an image the node holds, published a second after
// the previous one.
func (w *workflowRun) push(service, digest, tag string) *wfPush {
	w.t.Helper()
	w.at = w.at.Add(time.Second)
	p := &wfPush{service: service, digest: digest, tag: tag, at: w.at}
	w.createPush(p)
	return p
}

// createPush creates, as the Sensor's ServiceAccount, the Workflow the
// Sensor's trigger creates for push p (its service, digest, tag and publish
// time), and sets p.Name to the name the apiserver gave it.
func (w *workflowRun) createPush(p *wfPush) {
	w.t.Helper()
	data := fmt.Appendf(nil, `{"action":"INSERT","digest":%q,"tag":%q}`, p.digest, p.tag)
	o := w.sim.Replay(simulate.Message{ID: p.tag, Data: data, PublishTime: p.at})
	if len(o.Fired) != 1 || o.Fired[0].Name != render.TriggerName {
		w.t.Fatalf("push %s: simulate fires %+v, want the trigger %s", data, o.Fired, render.TriggerName)
	}
	var obj map[string]any
	if err := json.Unmarshal(o.Fired[0].Resource, &obj); err != nil {
		w.t.Fatal(err)
	}
	meta := obj["metadata"].(map[string]any)
	labels, _ := meta["labels"].(map[string]any)
	if labels == nil {
		labels = map[string]any{}
	}
	labels["events.argoproj.io/sensor"] = w.name
	labels["events.argoproj.io/trigger"] = render.TriggerName
	labels["events.argoproj.io/action-timestamp"] = strconv.FormatInt(time.Now().UnixMilli(), 10)
	meta["labels"] = labels
	b, err := json.Marshal(obj)
	if err != nil {
		w.t.Fatal(err)
	}
	out, err := w.api.KubectlAs(w.ctx, w.sensorKC, string(b), "create", "-f", "-", "-o", "jsonpath={.metadata.name}")
	if err != nil {
		w.t.Fatalf("creating the Workflow of %s as %s-sensor: %v", data, w.name, err)
	}
	p.Name = strings.TrimSpace(out)
	w.t.Logf("push %s %s: Workflow %s/%s", p.service, p.tag, w.ns, p.Name)
}

// publish publishes a push of service's image to the emulator's topic and
// waits for the Workflow the Sensor creates for it.
func (w *workflowRun) publish(ps *testenv.PubSub, service, tag, pair string) *wfPush {
	w.t.Helper()
	image := wfRegistry + service
	return w.publishImage(ps, service, image+"@sha256:"+strings.Repeat(pair, 32), image+":"+tag)
}

// publishImage publishes a push of digest (REPO@sha256:...) and tag
// (REPO:TAG) to the emulator's topic and waits for the Workflow the Sensor
// creates for it. p.sent is when the publish call began.
func (w *workflowRun) publishImage(ps *testenv.PubSub, service, digest, tag string) *wfPush {
	w.t.Helper()
	p := &wfPush{service: service, digest: digest, tag: tag}
	msg := fmt.Sprintf(`{"action":"INSERT","digest":%q,"tag":%q}`, p.digest, p.tag)
	p.sent = time.Now()
	if _, err := ps.Publish(w.ctx, wfProject, "gcr", []byte(msg)); err != nil {
		w.t.Fatal(err)
	}
	wf, err := waitForWorkflow(w.ctx, w.api, w.name, p.digest, 90*time.Second)
	if err != nil {
		w.t.Fatal(err)
	}
	params := workflowArgs(w.t, wf, p.digest, p.tag)
	ns, _ := strconv.ParseInt(params[render.ParamPublishedAt], 10, 64)
	p.Name, p.at = wf.Name, time.Unix(0, ns)
	if wf.Labels["events.argoproj.io/sensor"] != w.name {
		w.t.Errorf("Workflow %s: labels %v, want the Sensor %s's", wf.Name, wf.Labels, w.name)
	}
	w.t.Logf("published %s: the Sensor created Workflow %s/%s", msg, w.ns, p.Name)
	return p
}

// seenAt is when the watch first saw Workflow name.
func (w *workflowRun) seenAt(name string) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seen[name]
}

// get reads a Workflow.
func (w *workflowRun) get(name string) *wfv1.Workflow {
	w.t.Helper()
	var wf wfv1.Workflow
	getJSON(w.ctx, w.t, w.api, &wf, "workflow", name, "-n", w.ns)
	return &wf
}

// poll calls check every 250ms until it returns "", and fails the test with
// its last answer after timeout.
func (w *workflowRun) poll(what string, timeout time.Duration, check func() string) {
	w.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		why := check()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("%s: not after %s: %s", what, timeout, why)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// waitPhase waits until a Workflow is in phase.
func (w *workflowRun) waitPhase(name string, phase wfv1.WorkflowPhase, timeout time.Duration) *wfv1.Workflow {
	w.t.Helper()
	var wf *wfv1.Workflow
	w.poll("Workflow "+name+" "+string(phase), timeout, func() string {
		wf = w.get(name)
		if wf.Status.Phase == phase {
			return ""
		}
		if wf.Status.Phase.Completed() {
			w.t.Fatalf("Workflow %s ended %s (%s), want %s; nodes:\n%s", name, wf.Status.Phase, wf.Status.Message, phase, nodeSummary(wf))
		}
		return fmt.Sprintf("phase %q %s; nodes:\n%s", wf.Status.Phase, wf.Status.Message, nodeSummary(wf))
	})
	return wf
}

// waitDeleted waits until a Workflow is deleted and returns when it
// ended (its status.finishedAt) and when the apiserver announced its
// deletion.
func (w *workflowRun) waitDeleted(name string, timeout time.Duration) (ended, deleted time.Time) {
	w.t.Helper()
	w.poll("Workflow "+name+" deleted", timeout, func() string {
		w.mu.Lock()
		defer w.mu.Unlock()
		ended, deleted = w.ended[name], w.deleted[name]
		if deleted.IsZero() || ended.IsZero() {
			return fmt.Sprintf("ended %s, deleted %s", ended, deleted)
		}
		return ""
	})
	return ended, deleted
}

// nodeSummary lists a Workflow's nodes for a failure message.
func nodeSummary(wf *wfv1.Workflow) string {
	var lines []string
	for _, n := range wf.Status.Nodes {
		lines = append(lines, fmt.Sprintf("  %s %s %s %q", n.Type, n.Name, n.Phase, n.Message))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// node finds a Workflow's one node of a template and type.
func (w *workflowRun) node(wf *wfv1.Workflow, template string, typ wfv1.NodeType) wfv1.NodeStatus {
	w.t.Helper()
	var found []wfv1.NodeStatus
	for _, n := range wf.Status.Nodes {
		if n.TemplateName == template && n.Type == typ {
			found = append(found, n)
		}
	}
	if len(found) != 1 {
		w.t.Fatalf("Workflow %s: %d %s nodes of template %s, want 1; nodes:\n%s", wf.Name, len(found), typ, template, nodeSummary(wf))
	}
	return found[0]
}

// pods lists a Workflow's pods of a template, oldest first.
func (w *workflowRun) pods(wfName, template string) []corev1.Pod {
	w.t.Helper()
	var list corev1.PodList
	getJSON(w.ctx, w.t, w.api, &list, "pods", "-n", w.ns, "-l", argoLabelWorkflow+"="+wfName)
	wf := w.get(wfName)
	var pods []corev1.Pod
	for _, p := range list.Items {
		n, ok := wf.Status.Nodes[p.Annotations[argoAnnotationNodeID]]
		if ok && n.TemplateName == template {
			pods = append(pods, p)
		}
	}
	slices.SortFunc(pods, func(a, b corev1.Pod) int { return a.CreationTimestamp.Compare(b.CreationTimestamp.Time) })
	return pods
}

// waitPod waits for the controller to create a Workflow's i-th pod of a
// template.
func (w *workflowRun) waitPod(p *wfPush, template string, i int) *corev1.Pod {
	w.t.Helper()
	var pod *corev1.Pod
	w.poll(fmt.Sprintf("pod %d of %s in Workflow %s", i, template, p.Name), time.Minute, func() string {
		pods := w.pods(p.Name, template)
		if len(pods) > i {
			pod = &pods[i]
			return ""
		}
		wf := w.get(p.Name)
		return fmt.Sprintf("%d pods; phase %q; nodes:\n%s", len(pods), wf.Status.Phase, nodeSummary(wf))
	})
	return pod
}

// waitNoPods waits until a Workflow has no pods left.
func (w *workflowRun) waitNoPods(wfName string, timeout time.Duration) {
	w.t.Helper()
	w.poll("pods of "+wfName+" removed", timeout, func() string {
		out, err := w.api.Kubectl(w.ctx, "", "get", "pods", "-n", w.ns, "-l", argoLabelWorkflow+"="+wfName, "-o", "name")
		if err != nil {
			return err.Error()
		}
		return strings.TrimSpace(out)
	})
}

// wantHolding waits until a Workflow holds the lock.
func (w *workflowRun) wantHolding(wfName, lock string) {
	w.t.Helper()
	key := w.ns + "/Mutex/" + lock
	w.poll("Workflow "+wfName+" holds "+key, 30*time.Second, func() string {
		wf := w.get(wfName)
		if s := wf.Status.Synchronization; s != nil && s.Mutex != nil {
			for _, h := range s.Mutex.Holding {
				if h.Mutex == key {
					// The holder is NAMESPACE/WORKFLOW/NODE, the node the
					// rollout step's.
					id, ok := strings.CutPrefix(h.Holder, w.ns+"/"+wfName+"/")
					if n, found := wf.Status.Nodes[id]; !ok || !found || n.TemplateName != render.RolloutTemplate {
						return fmt.Sprintf("holder %q is not a rollout node of %s", h.Holder, wfName)
					}
					return ""
				}
			}
		}
		return fmt.Sprintf("synchronization %+v", wf.Status.Synchronization)
	})
}

// wantWaiting waits until a Workflow waits for the lock: its status says
// so, and its rollout node is pending with a message naming the lock.
func (w *workflowRun) wantWaiting(wfName, lock string) {
	w.t.Helper()
	key := w.ns + "/Mutex/" + lock
	w.poll("Workflow "+wfName+" waits for "+key, 30*time.Second, func() string {
		wf := w.get(wfName)
		s := wf.Status.Synchronization
		if s == nil || s.Mutex == nil || !slices.ContainsFunc(s.Mutex.Waiting, func(h wfv1.MutexHolding) bool { return h.Mutex == key }) {
			return fmt.Sprintf("synchronization %+v", s)
		}
		for _, n := range wf.Status.Nodes {
			if n.TemplateName == render.RolloutTemplate && n.Phase == wfv1.NodePending && strings.Contains(n.Message, key) {
				return ""
			}
		}
		return "no pending rollout node names the lock; nodes:\n" + nodeSummary(wf)
	})
}

// wantImage checks the image of deployment shop/NAME's container NAME.
func (w *workflowRun) wantImage(name, digest string) {
	w.t.Helper()
	d := deploymentAs(w.ctx, w.t, w.api, "shop", name)
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == name && c.Image != digest {
			w.t.Errorf("deployment shop/%s runs %s, want %s", name, c.Image, digest)
		}
	}
}

// checkPod checks a step pod the controller created against the
// WorkflowTemplate: the template's ServiceAccount, pod security context
// and volumes; its main container the template's container with the
// push's values and the step's inputs substituted, run through Argo's
// executor (emissary) of the default image.
func (w *workflowRun) checkPod(p *wfPush, pod *corev1.Pod, template string, inputs map[string]string) {
	w.t.Helper()
	subst := func(s string) string {
		s = strings.ReplaceAll(s, "{{workflow.parameters."+render.ParamDigest+"}}", p.digest)
		s = strings.ReplaceAll(s, "{{workflow.parameters."+render.ParamTag+"}}", p.tag)
		s = strings.ReplaceAll(s, "{{workflow.parameters."+render.ParamPublishedAt+"}}", strconv.FormatInt(p.at.UnixNano(), 10))
		s = strings.ReplaceAll(s, "{{workflow.name}}", p.Name)
		s = strings.ReplaceAll(s, "{{workflow.parameters."+render.ParamRollback+"}}", "") // the template's default
		for k, v := range inputs {
			s = strings.ReplaceAll(s, "{{inputs.parameters."+k+"}}", v)
		}
		return s
	}
	checkStepPod(w.t, &w.tmpl.Spec, pod, template, fmt.Sprintf("pod %s (%s of %s)", pod.Name, template, p.Name), subst)
}

// checkStepPod checks a pod the controller created for template of spec:
// the spec's ServiceAccount, pod security context and volumes; its main
// container the template's container with subst applied, run through
// Argo's executor (emissary) of the default image.
func checkStepPod(t *testing.T, spec *wfv1.WorkflowSpec, pod *corev1.Pod, template, where string, subst func(string) string) {
	t.Helper()
	var tmpl *wfv1.Template
	for i := range spec.Templates {
		if spec.Templates[i].Name == template {
			tmpl = &spec.Templates[i]
		}
	}
	if tmpl == nil || tmpl.Container == nil {
		t.Fatalf("%s: no container template %s", where, template)
	}
	if pod.Spec.ServiceAccountName != spec.ServiceAccountName {
		t.Errorf("%s: serviceAccountName %q, want %q", where, pod.Spec.ServiceAccountName, spec.ServiceAccountName)
	}
	if !equality.Semantic.DeepEqual(pod.Spec.SecurityContext, spec.SecurityContext) {
		t.Errorf("%s: securityContext %+v, want the template's %+v", where, pod.Spec.SecurityContext, spec.SecurityContext)
	}
	for _, v := range spec.Volumes {
		i := slices.IndexFunc(pod.Spec.Volumes, func(pv corev1.Volume) bool { return pv.Name == v.Name })
		if i < 0 {
			t.Errorf("%s: no volume %s", where, v.Name)
			continue
		}
		got := pod.Spec.Volumes[i].VolumeSource
		want := v.VolumeSource
		// The apiserver defaults the modes.
		if want.Projected != nil && got.Projected != nil && want.Projected.DefaultMode == nil {
			got.Projected = got.Projected.DeepCopy()
			got.Projected.DefaultMode = nil
		}
		if want.Secret != nil && got.Secret != nil && want.Secret.DefaultMode == nil {
			got.Secret = got.Secret.DeepCopy()
			got.Secret.DefaultMode = nil
		}
		if !equality.Semantic.DeepEqual(got, want) {
			t.Errorf("%s: volume %s is %+v, want the template's %+v", where, v.Name, got, want)
		}
	}
	for _, ic := range pod.Spec.InitContainers {
		if ic.Image != testenv.ExecutorImage {
			t.Errorf("%s: init container %s runs %s, want the default executor %s", where, ic.Name, ic.Image, testenv.ExecutorImage)
		}
	}
	var main *corev1.Container
	for i, c := range pod.Spec.Containers {
		switch c.Name {
		case "main":
			main = &pod.Spec.Containers[i]
		case "wait":
			if c.Image != testenv.ExecutorImage {
				t.Errorf("%s: wait container runs %s, want %s", where, c.Image, testenv.ExecutorImage)
			}
		default:
			t.Errorf("%s: unexpected container %s", where, c.Name)
		}
	}
	if main == nil {
		t.Fatalf("%s: no main container", where)
	}
	want := tmpl.Container
	cmd, args := emissaryArgv(main)
	wantArgv := append(slices.Clone(want.Command), want.Args...)
	for i := range wantArgv {
		wantArgv[i] = subst(wantArgv[i])
	}
	if got := append(cmd, args...); !slices.Equal(got, wantArgv) {
		t.Errorf("%s: runs %q, want %q", where, got, wantArgv)
	}
	if main.Image != want.Image || main.ImagePullPolicy != want.ImagePullPolicy {
		t.Errorf("%s: image %s (%s), want %s (%s)", where, main.Image, main.ImagePullPolicy, want.Image, want.ImagePullPolicy)
	}
	if !equality.Semantic.DeepEqual(main.SecurityContext, want.SecurityContext) || !equality.Semantic.DeepEqual(main.Resources, want.Resources) {
		t.Errorf("%s: securityContext %+v and resources %+v, want the template's", where, main.SecurityContext, main.Resources)
	}
	for _, ev := range want.Env {
		i := slices.IndexFunc(main.Env, func(e corev1.EnvVar) bool { return e.Name == ev.Name })
		wantEv := *ev.DeepCopy()
		wantEv.Value = subst(ev.Value)
		if f := wantEv.ValueFrom; f != nil && f.FieldRef != nil && f.FieldRef.APIVersion == "" {
			f.FieldRef.APIVersion = "v1" // the apiserver's default
		}
		if i < 0 || !equality.Semantic.DeepEqual(main.Env[i], wantEv) {
			t.Errorf("%s: env %s, want %+v", where, ev.Name, wantEv)
		}
	}
	for _, vm := range want.VolumeMounts {
		if !slices.ContainsFunc(main.VolumeMounts, func(m corev1.VolumeMount) bool { return equality.Semantic.DeepEqual(m, vm) }) {
			t.Errorf("%s: no volume mount %+v", where, vm)
		}
	}
}

// emissaryArgv is what the emissary executor runs in a main container:
// the arguments after "--" of argoexec emissary, and the container's args.
func emissaryArgv(c *corev1.Container) (command, args []string) {
	i := slices.Index(c.Command, "--")
	if i < 0 || !slices.Contains(c.Command[:i], "emissary") {
		return c.Command, c.Args
	}
	return slices.Clone(c.Command[i+1:]), c.Args
}

// runPod plays the node for a step pod: it runs the pod's argodeploy
// command as the pod's main container would (runContainer: the
// template's volumes, the pod's environment, the step ServiceAccount's
// token), then reports its end as the executor and the kubelet would
// (playPod).
func (w *workflowRun) runPod(p *wfPush, pod *corev1.Pod) containerRun {
	w.t.Helper()
	var main corev1.Container
	for _, c := range pod.Spec.Containers {
		if c.Name == "main" {
			main = *c.DeepCopy()
		}
	}
	main.Command, main.Args = emissaryArgv(&main)
	// The executor's own variables and volume are not argodeploy's.
	main.Env = slices.DeleteFunc(main.Env, func(e corev1.EnvVar) bool { return strings.HasPrefix(e.Name, "ARGO_") })
	main.VolumeMounts = slices.DeleteFunc(main.VolumeMounts, func(m corev1.VolumeMount) bool {
		return !slices.ContainsFunc(w.tmpl.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == m.Name })
	})
	bin, err := argodeployBinary()
	if err != nil {
		w.t.Fatal(err)
	}
	run := runContainer(w.ctx, w.t, w.api, w.stepKC, w.tmpl, w.ns, &main, func(s string) string { return s }, bin, "")
	w.t.Logf("%s: exit %d\n%s", pod.Name, run.exit, strings.TrimSpace(run.log))
	w.playPod(p, pod, run.exit, run.stdout)
	return run
}

// playPod reports a step pod's end as Argo's executor and the kubelet
// would: as the pod's ServiceAccount, the executor's WorkflowTaskResult
// (named after the node, with the step's stdout as its result when the
// controller asked for it, then labelled complete), and as the kubelet the
// pod's status: its init and wait containers ended with 0, main with exit.
// It returns when main ended.
func (w *workflowRun) playPod(p *wfPush, pod *corev1.Pod, exit int, stdout string) time.Time {
	w.t.Helper()
	nodeID := pod.Annotations[argoAnnotationNodeID]
	var owner string
	for _, o := range pod.OwnerReferences {
		if o.Kind == "Workflow" {
			owner = string(o.UID)
		}
	}
	include := false
	for _, c := range pod.Spec.Containers {
		for _, e := range c.Env {
			if c.Name == "wait" && e.Name == argoEnvIncludeOutput && e.Value == "true" {
				include = true
			}
		}
	}
	result := map[string]any{}
	if include {
		result["outputs"] = map[string]any{"result": strings.TrimSuffix(stdout, "\n")}
	}
	tr := map[string]any{
		"apiVersion": "argoproj.io/v1alpha1",
		"kind":       "WorkflowTaskResult",
		"metadata": map[string]any{
			"name":            nodeID,
			"namespace":       w.ns,
			"labels":          map[string]string{argoLabelWorkflow: p.Name, argoLabelOutputsComplete: "false"},
			"ownerReferences": []map[string]any{{"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "name": p.Name, "uid": owner}},
		},
	}
	for k, v := range result {
		tr[k] = v
	}
	b, _ := json.Marshal(tr)
	if _, err := w.api.KubectlAs(w.ctx, w.stepKC, string(b), "create", "-f", "-"); err != nil {
		w.t.Fatalf("the executor's task result, as %s: %v", w.tmpl.Spec.ServiceAccountName, err)
	}
	// The executor patches without reading (kubectl patch would get first).
	path := fmt.Sprintf("/apis/argoproj.io/v1alpha1/namespaces/%s/workflowtaskresults/%s", w.ns, nodeID)
	patch := fmt.Sprintf(`{"metadata":{"labels":{%q:"true"}}}`, argoLabelOutputsComplete)
	if err := apiRequest(w.ctx, w.api, w.stepToken, http.MethodPatch, path, "application/merge-patch+json", patch); err != nil {
		w.t.Fatalf("labelling the task result complete, as %s: %v", w.tmpl.Spec.ServiceAccountName, err)
	}
	now := time.Now().UTC()
	ts := now.Format(time.RFC3339)
	terminated := func(name, image string, code int) map[string]any {
		reason := "Completed"
		if code != 0 {
			reason = "Error"
		}
		return map[string]any{
			"name": name, "image": image, "imageID": image, "ready": false, "restartCount": 0, "started": false,
			"state": map[string]any{"terminated": map[string]any{"exitCode": code, "reason": reason, "startedAt": ts, "finishedAt": ts}},
		}
	}
	phase := "Succeeded"
	if exit != 0 {
		phase = "Failed"
	}
	var inits, ctrs []map[string]any
	for _, c := range pod.Spec.InitContainers {
		inits = append(inits, terminated(c.Name, c.Image, 0))
	}
	for _, c := range pod.Spec.Containers {
		code := 0
		if c.Name == "main" {
			code = exit
		}
		ctrs = append(ctrs, terminated(c.Name, c.Image, code))
	}
	status := map[string]any{"status": map[string]any{
		"phase": phase, "startTime": ts, "hostIP": "127.0.0.1", "podIP": "127.0.0.1",
		"initContainerStatuses": inits, "containerStatuses": ctrs,
	}}
	b, _ = json.Marshal(status)
	if _, err := w.api.Kubectl(w.ctx, "", "patch", "pod", pod.Name, "-n", w.ns, "--subresource=status", "--type", "merge", "-p", string(b)); err != nil {
		w.t.Fatal(err)
	}
	return now
}

// apiRequest sends one request to the apiserver with a bearer token, as a
// client-go client does, and fails unless it answers 2xx.
func apiRequest(ctx context.Context, api *testenv.APIServer, token, method, path, contentType, body string) error {
	req, err := http.NewRequestWithContext(ctx, method, api.URL+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", contentType)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, b)
	}
	return nil
}

// playDeadline does what the kubelet does to a pod that has been on its
// node for its activeDeadlineSeconds: it fails it (reason
// DeadlineExceeded). It waits until then, counted from the pod's creation.
func (w *workflowRun) playDeadline(pod *corev1.Pod) {
	w.t.Helper()
	at := pod.CreationTimestamp.Add(time.Duration(*pod.Spec.ActiveDeadlineSeconds) * time.Second)
	time.Sleep(time.Until(at))
	status := map[string]any{"status": map[string]any{
		"phase": "Failed", "reason": "DeadlineExceeded", "message": "Pod was active on the node longer than the specified deadline",
		"startTime": pod.CreationTimestamp.UTC().Format(time.RFC3339),
	}}
	b, _ := json.Marshal(status)
	if _, err := w.api.Kubectl(w.ctx, "", "patch", "pod", pod.Name, "-n", w.ns, "--subresource=status", "--type", "merge", "-p", string(b)); err != nil {
		w.t.Fatal(err)
	}
}

// getJSON reads objects as admin (kubectl get ARGS -o json) into v.
func getJSON(ctx context.Context, t *testing.T, api *testenv.APIServer, v any, args ...string) {
	t.Helper()
	out, err := api.Kubectl(ctx, "", append(append([]string{"get"}, args...), "-o", "json")...)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatal(err)
	}
}

// cronPasses waits until a CronWorkflow has started at least n Workflows
// and returns their names.
func (w *workflowRun) cronPasses(cron string, n int, timeout time.Duration) []string {
	w.t.Helper()
	var names []string
	w.poll(fmt.Sprintf("%d Workflows of CronWorkflow %s", n, cron), timeout, func() string {
		out, err := w.api.Kubectl(w.ctx, "", "get", "workflows", "-n", w.ns, "-l", "workflows.argoproj.io/cron-workflow="+cron, "-o", "name")
		if err != nil {
			return err.Error()
		}
		names = nil
		for _, f := range strings.Fields(out) {
			names = append(names, strings.TrimPrefix(f, "workflow.argoproj.io/"))
		}
		if len(names) < n {
			return fmt.Sprintf("%d", len(names))
		}
		return ""
	})
	return names
}
