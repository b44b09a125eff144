//go:build e2e

package testenv_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"

	"github.com/argodeploy/argodeploy/pkg/render"
	"github.com/argodeploy/argodeploy/pkg/testenv"
)

// healMapping is the pipeline of TestLostPushRecovered: one set-image
// service whose image is in the test's registry, and Sensor retries short
// enough (1 s, then 2 s) for a 15 s outage to lose a push.
const healMapping = `apiVersion: argodeploy.dev/v1alpha1
kind: ServiceMapping
metadata:
  name: %s
spec:
  gcp:
    project: %s
  sensor:
    retry:
      steps: 2
      duration: 1s
      jitter: 0
  reconcile:
    deadLetters:
      keep: 2
  workflow:
    rolloutTimeout: 20s
  services:
    - name: web
      image: %s
      namespace: shop
      strategy: set-image
`

// TestLostPushRecovered: a push whose Workflow the Sensor could not create
// (the kube-apiserver down longer than its retries, so its dead letter
// failed too) is not lost: the reconcile CronWorkflow's step, run as its
// pod would with its own ServiceAccount's token, finds it in a real
// registry (go-containerregistry's, which the test pushes images to) and
// creates its release Workflow, which rolls it; a second pass releases
// nothing.
func TestLostPushRecovered(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	rp := startRegistryPipeline(ctx, t, "heal")
	e, step, ps, api, nats, objs, cron, img, pushImage := rp.e, rp.step, rp.ps, rp.api, rp.nats, rp.objs, rp.cron, rp.img, rp.pushImage
	v0 := pushImage("v0")
	step("create target and probe deployments", func() error {
		for _, d := range []string{
			targetDeployment("shop", "web", corev1.Container{Name: "web", Image: v0}),
			targetDeployment("shop", "probe", corev1.Container{Name: "probe", Image: v0}),
		} {
			if _, err := api.Kubectl(ctx, d, "apply", "-f", "-"); err != nil {
				return err
			}
		}
		return nil
	})
	sensors := sensorsOf(objs)
	pub, _ := startEvents(ctx, t, e, step, testenv.Pipeline{API: api, NATS: nats, PubSub: ps}, sensors[0])
	publish := func(digest, tag string) {
		t.Helper()
		msg := fmt.Sprintf(`{"action":"INSERT","digest":%q,"tag":%q}`, digest, img+":"+tag)
		if _, err := pub.Publish(ctx, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	rolloutKC, err := api.ServiceAccountKubeconfig(ctx, pipelineN, "heal-rollout")
	if err != nil {
		t.Fatal(err)
	}
	reconcileKC, err := api.ServiceAccountKubeconfig(ctx, pipelineN, cron.Spec.WorkflowSpec.ServiceAccountName)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := loadTemplate(ctx, t, api, pipelineN, "heal-rollout")
	release := func(wf *wfv1.Workflow) {
		t.Helper()
		res := runRelease(ctx, t, api, rolloutKC, tmpl, wf, "")
		if res.route.exit != 0 || len(res.targets) != 1 || res.targets[0].exit != 0 {
			t.Fatalf("release of %s: route exit %d %s; targets %+v", wf.Name, res.route.exit, res.route.log, res.targets)
		}
	}
	wantImage := func(want string) {
		t.Helper()
		if got := deploymentAs(ctx, t, api, "shop", "web").Spec.Template.Spec.Containers[0].Image; got != want {
			t.Fatalf("shop/web runs %s, want %s", got, want)
		}
	}

	// An event goes through.
	v1d := pushImage("v1")
	publish(v1d, "v1")
	wf, err := waitForWorkflow(ctx, api, "heal", v1d, 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	release(wf)
	wantImage(v1d)

	// The next is lost: the apiserver is down for longer than the retries.
	api.Kill()
	v2d := pushImage("v2")
	publish(v2d, "v2")
	time.Sleep(15 * time.Second)
	step("restart kube-apiserver", func() error { return api.Restart(ctx) })
	// The controller-manager's watches broke with the apiserver; it comes
	// back after its own backoff. Until it does, no rollout is observed:
	// wait until it rolls a change of the probe Deployment.
	step("controller-manager back", func() error {
		if _, err := api.Kubectl(ctx, "", "patch", "deployment", "probe", "-n", "shop", "-p", `{"spec":{"template":{"metadata":{"annotations":{"probe":"after-outage"}}}}}`); err != nil {
			return err
		}
		_, err := api.Kubectl(ctx, "", "rollout", "status", "deployment/probe", "-n", "shop", "--timeout", "3m")
		return err
	})
	if wf, err := waitForWorkflow(ctx, api, "heal", v2d, 20*time.Second); err == nil {
		t.Fatalf("the push made during the outage created Workflow %s: the outage was too short to lose it", wf.Name)
	}
	wantImage(v1d)

	// The reconcile pass finds it in the registry and releases it.
	pass := func() containerRun { return reconcilePass(ctx, t, api, reconcileKC, cron) }
	started := time.Now()
	first := pass()
	wf, err = waitForWorkflow(ctx, api, "heal", v2d, 10*time.Second)
	if err != nil {
		t.Fatalf("after the reconcile pass: %v", err)
	}
	if wf.Labels[render.LabelOrigin] != "reconcile" {
		t.Errorf("Workflow %s labels %v, want origin reconcile", wf.Name, wf.Labels)
	}
	args := workflowArgs(t, wf, v2d, img+":v2")
	t.Logf("release Workflow %s, arguments %v", wf.Name, args)
	release(wf)
	wantImage(v2d)
	fmt.Printf("BenchmarkE2ELostPushRecovered/reconcile-pass\t1\t%d ns/op\n", time.Since(started).Nanoseconds())
	if !strings.Contains(first.stderr, "1 releases") {
		t.Errorf("first pass: %s", first.stderr)
	}

	// Three dead letters, as the Sensor's dead-letter trigger writes them
	// (its account, its labels), a second apart: the next pass keeps the
	// newest two (keep: 2), deleting the oldest as its own account.
	sensorKC, err := api.ServiceAccountKubeconfig(ctx, pipelineN, "heal-sensor")
	if err != nil {
		t.Fatal(err)
	}
	var dead []string
	for i := range 3 {
		if i > 0 {
			time.Sleep(1100 * time.Millisecond) // creation times are in seconds
		}
		cm := fmt.Sprintf(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"generateName":"heal-dead-letter-","namespace":%q,"labels":{%q:"true",%q:"heal",%q:%q}},"data":{"digest":%q,"tag":%q,"message":"","messageBytes":"0","publishTime":""}}`,
			pipelineN, render.LabelDeadLetter, render.LabelPartOf, render.LabelManagedBy, render.ManagerName, v2d, img+":v2")
		out, err := api.KubectlAs(ctx, sensorKC, cm, "create", "-f", "-", "-o", "jsonpath={.metadata.name}")
		if err != nil {
			t.Fatalf("a dead letter as heal-sensor: %v", err)
		}
		dead = append(dead, strings.TrimSpace(out))
	}

	// A second pass finds everything up to date and creates nothing.
	before, err := countWorkflows(ctx, api)
	if err != nil {
		t.Fatal(err)
	}
	second := pass()
	after, err := countWorkflows(ctx, api)
	if err != nil {
		t.Fatal(err)
	}
	if after != before || !strings.Contains(second.stderr, "1 up to date, 0 releases, 0 failed") {
		t.Errorf("second pass: %d Workflows before, %d after:\n%s", before, after, second.stderr)
	}
	out, err := api.Kubectl(ctx, "", "get", "configmaps", "-n", pipelineN, "-l", render.LabelDeadLetter+"=true", "-o", "jsonpath={.items[*].metadata.name}")
	if got := strings.Fields(out); err != nil || !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(dead[1:]))) ||
		second.exit != 0 || !strings.Contains(second.stderr, "deleted dead letter "+dead[0]) {
		t.Errorf("after the second pass (keep 2 of %v) the dead letters are %v (%v), exit %d:\n%s", dead, got, err, second.exit, second.stderr)
	}
}

// registryPipeline is the pipeline of healMapping, named name, whose one
// image is in a registry the test runs, applied to a fresh cluster whose
// EventBus controller the test plays.
type registryPipeline struct {
	e         *testenv.Env
	step      func(string, func() error)
	ps        *testenv.PubSub
	api       *testenv.APIServer
	nats      *testenv.NATS
	objs      []render.Object
	cron      *wfv1.CronWorkflow
	img       string
	pushImage func(tag string) string
}

func startRegistryPipeline(ctx context.Context, t *testing.T, name string) *registryPipeline {
	t.Helper()
	rp := &registryPipeline{e: testenv.New(t), step: stepper(t)}
	rp.img, rp.pushImage = startRegistry(t, "acme-"+name+"/web")
	mapping := filepath.Join(t.TempDir(), name+".yaml")
	if err := os.WriteFile(mapping, fmt.Appendf(nil, healMapping, name, project, rp.img), 0o644); err != nil {
		t.Fatal(err)
	}
	rp.ps, rp.api, rp.nats = startCluster(ctx, rp.e, rp.step)
	rp.objs = renderMapping(t, mapping)
	rp.cron = cronOf(t, rp.objs)
	applyPipeline(ctx, t, rp.step, rp.api, yamlOf(t, rp.objs), pipelineN, "shop")
	playBusController(ctx, t, rp.step, rp.api, rp.nats, "default")
	return rp
}

// startRegistry starts a real registry (go-containerregistry's) for the
// test and returns the image repo in it, and a function that pushes a new
// image to a tag of it and returns its digest reference. Each image is
// built just before its push: a registry that does not say when it
// received a manifest gives its creation time instead.
func startRegistry(t *testing.T, repoPath string) (string, func(tag string) string) {
	t.Helper()
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(reg.Close)
	img := strings.TrimPrefix(reg.URL, "http://") + "/" + repoPath
	repo, err := name.NewRepository(img)
	if err != nil {
		t.Fatal(err)
	}
	return img, func(tag string) string {
		t.Helper()
		i, err := random.Image(64, 1)
		if err == nil {
			i, err = mutate.CreatedAt(i, v1.Time{Time: time.Now()})
		}
		if err == nil {
			err = remote.Write(repo.Tag(tag), i)
		}
		d, derr := i.Digest()
		if err != nil || derr != nil {
			t.Fatalf("push %s: %v %v", tag, err, derr)
		}
		return img + "@" + d.String()
	}
}

// cronOf is the pipeline's reconcile CronWorkflow.
func cronOf(t *testing.T, objs []render.Object) *wfv1.CronWorkflow {
	t.Helper()
	for _, o := range objs {
		if c, ok := o.(*wfv1.CronWorkflow); ok {
			return c
		}
	}
	t.Fatal("the pipeline has no reconcile CronWorkflow")
	return nil
}

// reconcilePass runs the CronWorkflow's step as its pod would, with the
// reconcile account's kubeconfig, and wants it to exit 0.
func reconcilePass(ctx context.Context, t *testing.T, api *testenv.APIServer, kubeconfig string, cron *wfv1.CronWorkflow) containerRun {
	t.Helper()
	c := cronContainer(t, cron)
	run := runContainer(ctx, t, api, kubeconfig, &wfv1.WorkflowTemplate{ObjectMeta: cron.ObjectMeta, Spec: cron.Spec.WorkflowSpec}, pipelineN, c, func(s string) string { return s }, mustBinary(t), "")
	t.Logf("reconcile pass, exit %d:\n%s", run.exit, run.log)
	if run.exit != 0 {
		t.Fatalf("reconcile exit %d", run.exit)
	}
	return run
}

// cronContainer is the container of the CronWorkflow's one step: it must
// run argodeploy reconcile.
func cronContainer(t *testing.T, cron *wfv1.CronWorkflow) *corev1.Container {
	t.Helper()
	spec := cron.Spec.WorkflowSpec
	for _, tmpl := range spec.Templates {
		if tmpl.Name == spec.Entrypoint && tmpl.Container != nil && len(tmpl.Container.Command) == 2 && tmpl.Container.Command[1] == "reconcile" {
			return tmpl.Container
		}
	}
	t.Fatalf("CronWorkflow %s: entrypoint %q does not run argodeploy reconcile", cron.Name, spec.Entrypoint)
	return nil
}

// mustBinary is the argodeploy binary the steps run.
func mustBinary(t *testing.T) string {
	t.Helper()
	bin, err := argodeployBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}
