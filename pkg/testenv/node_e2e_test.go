//go:build e2e

package testenv_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	appsv1 "k8s.io/api/apps/v1"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/testenv"
)

// busyboxImage is the test image of busybox programs, user 65534.
const busyboxImage = "example.com/argodeploy-e2e/busybox:1"

// TestNodeRunsPods starts a cluster with a real node (containerd, runc,
// kubelet, kube-proxy, kube-scheduler) and checks what a pod of the
// pipeline needs: a Pod Security restricted pod with a ConfigMap, its
// ServiceAccount token and a read-only root reaches the apiserver through
// the kubernetes Service; a crash is reported as one; a Deployment becomes
// Ready and rolls to a new ReplicaSet; the generated WorkflowTemplate's
// route and rollout steps run as pods of the argodeploy image and roll a
// Deployment whose pods run; a set-image rollout to an image whose
// containers crash is undone. Then Stop leaves nothing behind.
// (TestWorkflowsOnNode runs them through the Argo Workflows controller.)
func TestNodeRunsPods(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	e := testenv.New(t)
	step := stepper(t)
	start := time.Now()
	var (
		etcd *testenv.Etcd
		api  *testenv.APIServer
		node *testenv.Node
	)
	step("start etcd", func() (err error) { etcd, err = e.StartEtcd(ctx); return })
	step("start kube-apiserver", func() (err error) { api, err = e.StartAPIServer(ctx, etcd); return })
	step("start controller-manager", func() error { _, err := e.StartControllerManager(ctx, api); return err })
	step("start node", func() (err error) { node, err = e.StartNode(ctx, api); return })
	t.Logf("node %s ready %.1fs after the start: InternalIP %s, apiserver advertised at %s", node.Name, time.Since(start).Seconds(), node.IP, api.HostIP)
	step("import busybox image", func() error {
		img, err := testenv.BusyboxImage("65534:65534")
		if err != nil {
			return err
		}
		return node.ImportBuilt(ctx, busyboxImage, img)
	})

	t.Run("restricted", func(t *testing.T) { nodeRestrictedPod(ctx, t, api) })
	t.Run("crash", func(t *testing.T) { nodeCrash(ctx, t, api) })
	t.Run("deployment", func(t *testing.T) { nodeDeployment(ctx, t, api, node) })
	t.Run("release", func(t *testing.T) { nodeRelease(ctx, t, api, node) })
	t.Run("undo", func(t *testing.T) { nodeUndo(ctx, t, api, node) })
	if t.Failed() {
		return
	}

	// Stop must leave no container, shim, mount, cgroup or namespace.
	out, err := node.Ctr(ctx, "tasks", "ls")
	if err != nil {
		t.Fatal(err)
	}
	var pids []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		if f := strings.Fields(line); len(f) == 3 && f[2] == "RUNNING" {
			pids = append(pids, f[1])
		}
	}
	if len(pids) == 0 {
		t.Fatalf("no task runs in containerd before Stop:\n%s", out)
	}
	stopped := time.Now()
	e.Stop()
	t.Logf("Stop took %.1fs; it had %d container processes to end", time.Since(stopped).Seconds(), len(pids))
	for _, pid := range pids {
		if _, err := os.Stat("/proc/" + pid); err == nil {
			t.Errorf("container process %s still runs after Stop", pid)
		}
	}
	if data, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(data), node.Dir) {
		t.Errorf("mounts left under %s:\n%s", node.Dir, data)
	}
	if left, _ := filepath.Glob("/sys/fs/cgroup/*" + node.CgroupRoot); len(left) > 0 {
		t.Errorf("cgroups left: %v", left)
	}
	if _, err := os.Stat("/run/netns/" + node.Netns); err == nil {
		t.Errorf("network namespace %s left", node.Netns)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if data, err := os.ReadFile(p); err == nil && strings.Contains(string(data), node.Socket) {
			t.Errorf("%s still runs: %q", filepath.Dir(p), data)
		}
	}
}

