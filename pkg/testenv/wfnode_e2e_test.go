//go:build e2e

package testenv_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/argodeploy/argodeploy/pkg/render"
	"github.com/argodeploy/argodeploy/pkg/testenv"
)

// The pipeline TestWorkflowsOnNode runs: its step image (workflow.image)
// is the argodeploy image the test imports on the node under that name.
const (
	wfnodeMapping = "../../testdata/e2e/wfnode.yaml"
	wfnodeStep    = "example.com/argodeploy-e2e/argodeploy:dev"
	wfnodeRepo    = wfRegistry + "api"
)

// TestWorkflowsOnNode runs the generated pipeline from the publish to the
// rollout with every pod on the real node (containerd, runc, kubelet,
// kube-proxy, kube-scheduler, CoreDNS): a push published to the Pub/Sub
// emulator is read by the EventSource's pod, carried by the JetStream
// StatefulSet's pods and turned into a Workflow by the Sensor's pod, all
// three as the real Argo Events controller renders them
// (startEventsOnNode); the real Argo Workflows controller creates the route
// and rollout step pods, the kubelet runs them through the real executor
// (argoexec's init and wait containers, emissary in the main container,
// Pod Security restricted in the pipeline's namespace), the wait
// container writes each step's WorkflowTaskResult as the step's
// ServiceAccount, and the rollout step rolls the target Deployment, whose
// new pods run the pushed digest. The test plays only Artifact Registry
// (it publishes the message) and the bus's two sidecars (StandInImage).
//
// Subtests: release (a push rolls shop/api, the Workflow Succeeded), undo
// (a push of an image whose containers crash: the rollout step undoes and
// exits 3, the Workflow Failed, the Deployment back on the release's
// digest), pushes (ARGODEPLOY_E2E_NODE_PUSHES pushes, default 20, one after
// another, timed from the publish: Workflow created → step pods Running →
// Deployment rolled, printed as BenchmarkE2ENode lines).
func TestWorkflowsOnNode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Minute)
	defer cancel()
	e := testenv.New(t)
	step := stepper(t)
	api := startKube(ctx, e, step)
	var node *testenv.Node
	step("start node", func() (err error) { node, err = e.StartNode(ctx, api); return })
	step("import busybox, argodeploy and argoexec images", func() error {
		busybox, err := testenv.BusyboxImage("65534:65534")
		if err != nil {
			return err
		}
		if err := node.ImportBuilt(ctx, busyboxImage, busybox); err != nil {
			return err
		}
		img, err := testenv.ArgodeployImage()
		if err != nil {
			return err
		}
		if err := node.ImportBuilt(ctx, wfnodeStep, img); err != nil {
			return err
		}
		tar := filepath.Join(node.Dir, "argoexec.tar")
		if err := testenv.WriteExecutorImage(tar); err != nil {
			return err
		}
		defer os.Remove(tar)
		return node.ImportImage(ctx, tar)
	})

	// The executor's containers (init, wait) get what Pod Security
	// restricted asks of a container that the pod's securityContext (the
	// WorkflowTemplate's: runAsNonRoot, seccomp RuntimeDefault) does not
	// give: no privilege escalation, no capabilities. The image is the one
	// imported, never pulled.
	executor, err := yaml.Marshal(corev1.Container{
		Image:           testenv.ExecutorImage,
		ImagePullPolicy: corev1.PullNever,
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: ptr.To(false),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			RunAsNonRoot:             ptr.To(true),
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	step("start workflow-controller", func() error {
		_, err := e.StartWorkflowController(ctx, api, testenv.WithControllerConfig("executor", string(executor)))
		return err
	})

	ps := startEventsOnNode(ctx, t, e, step, api, node)
	target := runningDeployment("shop", "api", busyboxImage, 1)
	target.Spec.Template.Spec.Containers[0].Name = "api"
	applyObject(ctx, t, api, target)
	mustKubectl(ctx, t, api, "", "rollout", "status", "deployment/api", "-n", "shop", "--timeout", "3m")
	readyPods(ctx, t, api, node, "shop", "app=api", 1, time.Minute)

	w := newWorkflowRun(ctx, t, api, wfnodeMapping, pipelineN, "wfnode")
	watch := watchNode(ctx, t, api)

	var released string
	t.Run("release", func(t *testing.T) {
		w.t = t
		digest := importVariant(ctx, t, node, "v1", 1)
		p := w.publishImage(ps, "api", wfnodeRepo+"@"+digest, wfnodeRepo+":v1")
		wf := w.waitPhase(p.Name, wfv1.WorkflowSucceeded, 8*time.Minute)
		t.Logf("Workflow %s Succeeded; nodes:\n%s", wf.Name, nodeSummary(wf))
		route := w.node(wf, render.RouteTemplate, wfv1.NodeTypeRetry)
		want := `[{"service":"api","target":"api","lock":"local.shop.api","approval":"false"}]`
		if route.Outputs == nil || route.Outputs.Result == nil || *route.Outputs.Result != want {
			t.Errorf("Workflow %s: route node outputs %+v, want the result %s (the wait container's task result)", wf.Name, route.Outputs, want)
		}
		pods := watch.checkPods(t, w, p, wf, map[string]int32{render.RouteTemplate: 0, render.RolloutTemplate: 0})
		if len(pods) != 2 {
			t.Errorf("Workflow %s: pods %v, want a route and a rollout pod", wf.Name, pods)
		}
		watch.wantResults(t, wf)
		wantRolled(ctx, t, api, node, p.digest)
		released = p.digest
	})
	if t.Failed() {
		return
	}

	t.Run("undo", func(t *testing.T) {
		w.t = t
		img, err := testenv.CrashingImage()
		if err != nil {
			t.Fatal(err)
		}
		crash, err := importByDigest(ctx, node, wfnodeRepo, "crash", img)
		if err != nil {
			t.Fatal(err)
		}
		before := deploymentAs(ctx, t, api, "shop", "api")
		p := w.publishImage(ps, "api", wfnodeRepo+"@"+crash, wfnodeRepo+":crash")
		wf := w.waitPhase(p.Name, wfv1.WorkflowFailed, 8*time.Minute)
		t.Logf("Workflow %s Failed (%s); nodes:\n%s", wf.Name, wf.Status.Message, nodeSummary(wf))
		// The rollout step exits 3 (undone), which the retry expression
		// does not retry: one rollout pod.
		watch.checkPods(t, w, p, wf, map[string]int32{render.RouteTemplate: 0, render.RolloutTemplate: 3})
		watch.wantResults(t, wf)
		wantUndone(ctx, t, api, before, released, crash)
		wantRolled(ctx, t, api, node, released)
	})
	if t.Failed() {
		return
	}

	t.Run("pushes", func(t *testing.T) {
		w.t = t
		n := 20
		if s := os.Getenv("ARGODEPLOY_E2E_NODE_PUSHES"); s != "" {
			if n, err = strconv.Atoi(s); err != nil || n < 1 {
				t.Fatalf("ARGODEPLOY_E2E_NODE_PUSHES=%q", s)
			}
		}
		var toCreated, toRoute, toRollout, toRolled []time.Duration
		for i := range n {
			digest := wfnodeRepo + "@" + importVariant(ctx, t, node, fmt.Sprintf("p%d", i), 100+i)
			p := w.publishImage(ps, "api", digest, wfnodeRepo+fmt.Sprintf(":p%d", i))
			wf := w.waitPhase(p.Name, wfv1.WorkflowSucceeded, 8*time.Minute)
			running := watch.running(t, wf)
			rolled := watch.rolledAt(t, digest)
			seen := w.seenAt(wf.Name)
			if seen.IsZero() {
				t.Fatalf("Workflow %s never seen by the watch", wf.Name)
			}
			toCreated = append(toCreated, seen.Sub(p.sent))
			toRoute = append(toRoute, running[render.RouteTemplate].Sub(p.sent))
			toRollout = append(toRollout, running[render.RolloutTemplate].Sub(p.sent))
			toRolled = append(toRolled, rolled.Sub(p.sent))
			t.Logf("push %d (%s): after the publish, Workflow created %.2fs, route pod Running %.1fs, rollout pod Running %.1fs, shop/api rolled %.1fs",
				i+1, wf.Name, toCreated[i].Seconds(), toRoute[i].Seconds(), toRollout[i].Seconds(), toRolled[i].Seconds())
		}
		for _, f := range []struct {
			name string
			d    []time.Duration
		}{{"publish-to-workflow-created", toCreated}, {"publish-to-route-pod-running", toRoute}, {"publish-to-rollout-pod-running", toRollout}, {"publish-to-deployment-rolled", toRolled}} {
			sorted := slices.Clone(f.d)
			slices.Sort(sorted)
			median, p90 := sorted[len(sorted)/2], sorted[len(sorted)*9/10]
			t.Logf("%s over %d pushes: median %.2fs, p90 %.2fs, min %.2fs, max %.2fs", f.name, n, median.Seconds(), p90.Seconds(), sorted[0].Seconds(), sorted[n-1].Seconds())
			fmt.Printf("BenchmarkE2ENode/%s\t%d\t%d ns/op\t%d p90-ns\n", f.name, n, median.Nanoseconds(), p90.Nanoseconds())
		}
	})

	// The reconcile CronWorkflow's passes ran beside (every 5 minutes): what
	// became of them, for the README (their registry is not reachable).
	var cron wfv1.WorkflowList
	getObject(ctx, t, api, &cron, "workflows", "-n", pipelineN, "-l", "workflows.argoproj.io/cron-workflow=wfnode-reconcile")
	for _, wf := range cron.Items {
		t.Logf("reconcile pass %s: %s %s", wf.Name, wf.Status.Phase, wf.Status.Message)
		out, err := api.Kubectl(ctx, "", "logs", "-n", pipelineN, "-l", argoLabelWorkflow+"="+wf.Name, "-c", "main", "--tail=20")
		t.Logf("its step's log (%v):\n%s", err, out)
	}
}

// startEventsOnNode starts what brings a push to a Workflow, every part
// on the node as a cluster runs it: the Pub/Sub emulator on the host's
// address (which pods reach) with the gcr topic; the Argo Events
// controller, whose JetStream StatefulSet (three nats-server pods, each
// with a volume: hostPath PersistentVolumes of the node), EventSource and
// Sensor Deployments run as pods of the images imported here, under Pod
// Security restricted in the pipeline's namespace. The generated pipeline
// is applied as generated, but for one edit: the EventSource's container
// gets PUBSUB_EMULATOR_HOST (Google's client then talks to the emulator).
// It returns once the bus's pods are Ready, the EventSource listens to its
// subscription and the Sensor has subscribed to the bus.
func startEventsOnNode(ctx context.Context, t *testing.T, e *testenv.Env, step func(string, func() error), api *testenv.APIServer, node *testenv.Node) *testenv.PubSub {
	t.Helper()
	var ps *testenv.PubSub
	step("start pubsub emulator on "+api.HostIP, func() (err error) { ps, err = e.StartPubSubAt(ctx, api.HostIP); return })
	step("create topic gcr", func() error { return ps.CreateTopic(ctx, wfProject, "gcr") })
	step("import argo-events, nats and stand-in sidecar images", func() error {
		for _, im := range []struct {
			ref   string
			build func() (v1.Image, error)
		}{
			{testenv.ArgoEventsImage, testenv.ArgoEventsImageBuilt},
			{testenv.NATSImage, testenv.NATSImageBuilt},
			{testenv.NATSReloaderImage, testenv.StandInImage},
			{testenv.NATSExporterImage, testenv.StandInImage},
		} {
			img, err := im.build()
			if err != nil {
				return err
			}
			if err := node.ImportBuilt(ctx, im.ref, img); err != nil {
				return err
			}
		}
		return nil
	})
	step("create the bus's volumes", func() error {
		return node.CreateVolumes(ctx, "1Gi", "eventbus-0", "eventbus-1", "eventbus-2")
	})
	applyPipeline(ctx, t, step, api, generateWith(t, wfnodeMapping), pipelineN, "shop")
	mustKubectl(ctx, t, api, "", "label", "namespace", pipelineN, "pod-security.kubernetes.io/enforce=restricted")
	env, err := json.Marshal([]corev1.EnvVar{{Name: "PUBSUB_EMULATOR_HOST", Value: ps.Host}})
	if err != nil {
		t.Fatal(err)
	}
	mustKubectl(ctx, t, api, "", "patch", "eventsource", "wfnode", "-n", pipelineN, "--type", "json",
		"-p", `[{"op":"add","path":"/spec/template/container/env","value":`+string(env)+`}]`)
	step("start argo-events controller", func() error {
		_, err := e.StartEventsController(ctx, api, testenv.EventsControllerConfig())
		return err
	})
	start := time.Now()
	readyPods(ctx, t, api, node, pipelineN, "eventbus-name=default", 3, 5*time.Minute)
	t.Logf("JetStream StatefulSet: 3 pods Ready %.1fs after the controller started", time.Since(start).Seconds())
	readyPods(ctx, t, api, node, pipelineN, "eventsource-name=wfnode", 1, 3*time.Minute)
	waitPodLog(ctx, t, api, pipelineN, "eventsource-name=wfnode", "listening for messages from PubSub", 3*time.Minute)
	readyPods(ctx, t, api, node, pipelineN, "sensor-name=wfnode", 1, 3*time.Minute)
	waitPodLog(ctx, t, api, pipelineN, "sensor-name=wfnode", "Subscribing to subject", 3*time.Minute)
	t.Logf("EventSource and Sensor pods listening %.1fs after the controller started", time.Since(start).Seconds())
	return ps
}

// waitPodLog waits until the log of selector's pod (its first container)
// holds text, as kubectl logs reads it from the kubelet.
func waitPodLog(ctx context.Context, t *testing.T, api *testenv.APIServer, namespace, selector, text string, timeout time.Duration) {
	t.Helper()
	var last string
	err := testenv.WaitFor(ctx, fmt.Sprintf("%q in the log of %s", text, selector), timeout, nil, func(ctx context.Context) error {
		out, err := api.Kubectl(ctx, "", "logs", "-n", namespace, "-l", selector, "--tail=-1")
		if err != nil {
			return err
		}
		last = out
		if !strings.Contains(out, text) {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v; log:\n%s", err, last)
	}
}

// importVariant imports on the node, as wfnodeRepo:tag and by its digest,
// an image of busybox that differs from the others by one environment
// variable (i), so that each push is of a new digest; it returns the
// digest.
func importVariant(ctx context.Context, t *testing.T, node *testenv.Node, tag string, i int) string {
	t.Helper()
	base, err := testenv.BusyboxImage("65534:65534")
	if err != nil {
		t.Fatal(err)
	}
	img, err := testenv.WithConfig(base, func(c *v1.Config) {
		c.Env = append(c.Env, fmt.Sprintf("ARGODEPLOY_E2E_VARIANT=%d", i))
	})
	if err != nil {
		t.Fatal(err)
	}
	digest, err := importByDigest(ctx, node, wfnodeRepo, tag, img)
	if err != nil {
		t.Fatal(err)
	}
	return digest
}

// wantRolled checks that shop/api runs image, rolled: its one pod Ready on
// the node, of that image, which it returns.
func wantRolled(ctx context.Context, t *testing.T, api *testenv.APIServer, node *testenv.Node, image string) []corev1.Pod {
	t.Helper()
	err := testenv.WaitFor(ctx, "shop/api rolled to "+image, 3*time.Minute, nil, func(ctx context.Context) error {
		var d appsv1.Deployment
		getObject(ctx, t, api, &d, "deployment", "api", "-n", "shop")
		if !deploymentRolled(&d, image) {
			return fmt.Errorf("image %s, status %+v", d.Spec.Template.Spec.Containers[0].Image, d.Status)
		}
		var pods corev1.PodList
		getObject(ctx, t, api, &pods, "pods", "-n", "shop", "-l", "app=api")
		if len(pods.Items) != 1 {
			return fmt.Errorf("%d pods", len(pods.Items))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	p := readyPods(ctx, t, api, node, "shop", "app=api", 1, time.Minute)
	if p[0].Spec.Containers[0].Image != image {
		t.Errorf("shop/api's pod %s runs %s, want %s", p[0].Name, p[0].Spec.Containers[0].Image, image)
	}
	return p
}

// deploymentRolled reports whether d's container runs image and its
// rollout is complete: observed, every replica updated, ready and
// available, no old one left.
func deploymentRolled(d *appsv1.Deployment, image string) bool {
	want := ptr.Deref(d.Spec.Replicas, 1)
	s := d.Status
	return d.Spec.Template.Spec.Containers[0].Image == image && s.ObservedGeneration == d.Generation &&
		s.Replicas == want && s.UpdatedReplicas == want && s.ReadyReplicas == want && s.AvailableReplicas == want
}

// nodeWatch records, from watches, what happens to the step pods of the
// pipeline's namespace, to its WorkflowTaskResults and to shop/api (the
// controller deletes a succeeded Workflow's pods, and its task results
// when it ends).
type nodeWatch struct {
	mu      sync.Mutex
	pods    map[string]*seenPod
	results map[string]bool      // task results by name: labelled complete
	rolled  map[string]time.Time // shop/api: when each image was first seen rolled
}

type seenPod struct {
	first, last corev1.Pod
	running     time.Time // first seen Running
}

func watchNode(ctx context.Context, t *testing.T, api *testenv.APIServer) *nodeWatch {
	t.Helper()
	n := &nodeWatch{pods: map[string]*seenPod{}, results: map[string]bool{}, rolled: map[string]time.Time{}}
	watchEach(ctx, t, api, &n.mu, func(ev testenv.WatchEvent, p *corev1.Pod) {
		s := n.pods[p.Name]
		if s == nil {
			s = &seenPod{first: *p}
			n.pods[p.Name] = s
		}
		s.last = *p
		if p.Status.Phase == corev1.PodRunning && s.running.IsZero() {
			s.running = ev.Seen
		}
	}, "pods", "-n", pipelineN)
	watchEach(ctx, t, api, &n.mu, func(_ testenv.WatchEvent, r *wfv1.WorkflowTaskResult) {
		n.results[r.Name] = n.results[r.Name] || r.Labels[argoLabelOutputsComplete] == "true"
	}, "workflowtaskresults", "-n", pipelineN)
	watchEach(ctx, t, api, &n.mu, func(ev testenv.WatchEvent, d *appsv1.Deployment) {
		if d.Name != "api" {
			return
		}
		image := d.Spec.Template.Spec.Containers[0].Image
		if _, ok := n.rolled[image]; !ok && deploymentRolled(d, image) {
			n.rolled[image] = ev.Seen
		}
	}, "deployments", "-n", "shop")
	return n
}

// stepPods are the pods seen of a Workflow, by the template of their node.
func (n *nodeWatch) stepPods(wf *wfv1.Workflow) map[string][]*seenPod {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := map[string][]*seenPod{}
	for _, s := range n.pods {
		if s.first.Labels[argoLabelWorkflow] != wf.Name {
			continue
		}
		node, ok := wf.Status.Nodes[s.first.Annotations[argoAnnotationNodeID]]
		if !ok {
			continue
		}
		c := *s
		out[node.TemplateName] = append(out[node.TemplateName], &c)
	}
	return out
}

// checkPods checks the pods the controller ran for a Workflow on the
// node: one per template of exits (the main container's exit code), each
// the template's (checkPod) with the executor's init and wait containers,
// and, as last seen, every container ended as the kubelet reports it: the
// executor's with 0, main with its exit code, on the node. It returns
// their names.
func (n *nodeWatch) checkPods(t *testing.T, w *workflowRun, p *wfPush, wf *wfv1.Workflow, exits map[string]int32) []string {
	t.Helper()
	var names []string
	pods := n.stepPods(wf)
	for template, exit := range exits {
		ps := pods[template]
		if len(ps) != 1 {
			t.Errorf("Workflow %s: %d pods of %s, want 1; nodes:\n%s", wf.Name, len(ps), template, nodeSummary(wf))
			continue
		}
		s := ps[0]
		names = append(names, s.first.Name)
		var inputs map[string]string
		if template == render.RolloutTemplate {
			inputs = map[string]string{render.InputService: "api", render.InputTarget: "api", render.InputLock: "local.shop.api"}
		}
		w.checkPod(p, &s.first, template, inputs)
		last := s.last
		if last.Spec.NodeName != testenv.NodeName || s.running.IsZero() {
			t.Errorf("pod %s: node %q, seen Running: %v", last.Name, last.Spec.NodeName, !s.running.IsZero())
		}
		ended := map[string]int32{}
		for _, cs := range append(slices.Clone(last.Status.InitContainerStatuses), last.Status.ContainerStatuses...) {
			if term := cs.State.Terminated; term != nil {
				ended[cs.Name] = term.ExitCode
			} else {
				ended[cs.Name] = -1
			}
		}
		if want := map[string]int32{"init": 0, "wait": 0, "main": exit}; !maps.Equal(ended, want) {
			t.Errorf("pod %s (%s): containers ended %v, want %v; status %+v", last.Name, template, ended, want, last.Status)
		}
	}
	return names
}

// wantResults checks that the wait container of each of a Workflow's pod
// nodes wrote its WorkflowTaskResult (named after the node) and labelled
// it complete, as the step's ServiceAccount.
func (n *nodeWatch) wantResults(t *testing.T, wf *wfv1.Workflow) {
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	for id, node := range wf.Status.Nodes {
		if node.Type == wfv1.NodeTypePod && !n.results[id] {
			t.Errorf("Workflow %s: no complete WorkflowTaskResult %s seen for node %s", wf.Name, id, node.Name)
		}
	}
}

// running is when each of a Workflow's step pods was first seen Running,
// by template.
func (n *nodeWatch) running(t *testing.T, wf *wfv1.Workflow) map[string]time.Time {
	t.Helper()
	out := map[string]time.Time{}
	for template, ps := range n.stepPods(wf) {
		if len(ps) != 1 || ps[0].running.IsZero() {
			t.Fatalf("Workflow %s: %d pods of %s, or never seen Running", wf.Name, len(ps), template)
		}
		out[template] = ps[0].running
	}
	for _, template := range []string{render.RouteTemplate, render.RolloutTemplate} {
		if out[template].IsZero() {
			t.Fatalf("Workflow %s: no %s pod seen", wf.Name, template)
		}
	}
	return out
}

// rolledAt is when shop/api was first seen rolled to image.
func (n *nodeWatch) rolledAt(t *testing.T, image string) time.Time {
	t.Helper()
	var at time.Time
	err := testenv.WaitFor(context.Background(), "shop/api seen rolled to "+image, time.Minute, nil, func(context.Context) error {
		n.mu.Lock()
		defer n.mu.Unlock()
		var ok bool
		if at, ok = n.rolled[image]; !ok {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return at
}
