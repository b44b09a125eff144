//go:build e2e

package testenv_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/argodeploy/argodeploy/pkg/output"
	"github.com/argodeploy/argodeploy/pkg/render"
	"github.com/argodeploy/argodeploy/pkg/rollout"
	"github.com/argodeploy/argodeploy/pkg/testenv"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// What examples/single-service.yaml maps: pushes to IMAGE restart
// deployment web in namespace shop.
const (
	project   = "acme-shop-prod"
	image     = "us-east1-docker.pkg.dev/acme-shop-prod/containers/web"
	pipelineN = "argo-events"
)

// TestSmoke starts every component, applies the generated pipeline for
// examples/single-service.yaml, publishes one Artifact Registry message and
// expects the real eventsource -> JetStream -> sensor chain to create the
// Workflow; then checks the rollout ServiceAccount's RBAC with a real token.
func TestSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	e := testenv.New(t)
	start := time.Now()
	step := stepper(t)
	ps, api, nats := startCluster(ctx, e, step)

	objs := renderMapping(t, "../../examples/single-service.yaml")
	sensors := sensorsOf(objs)
	if len(sensors) != 1 || sensors[0].Name != "shop" {
		t.Fatalf("the pipeline has Sensors %v, want one, shop", sensors)
	}
	applyPipeline(ctx, t, step, api, yamlOf(t, objs), pipelineN, "shop")
	createDeployments(ctx, step, api, deployment("web", image+":latest"), deployment("other", image+":latest"))
	step("create topic gcr", func() error { return ps.CreateTopic(ctx, project, "gcr") })

	p := testenv.Pipeline{API: api, NATS: nats, PubSub: ps}
	var es, sn *testenv.ArgoProgram
	step("start eventsource", func() (err error) {
		es, err = e.StartEventSource(ctx, p, pipelineN, "shop")
		if err != nil {
			return err
		}
		t.Logf("eventsource env:\n%s", es.DecodedEnv())
		return testenv.WaitForLog(ctx, es.Proc, "listening for messages from PubSub", 90*time.Second)
	})
	step("start sensor", func() (err error) {
		sn, err = e.StartSensor(ctx, p, pipelineN, "shop")
		if err != nil {
			return err
		}
		t.Logf("sensor env:\n%s", sn.DecodedEnv())
		if err := testenv.WaitForLog(ctx, sn.Proc, "Subscribing to subject", 90*time.Second); err != nil {
			return err
		}
		return waitForConsumers(ctx, nats, sensorConsumers(sensors[0]), 30*time.Second)
	})
	step("subscription exists", func() error {
		ok, err := ps.SubscriptionExists(ctx, project, "argodeploy-shop")
		if err == nil && !ok {
			err = fmt.Errorf("eventsource did not create subscription argodeploy-shop")
		}
		return err
	})
	t.Logf("environment ready after %.1fs", time.Since(start).Seconds())

	digest := image + "@sha256:" + strings.Repeat("0123456789abcdef", 4)
	tag := image + ":latest" // the tag web's container references: restart rolls it
	msg := fmt.Sprintf(`{"action":"INSERT","digest":%q,"tag":%q}`, digest, tag)
	published := time.Now()
	id, err := ps.Publish(ctx, project, "gcr", []byte(msg))
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	t.Logf("published message %s: %s", id, msg)

	wf, err := waitForWorkflow(ctx, api, "shop", digest, 90*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("publish -> Workflow %s: %.2fs", wf.Name, time.Since(published).Seconds())
	// The Workflow names no service: its arguments are the push alone, and
	// the digest's image is web's, the one service the mapping has.
	params := workflowArgs(t, wf, digest, tag)
	if imageOf(params["digest"]) != image {
		t.Errorf("Workflow %s: digest %s is not of web's image %s", wf.Name, params["digest"], image)
	}
	checkWorkflowMeta(t, wf, "shop")
	if ns, err := strconv.ParseInt(params["published-at"], 10, 64); err == nil {
		if d := time.Unix(0, ns).Sub(published); d < -time.Minute || d > time.Minute {
			t.Errorf("published-at %s is %s away from the publish time", params["published-at"], d)
		}
	}
	if wf.Spec.WorkflowTemplateRef.Name != "shop-rollout" {
		t.Errorf("workflowTemplateRef = %q, want shop-rollout", wf.Spec.WorkflowTemplateRef.Name)
	}

	// Messages the Sensor's filters must drop: a delete, a push to an image
	// the mapping does not name, and pushes of web whose text is crafted to
	// reach an Argo template or a shell (pkg/simulate's injection test
	// replays the same and more offline).
	other := "us-east1-docker.pkg.dev/acme-shop-prod/containers/api"
	dropped := []string{
		fmt.Sprintf(`{"action":"DELETE","digest":%q,"tag":%q}`, digest, tag),
		fmt.Sprintf(`{"action":"INSERT","digest":%q,"tag":%q}`, other+"@sha256:"+strings.Repeat("ab", 32), other+":v1"),
		fmt.Sprintf(`{"action":"INSERT","digest":%q,"tag":%q}`, digest, image+":v1{{workflow.name}}"),
		fmt.Sprintf(`{"action":"INSERT","digest":%q,"tag":%q}`, digest, image+":v1$(reboot)"),
		fmt.Sprintf(`{"action":"INSERT","digest":%q,"tag":%q}`, digest, image+":v1\nrm -rf /"),
		fmt.Sprintf(`{"action":"INSERT","digest":%q,"tag":%q}`, digest+"\n"+digest, tag),
	}
	for _, m := range dropped {
		if _, err := ps.Publish(ctx, project, "gcr", []byte(m)); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
	if err := testenv.WaitForLogCount(ctx, sn.Proc, "didn't pass filter", len(dropped), 60*time.Second); err != nil {
		t.Fatal(err)
	}
	if n, err := countWorkflows(ctx, api); err != nil || n != 1 {
		t.Errorf("after %d non-matching messages: %d Workflows (%v), want 1", len(dropped), n, err)
	}

	// Each generated ServiceAccount may do exactly what its pods need: the
	// Workflow's rolls web and nothing else, the Sensor's creates Workflows
	// and dead letters in the pipeline namespace and nothing else, the
	// EventSource's nothing at all.
	for _, account := range []struct {
		name   string
		checks []struct {
			args []string
			want bool
		}
	}{
		{"shop-rollout", []struct {
			args []string
			want bool
		}{
			{[]string{"update", "deployments/web", "-n", "shop"}, true},
			{[]string{"get", "deployments/web", "-n", "shop"}, true},
			{[]string{"patch", "deployments/web", "-n", "shop"}, false},
			{[]string{"update", "deployments/other", "-n", "shop"}, false},
			{[]string{"get", "deployments/other", "-n", "shop"}, false},
			{[]string{"delete", "deployments/web", "-n", "shop"}, false},
			{[]string{"patch", "deployments/web", "-n", pipelineN}, false},
			{[]string{"create", "workflows", "-n", pipelineN}, false},
			{[]string{"get", "secrets", "-n", "shop"}, false},
			{[]string{"get", "secrets", "-n", pipelineN}, false},
			{[]string{"list", "secrets", "-A"}, false},
		}},
		{"shop-sensor", []struct {
			args []string
			want bool
		}{
			{[]string{"create", "workflows", "-n", pipelineN}, true},
			{[]string{"create", "configmaps", "-n", pipelineN}, true},
			{[]string{"delete", "workflows", "-n", pipelineN}, false},
			{[]string{"get", "configmaps", "-n", pipelineN}, false},
			{[]string{"create", "workflows", "-n", "shop"}, false},
			{[]string{"patch", "deployments/web", "-n", "shop"}, false},
			{[]string{"get", "secrets", "-n", pipelineN}, false},
		}},
		{"shop-eventsource", []struct {
			args []string
			want bool
		}{
			{[]string{"create", "workflows", "-n", pipelineN}, false},
			{[]string{"get", "configmaps", "-n", pipelineN}, false},
			{[]string{"get", "secrets", "-n", pipelineN}, false},
			{[]string{"list", "pods", "-n", pipelineN}, false},
		}},
	} {
		kc, err := api.ServiceAccountKubeconfig(ctx, pipelineN, account.name)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range account.checks {
			out, err := api.KubectlAs(ctx, kc, "", append([]string{"auth", "can-i"}, c.args...)...)
			got := err == nil && strings.TrimSpace(out) == "yes"
			if got != c.want {
				t.Errorf("%s can-i %s = %v (%q, %v), want %v", account.name, strings.Join(c.args, " "), got, strings.TrimSpace(out), err, c.want)
			}
		}
	}
	kc, err := api.ServiceAccountKubeconfig(ctx, pipelineN, "shop-rollout")
	if err != nil {
		t.Fatal(err)
	}

	// The Workflow's release, run as its pods would with the
	// ServiceAccount's token: argodeploy route finds web's one target from
	// the digest's image, then argodeploy rollout restarts web (its
	// container references the pushed tag) and records the push. The
	// deployment and replicaset controllers run but no kubelet, so web has
	// replicas: 0.
	tmpl := loadTemplate(ctx, t, api, pipelineN, "shop-rollout")
	s := time.Now()
	rel := runRelease(ctx, t, api, kc, tmpl, wf, "60s")
	t.Logf("release as shop-rollout (%.1fs): %+v", time.Since(s).Seconds(), rel)
	wantRoutes := []rollout.Route{{Service: "web", Target: "web", Lock: "local.shop.web"}}
	if rel.route.exit != 0 || !slices.Equal(rel.route.routes, wantRoutes) {
		t.Fatalf("route step of %s: exit %d, routes %+v, want %+v:\n%s", wf.Name, rel.route.exit, rel.route.routes, wantRoutes, rel.route.log)
	}
	if runs := rel.targets; len(runs) != 1 || runs[0].exit != 0 || runs[0].service != "web" || runs[0].target != "web" || runs[0].lock != "local.shop.web" {
		t.Fatalf("release of %s: %+v, want target web of service web rolled", wf.Name, runs)
	}
	out, err := api.Kubectl(ctx, "", "get", "deployment", "web", "-n", "shop", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var web appsv1.Deployment
	if err := json.Unmarshal([]byte(out), &web); err != nil {
		t.Fatal(err)
	}
	if web.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] == "" || stateOf(t, &web)["web"].Digest != strings.TrimPrefix(digest, image+"@") {
		t.Errorf("web after the release: annotations %v, pod template annotations %v", web.Annotations, web.Spec.Template.Annotations)
	}
}

// waitForWorkflow polls for the Workflow of pipeline's that releases
// digest (one that names it in its digest argument).
func waitForWorkflow(ctx context.Context, api *testenv.APIServer, pipeline, digest string, timeout time.Duration) (*wfv1.Workflow, error) {
	deadline := time.Now().Add(timeout)
	for {
		out, err := api.Kubectl(ctx, "", "get", "workflows", "-n", pipelineN, "-l", render.LabelPartOf+"="+pipeline, "-o", "json")
		if err != nil {
			return nil, err
		}
		var list struct {
			Items []wfv1.Workflow `json:"items"`
		}
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			return nil, err
		}
		for i := range list.Items {
			for _, p := range list.Items[i].Spec.Arguments.Parameters {
				if p.Name == render.ParamDigest && p.Value != nil && p.Value.String() == digest {
					return &list.Items[i], nil
				}
			}
		}
		if time.Now().After(deadline) {
			cms, _ := api.Kubectl(ctx, "", "get", "configmaps", "-n", pipelineN, "-l", render.LabelDeadLetter+"=true", "-o", "yaml")
			return nil, fmt.Errorf("no Workflow of %s for %s after %s (%d others); dead-letter ConfigMaps:\n%s", pipeline, digest, timeout, len(list.Items), cms)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// countWorkflows counts the Workflows in the pipeline namespace.
func countWorkflows(ctx context.Context, api *testenv.APIServer) (int, error) {
	out, err := api.Kubectl(ctx, "", "get", "workflows", "-n", pipelineN, "-o", "name")
	if err != nil {
		return 0, err
	}
	return len(strings.Fields(out)), nil
}

// generate renders a mapping file's pipeline as YAML, as `argodeploy
// generate -f FILE` does.
func generate(t *testing.T, file string) string {
	t.Helper()
	return yamlOf(t, renderMapping(t, file))
}

// deployment is a target Deployment in namespace shop whose container is
// named web.
func deployment(name, img string) string {
	return targetDeployment("shop", name, corev1.Container{Name: "web", Image: img})
}

// targetDeployment is a Deployment to roll, with no replicas (no kubelet
// runs), as YAML for kubectl apply, written by argodeploy's own writer.
func targetDeployment(namespace, name string, containers ...corev1.Container) string {
	labels := map[string]string{"app": name}
	d := appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](0),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: containers},
			},
		},
	}
	var out bytes.Buffer
	if err := output.YAML(&out, []output.Object{&d}); err != nil {
		panic(err) // a Deployment with TypeMeta always encodes
	}
	return out.String()
}