// nodeRestrictedPod runs a pod that Pod Security's restricted level admits
// and checks from inside it what the kubelet and runc gave it.
func nodeRestrictedPod(ctx context.Context, t *testing.T, api *testenv.APIServer) {
	mustKubectl(ctx, t, api, "", "create", "namespace", "restricted")
	mustKubectl(ctx, t, api, "", "label", "namespace", "restricted", "pod-security.kubernetes.io/enforce=restricted")
	mustKubectl(ctx, t, api, "", "create", "configmap", "settings", "-n", "restricted", "--from-literal=greeting=hello from a ConfigMap")

	// The level is enforced: a pod without the security context is refused.
	_, err := api.Kubectl(ctx, "", "run", "loose", "-n", "restricted", "--image", busyboxImage, "--restart", "Never", "--", "true")
	if err == nil || !strings.Contains(err.Error(), `violates PodSecurity "restricted:latest"`) {
		t.Fatalf("a pod without a security context in a restricted namespace: %v", err)
	}

	// The pod reaches the apiserver through the kubernetes Service's
	// address the kubelet put in its environment: busybox's wget speaks no
	// TLS the apiserver accepts, so it sends plain HTTP, which Go's TLS
	// server answers with a 400. (The argodeploy pods of the release below
	// make real TLS calls with their tokens.) Its token is the last line;
	// the test has the apiserver review it.
	script := `set -e
id -u; id -g
cat /etc/settings/greeting; echo
if touch /root-is-writable 2>/dev/null; then echo root writable; else echo root read-only; fi
touch /tmp/scratch && echo tmp writable
grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status
wget -q -O - "http://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT/" 2>&1 || true
cat /var/run/secrets/kubernetes.io/serviceaccount/token
`
	pod := restrictedPod("restricted", "probe", busyboxImage, "sh", "-c", script)
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "settings", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}}},
		{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}
	pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{
		{Name: "settings", MountPath: "/etc/settings", ReadOnly: true},
		{Name: "scratch", MountPath: "/tmp"},
	}
	applyObject(ctx, t, api, pod)
	done := waitPod(ctx, t, api, "restricted", "probe", 2*time.Minute, podEnded)
	logs := mustKubectl(ctx, t, api, "", "logs", "-n", "restricted", "probe")
	if done.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("pod probe: phase %s, logs:\n%s", done.Status.Phase, logs)
	}
	lines := strings.Split(strings.TrimSuffix(logs, "\n"), "\n")
	want := []string{"65534", "65534", "hello from a ConfigMap", "root read-only", "tmp writable",
		"CapEff:\t0000000000000000", "NoNewPrivs:\t1", "Seccomp:\t2",
		"wget: server returned error: HTTP/1.0 400 Bad Request"}
	if len(lines) != len(want)+1 || !slices.Equal(lines[:len(want)], want) {
		t.Fatalf("pod probe printed:\n%s\nwant first:\n%s", logs, strings.Join(want, "\n"))
	}
	review := authv1.TokenReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "authentication.k8s.io/v1", Kind: "TokenReview"},
		Spec:     authv1.TokenReviewSpec{Token: lines[len(want)]},
	}
	data, _ := json.Marshal(review)
	if err := json.Unmarshal([]byte(mustKubectl(ctx, t, api, string(data), "create", "-o", "json", "-f", "-")), &review); err != nil {
		t.Fatal(err)
	}
	if st := review.Status; !st.Authenticated || st.User.Username != "system:serviceaccount:restricted:default" ||
		!slices.Equal(st.User.Extra["authentication.kubernetes.io/pod-name"], authv1.ExtraValue{"probe"}) {
		t.Errorf("the pod's token: %+v", st)
	}
	if c := done.Status.ContainerStatuses; len(c) != 1 || c[0].State.Terminated == nil || c[0].State.Terminated.ExitCode != 0 || c[0].State.Terminated.Reason != "Completed" {
		t.Errorf("container status %+v", c)
	}
	if done.Spec.NodeName != testenv.NodeName || !strings.HasPrefix(done.Status.PodIP, "10.244.0.") {
		t.Errorf("pod on node %q with IP %q, want %s and an address of %s", done.Spec.NodeName, done.Status.PodIP, testenv.NodeName, testenv.PodCIDR)
	}
}

// nodeCrash checks that a container's failure is what the apiserver says:
// exit code 1, and a restarting pod in CrashLoopBackOff.
func nodeCrash(ctx context.Context, t *testing.T, api *testenv.APIServer) {
	mustKubectl(ctx, t, api, "", "create", "namespace", "crash")
	once := restrictedPod("crash", "once", busyboxImage, "sh", "-c", "echo failing; exit 1")
	always := restrictedPod("crash", "again", busyboxImage, "sh", "-c", "echo failing again; exit 1")
	always.Spec.RestartPolicy = corev1.RestartPolicyAlways
	applyObject(ctx, t, api, once)
	applyObject(ctx, t, api, always)

	p := waitPod(ctx, t, api, "crash", "once", 2*time.Minute, podEnded)
	if term := p.Status.ContainerStatuses[0].State.Terminated; p.Status.Phase != corev1.PodFailed || term == nil || term.ExitCode != 1 || term.Reason != "Error" {
		t.Errorf("pod once: phase %s, container %+v", p.Status.Phase, p.Status.ContainerStatuses[0].State)
	}
	if logs := mustKubectl(ctx, t, api, "", "logs", "-n", "crash", "once"); logs != "failing\n" {
		t.Errorf("pod once logs %q", logs)
	}
	p = waitPod(ctx, t, api, "crash", "again", 2*time.Minute, func(p *corev1.Pod) error {
		cs := p.Status.ContainerStatuses
		if len(cs) == 1 && cs[0].RestartCount >= 1 && cs[0].State.Waiting != nil && cs[0].State.Waiting.Reason == "CrashLoopBackOff" {
			return nil
		}
		return fmt.Errorf("container %+v", cs)
	})
	if last := p.Status.ContainerStatuses[0].LastTerminationState.Terminated; last == nil || last.ExitCode != 1 || p.Status.Phase != corev1.PodRunning {
		t.Errorf("pod again: phase %s, last state %+v", p.Status.Phase, last)
	}
}

// nodeDeployment checks that a Deployment's pods run and become Ready, and
// that kubectl rollout restart replaces them with a new ReplicaSet's.
func nodeDeployment(ctx context.Context, t *testing.T, api *testenv.APIServer, node *testenv.Node) {
	mustKubectl(ctx, t, api, "", "create", "namespace", "apps")
	applyObject(ctx, t, api, runningDeployment("apps", "target", busyboxImage, 2))
	mustKubectl(ctx, t, api, "", "rollout", "status", "deployment/target", "-n", "apps", "--timeout", "3m")
	before := readyPods(ctx, t, api, node, "apps", "app=target", 2, time.Minute)

	mustKubectl(ctx, t, api, "", "rollout", "restart", "deployment/target", "-n", "apps")
	mustKubectl(ctx, t, api, "", "rollout", "status", "deployment/target", "-n", "apps", "--timeout", "3m")
	var rss appsv1.ReplicaSetList
	getObject(ctx, t, api, &rss, "replicasets", "-n", "apps", "-l", "app=target")
	revisions := map[string]int32{}
	for _, rs := range rss.Items {
		revisions[rs.Annotations["deployment.kubernetes.io/revision"]] = rs.Status.ReadyReplicas
	}
	if len(rss.Items) != 2 || revisions["1"] != 0 || revisions["2"] != 2 {
		t.Errorf("ReplicaSets by revision and ready replicas: %v, want 1: 0 and 2: 2", revisions)
	}
	// The old pods go (terminating takes their grace period, 1 s here).
	var after []corev1.Pod
	err := testenv.WaitFor(ctx, "the old pods to go", 2*time.Minute, nil, func(ctx context.Context) error {
		var pods corev1.PodList
		getObject(ctx, t, api, &pods, "pods", "-n", "apps", "-l", "app=target")
		if len(pods.Items) != 2 {
			return fmt.Errorf("%d pods", len(pods.Items))
		}
		after = pods.Items
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	after = readyPods(ctx, t, api, node, "apps", "app=target", 2, time.Minute)
	for _, p := range after {
		for _, b := range before {
			if p.Name == b.Name {
				t.Errorf("pod %s survived the restart", p.Name)
			}
		}
	}
	// Their containers are gone from containerd too.
	tasks, err := node.Ctr(ctx, "tasks", "ls")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range before {
		if id := containerID(b); strings.Contains(tasks, id) {
			t.Errorf("container %s of the replaced pod %s is still a task:\n%s", id, b.Name, tasks)
		}
	}
}

// nodeRelease applies the pipeline of examples/single-service.yaml and runs
// its WorkflowTemplate's route and rollout steps as pods of the argodeploy
// image (the step's container, volumes, ServiceAccount and security
// context; the Argo executor is not there), in argo-events under Pod
// Security restricted. The rollout step restarts shop/web, whose pods run.
func nodeRelease(ctx context.Context, t *testing.T, api *testenv.APIServer, node *testenv.Node) {
	step := stepper(t)
	webImage := image + ":latest"
	var digest string
	step("import argodeploy and web images", func() error {
		img, err := testenv.ArgodeployImage()
		if err != nil {
			return err
		}
		if err := node.ImportBuilt(ctx, mapping.DefaultImage, img); err != nil {
			return err
		}
		web, err := testenv.BusyboxImage("65534:65534")
		if err != nil {
			return err
		}
		d, err := web.Digest()
		if err != nil {
			return err
		}
		digest = d.String()
		return node.ImportBuilt(ctx, webImage, web)
	})
	step("apply CRDs (minimal)", func() error { return api.ApplyCRDs(ctx, false) })
	applyPipeline(ctx, t, step, api, yamlOf(t, renderMapping(t, "../../examples/single-service.yaml")), pipelineN, "shop")
	mustKubectl(ctx, t, api, "", "label", "namespace", pipelineN, "pod-security.kubernetes.io/enforce=restricted")
	web := runningDeployment("shop", "web", webImage, 1)
	web.Spec.Template.Spec.Containers[0].Name = "web"
	applyObject(ctx, t, api, web)
	mustKubectl(ctx, t, api, "", "rollout", "status", "deployment/web", "-n", "shop", "--timeout", "3m")
	before := readyPods(ctx, t, api, node, "shop", "app=web", 1, time.Minute)

	tmpl := loadTemplate(ctx, t, api, pipelineN, "shop-rollout")
	published := time.Now()
	rollout := startNodeSteps(ctx, t, api, tmpl, "shop-node", image+"@"+digest, webImage, published, "web", "local.shop.web")
	done := waitPod(ctx, t, api, pipelineN, rollout.Name, 6*time.Minute, podEnded)
	out := mustKubectl(ctx, t, api, "", "logs", "-n", pipelineN, rollout.Name)
	t.Logf("rollout step pod (%s):\n%s", done.Status.Phase, out)
	if done.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("rollout step pod: phase %s", done.Status.Phase)
	}

	var d appsv1.Deployment
	getObject(ctx, t, api, &d, "deployment", "web", "-n", "shop")
	restarted, err := time.Parse(time.RFC3339, d.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"])
	if err != nil || restarted.Before(published.Add(-time.Second)) {
		t.Errorf("shop/web restartedAt %q, want after the push (%s): %v", d.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"], published.Format(time.RFC3339), err)
	}
	state := stateOf(t, &d)["web"]
	if state.Digest != digest || state.Tag != "latest" || state.Outcome != "healthy" {
		t.Errorf("shop/web state %+v, want digest %s, tag latest and outcome healthy", state, digest)
	}
	if d.Status.ReadyReplicas != 1 || d.Status.UpdatedReplicas != 1 || d.Status.ObservedGeneration != d.Generation {
		t.Errorf("shop/web status %+v", d.Status)
	}
	after := readyPods(ctx, t, api, node, "shop", "app=web", 1, time.Minute)
	if after[0].Name == before[0].Name {
		t.Errorf("shop/web still runs pod %s", before[0].Name)
	}
}

// nodeUndo applies the pipeline of testdata/e2e/workflows.yaml (strategy
// set-image, rollout timeout 10s) and runs its rollout step as a pod of
// the argodeploy image on a push of an image whose containers exit at
// once: shop/api's new pod crashes, the step times out, undoes the
// rollout and exits 3; the Deployment is back on its image, its state
// says undone and its old pod is Ready. It runs after nodeRelease, which
// applied the CRDs and made namespaces argo-events and shop.
func nodeUndo(ctx context.Context, t *testing.T, api *testenv.APIServer, node *testenv.Node) {
	step := stepper(t)
	const repo = "us-east1-docker.pkg.dev/acme-wf/apps/api"
	var crash string
	step("import the crashing image", func() error {
		img, err := testenv.CrashingImage()
		if err != nil {
			return err
		}
		crash, err = importByDigest(ctx, node, repo, "crash", img)
		return err
	})
	applyPipeline(ctx, t, step, api, yamlOf(t, renderMapping(t, "../../testdata/e2e/workflows.yaml")))
	apiD := runningDeployment("shop", "api", busyboxImage, 1)
	apiD.Spec.Template.Spec.Containers[0].Name = "api"
	applyObject(ctx, t, api, apiD)
	mustKubectl(ctx, t, api, "", "rollout", "status", "deployment/api", "-n", "shop", "--timeout", "3m")
	before := readyPods(ctx, t, api, node, "shop", "app=api", 1, time.Minute)
	var prev appsv1.Deployment
	getObject(ctx, t, api, &prev, "deployment", "api", "-n", "shop")

	tmpl := loadTemplate(ctx, t, api, pipelineN, "wf-rollout")
	rollout := startNodeSteps(ctx, t, api, tmpl, "wf-undo", repo+"@"+crash, repo+":crash", time.Now(), "api", "local.shop.api")
	start := time.Now()
	// While the step waits, the new ReplicaSet's pod runs the crashing
	// digest on the node and its container exits non-zero.
	var crashed string
	err := testenv.WaitFor(ctx, "a pod of "+repo+"@"+crash+" to crash", 2*time.Minute, nil, func(ctx context.Context) error {
		var pods corev1.PodList
		getObject(ctx, t, api, &pods, "pods", "-n", "shop", "-l", "app=api")
		for _, p := range pods.Items {
			if p.Spec.Containers[0].Image != repo+"@"+crash || len(p.Status.ContainerStatuses) != 1 {
				continue
			}
			cs := p.Status.ContainerStatuses[0]
			for _, term := range []*corev1.ContainerStateTerminated{cs.State.Terminated, cs.LastTerminationState.Terminated} {
				if term != nil && term.ExitCode != 0 {
					crashed = fmt.Sprintf("pod %s: image %s exited %d (%s), restarts %d", p.Name, cs.ImageID, term.ExitCode, term.Reason, cs.RestartCount)
					return nil
				}
			}
		}
		return fmt.Errorf("no crashed container in %d pods", len(pods.Items))
	})
	if err != nil {
		t.Error(err)
	}
	t.Logf("the new pod crashed: %s", crashed)
	done := waitPod(ctx, t, api, pipelineN, rollout.Name, 3*time.Minute, podEnded)
	out := mustKubectl(ctx, t, api, "", "logs", "-n", pipelineN, rollout.Name)
	t.Logf("rollout step pod (%s, ended %.1fs after it was created):\n%s", done.Status.Phase, time.Since(start).Seconds(), out)
	if term := done.Status.ContainerStatuses[0].State.Terminated; done.Status.Phase != corev1.PodFailed || term == nil || term.ExitCode != 3 {
		t.Errorf("rollout step pod: phase %s, container %+v, want exit code 3", done.Status.Phase, done.Status.ContainerStatuses[0].State)
	}

	wantUndone(ctx, t, api, &prev, busyboxImage, crash)
	// The crashing pod goes.
	after := wantRolled(ctx, t, api, node, busyboxImage)
	if after[0].Name != before[0].Name || after[0].Spec.Containers[0].Image != busyboxImage {
		t.Errorf("shop/api runs pod %s (%s), want %s back on %s", after[0].Name, after[0].Spec.Containers[0].Image, before[0].Name, busyboxImage)
	}
}

// wantUndone checks that shop/api's rollout to the digest crash was
// undone: its pod template is exactly prev's, which runs image, and its
// state says undone with that digest.
func wantUndone(ctx context.Context, t *testing.T, api *testenv.APIServer, prev *appsv1.Deployment, image, crash string) {
	t.Helper()
	var d appsv1.Deployment
	getObject(ctx, t, api, &d, "deployment", "api", "-n", "shop")
	if got := d.Spec.Template.Spec.Containers[0].Image; got != image {
		t.Errorf("shop/api image %q, want %q back", got, image)
	}
	if a, b := jsonOf(prev.Spec.Template), jsonOf(d.Spec.Template); a != b {
		t.Errorf("shop/api pod template not restored:\nbefore %s\nafter  %s", a, b)
	}
	var state map[string]struct {
		Outcome string `json:"outcome"`
		Undone  string `json:"undone"`
	}
	if err := json.Unmarshal([]byte(d.Annotations["argodeploy.dev/state"]), &state); err != nil {
		t.Errorf("shop/api argodeploy.dev/state %q: %v", d.Annotations["argodeploy.dev/state"], err)
	}
	if s := state["api"]; s.Outcome != "undone" || s.Undone != crash {
		t.Errorf("shop/api state %q, want outcome undone with undone %s", d.Annotations["argodeploy.dev/state"], crash)
	}
}

// importByDigest imports img on the node as repo:tag and also as
// repo@DIGEST, and returns DIGEST (sha256:...), the one containerd gives
// the imported image, which the kubelet resolves repo@DIGEST to. The CRI
// finds an image by digest only under a name that holds it (a pull makes
// one); without it the kubelet would pull.
func importByDigest(ctx context.Context, node *testenv.Node, repo, tag string, img v1.Image) (string, error) {
	if err := node.ImportBuilt(ctx, repo+":"+tag, img); err != nil {
		return "", err
	}
	out, err := node.Ctr(ctx, "images", "ls", "name=="+repo+":"+tag)
	if err != nil {
		return "", err
	}
	var digest string
	for _, f := range strings.Fields(out) {
		if strings.HasPrefix(f, "sha256:") {
			digest = f
		}
	}
	if digest == "" {
		return "", fmt.Errorf("no digest for %s:%s in\n%s", repo, tag, out)
	}
	_, err = node.Ctr(ctx, "images", "tag", repo+":"+tag, repo+"@"+digest)
	return digest, err
}

// startNodeSteps runs, as pods on the node, the route step of a release
// of tmpl named wf for a push of digest and tag, checks it prints the one
// route of target (service and target share the name) with lock, and
// creates that target's rollout step pod, which it returns for the
// caller to watch.
func startNodeSteps(ctx context.Context, t *testing.T, api *testenv.APIServer, tmpl *wfv1.WorkflowTemplate, wf, digest, tag string, published time.Time, target, lock string) *corev1.Pod {
	t.Helper()
	subst := map[string]string{
		"workflow.parameters.digest":       digest,
		"workflow.parameters.tag":          tag,
		"workflow.parameters.published-at": fmt.Sprint(published.UnixNano()),
		"workflow.parameters.rollback":     "",
		"workflow.name":                    wf,
	}
	route := stepPod(t, tmpl, "route", wf+"-route", subst)
	applyObject(ctx, t, api, route)
	done := waitPod(ctx, t, api, pipelineN, route.Name, 2*time.Minute, podEnded)
	out := mustKubectl(ctx, t, api, "", "logs", "-n", pipelineN, route.Name)
	want := fmt.Sprintf(`[{"service":%q,"target":%q,"lock":%q,"approval":"false"}]`+"\n", target, target, lock)
	if done.Status.Phase != corev1.PodSucceeded || out != want {
		t.Fatalf("route step pod: phase %s, output %q, want %q", done.Status.Phase, out, want)
	}
	subst["inputs.parameters.service"], subst["inputs.parameters.target"], subst["inputs.parameters.lock"] = target, target, lock
	rollout := stepPod(t, tmpl, "rollout", wf+"-rollout", subst)
	applyObject(ctx, t, api, rollout)
	return rollout
}

// stepPod is a pod of one step of the WorkflowTemplate: its container with
// the parameters in subst, the template's volumes, ServiceAccount and pod
// security context, restartPolicy Never.
func stepPod(t *testing.T, tmpl *wfv1.WorkflowTemplate, template, name string, subst map[string]string) *corev1.Pod {
	t.Helper()
	var c *corev1.Container
	for _, tp := range tmpl.Spec.Templates {
		if tp.Name == template && tp.Container != nil {
			c = tp.Container.DeepCopy()
		}
	}
	if c == nil {
		t.Fatalf("WorkflowTemplate %s has no container template %s", tmpl.Name, template)
	}
	resolve := func(s string) string {
		for k, v := range subst {
			s = strings.ReplaceAll(s, "{{"+k+"}}", v)
		}
		if strings.Contains(s, "{{") {
			t.Fatalf("template %s: %q is not resolved", template, s)
		}
		return s
	}
	for i := range c.Args {
		c.Args[i] = resolve(c.Args[i])
	}
	for i := range c.Env {
		c.Env[i].Value = resolve(c.Env[i].Value)
	}
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: tmpl.Namespace},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			ServiceAccountName:            tmpl.Spec.ServiceAccountName,
			AutomountServiceAccountToken:  tmpl.Spec.AutomountServiceAccountToken,
			SecurityContext:               tmpl.Spec.SecurityContext,
			Volumes:                       tmpl.Spec.Volumes,
			Containers:                    []corev1.Container{*c},
			TerminationGracePeriodSeconds: ptr.To[int64](1),
		},
	}
}

// restrictedPod is a pod that Pod Security's restricted level admits,
// running argv as 65534:65534, never restarted.
func restrictedPod(namespace, name, img string, argv ...string) *corev1.Pod {
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			SecurityContext:               restrictedPodSecurity(),
			Containers:                    []corev1.Container{restrictedContainer(img, argv...)},
			TerminationGracePeriodSeconds: ptr.To[int64](1),
		},
	}
}

func restrictedPodSecurity() *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{
		RunAsNonRoot:   ptr.To(true),
		RunAsUser:      ptr.To[int64](65534),
		RunAsGroup:     ptr.To[int64](65534),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

func restrictedContainer(img string, argv ...string) corev1.Container {
	return corev1.Container{
		Name:            "main",
		Image:           img,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Command:         argv,
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: ptr.To(false),
			ReadOnlyRootFilesystem:   ptr.To(true),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		},
	}
}

// runningDeployment is a Deployment of replicas restricted pods that stay
// up; a pod is Ready once its exec probe finds the file it wrote.
func runningDeployment(namespace, name, img string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	c := restrictedContainer(img, "sh", "-c", "trap 'exit 0' TERM; touch /tmp/ready; while true; do sleep 1; done")
	c.VolumeMounts = []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}}
	c.ReadinessProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"test", "-f", "/tmp/ready"}}},
		PeriodSeconds: 1,
	}
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Strategy: appsv1.DeploymentStrategy{RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: ptr.To(intstr.FromInt32(0))}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					SecurityContext:               restrictedPodSecurity(),
					Containers:                    []corev1.Container{c},
					Volumes:                       []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
					TerminationGracePeriodSeconds: ptr.To[int64](1),
				},
			},
		},
	}
}

// readyPods waits until selector's pods in namespace are n, each on
// the node, Ready, every container ready and a running task of
// containerd's, and fails the test with their state after timeout.
func readyPods(ctx context.Context, t *testing.T, api *testenv.APIServer, node *testenv.Node, namespace, selector string, n int, timeout time.Duration) []corev1.Pod {
	t.Helper()
	var pods corev1.PodList
	err := testenv.WaitFor(ctx, fmt.Sprintf("%d pods of %s Ready", n, selector), timeout, nil, func(ctx context.Context) error {
		getObject(ctx, t, api, &pods, "pods", "-n", namespace, "-l", selector)
		if len(pods.Items) != n {
			return fmt.Errorf("%d pods", len(pods.Items))
		}
		tasks, err := node.Ctr(ctx, "tasks", "ls")
		if err != nil {
			return err
		}
		for _, p := range pods.Items {
			ready := false
			for _, c := range p.Status.Conditions {
				ready = ready || c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue
			}
			if !ready || p.Spec.NodeName != node.Name || len(p.Status.ContainerStatuses) != len(p.Spec.Containers) {
				return fmt.Errorf("pod %s: node %q, phase %s, conditions %+v, containers %+v", p.Name, p.Spec.NodeName, p.Status.Phase, p.Status.Conditions, p.Status.ContainerStatuses)
			}
			for _, cs := range p.Status.ContainerStatuses {
				if id := strings.TrimPrefix(cs.ContainerID, "containerd://"); !cs.Ready || cs.State.Running == nil || !taskRunning(tasks, id) {
					return fmt.Errorf("pod %s: container %s %+v, not a running task of containerd", p.Name, cs.Name, cs.State)
				}
			}
		}
		return nil
	})
	if err != nil {
		events, _ := api.Kubectl(ctx, "", "get", "events", "-n", namespace, "--sort-by=.lastTimestamp")
		t.Fatalf("%v\nevents in %s:\n%s", err, namespace, events)
	}
	return pods.Items
}

// containerID is the containerd id of a pod's first container.
func containerID(p corev1.Pod) string {
	if len(p.Status.ContainerStatuses) == 0 {
		return "(none)"
	}
	return strings.TrimPrefix(p.Status.ContainerStatuses[0].ContainerID, "containerd://")
}

// taskRunning reports whether `ctr tasks ls` lists id as RUNNING.
func taskRunning(tasks, id string) bool {
	for _, line := range strings.Split(tasks, "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == id && f[2] == "RUNNING" {
			return true
		}
	}
	return false
}

// podEnded is a waitPod condition: the pod Succeeded or Failed.
func podEnded(p *corev1.Pod) error {
	if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return nil
	}
	return fmt.Errorf("phase %s, containers %+v", p.Status.Phase, p.Status.ContainerStatuses)
}

// waitPod polls a pod until cond holds and returns it.
func waitPod(ctx context.Context, t *testing.T, api *testenv.APIServer, namespace, name string, timeout time.Duration, cond func(*corev1.Pod) error) *corev1.Pod {
	t.Helper()
	var p corev1.Pod
	err := testenv.WaitFor(ctx, "pod "+namespace+"/"+name, timeout, nil, func(ctx context.Context) error {
		out, err := api.Kubectl(ctx, "", "get", "pod", name, "-n", namespace, "-o", "json")
		if err != nil {
			return err
		}
		p = corev1.Pod{}
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			return err
		}
		return cond(&p)
	})
	if err != nil {
		t.Fatal(err)
	}
	return &p
}

// applyObject applies an object, as JSON.
func applyObject(ctx context.Context, t *testing.T, api *testenv.APIServer, obj any) {
	t.Helper()
	data, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	mustKubectl(ctx, t, api, string(data), "apply", "-f", "-")
}

// getObject reads kubectl get ARGS -o json into v.
func getObject(ctx context.Context, t *testing.T, api *testenv.APIServer, v any, args ...string) {
	t.Helper()
	out := mustKubectl(ctx, t, api, "", append(append([]string{"get"}, args...), "-o", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatal(err)
	}
}

// mustKubectl runs kubectl as admin and returns its stdout.
func mustKubectl(ctx context.Context, t *testing.T, api *testenv.APIServer, stdin string, args ...string) string {
	t.Helper()
	out, err := api.Kubectl(ctx, stdin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
