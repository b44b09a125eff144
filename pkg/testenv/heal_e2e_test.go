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

	"github.com/argodeploy/argodeploy/pkg/testenv"
)

// healMapping is the pipeline of TestLostPushRecovered: one set-image
// service whose image is in the test's registry, and Sensor retries short
// enough (1 s, then 2 s) for a 15 s outage to lose a push.
const healMapping = `apiVersion: argodeploy.dev/v1alpha1
kind: ServiceMapping
metadata:
  name: heal
spec:
  gcp:
    project: %s
  sensor:
    retry:
      steps: 2
      duration: 1s
      jitter: 0
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
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	img := strings.TrimPrefix(reg.URL, "http://") + "/acme-heal/web"
	repo, err := name.NewRepository(img)
	if err != nil {
		t.Fatal(err)
	}
	// Each image is built just before its push: a registry that does not
	// say when it received a manifest gives its creation time instead.
	pushImage := func(tag string) string {
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
	mapping := filepath.Join(t.TempDir(), "heal.yaml")
	if err := os.WriteFile(mapping, fmt.Appendf(nil, healMapping, project, img), 0o644); err != nil {
		t.Fatal(err)
	}

	e := testenv.New(t)
	step := stepper(t)
	ps, api, nats := startCluster(ctx, e, step)
	objs := renderMapping(t, mapping)
	var cron *wfv1.CronWorkflow
	for _, o := range objs {
		if c, ok := o.(*wfv1.CronWorkflow); ok {
			cron = c
		}
	}
	if cron == nil {
		t.Fatal("the pipeline has no reconcile CronWorkflow")
	}
	applyPipeline(ctx, t, step, api, yamlOf(t, objs), pipelineN, "shop")
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
	pub := startEvents(ctx, t, e, step, testenv.Pipeline{API: api, NATS: nats, PubSub: ps}, sensors[0])
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
	pass := func() containerRun {
		t.Helper()
		c := cronContainer(t, cron)
		run := runContainer(ctx, t, api, reconcileKC, &wfv1.WorkflowTemplate{ObjectMeta: cron.ObjectMeta, Spec: cron.Spec.WorkflowSpec}, pipelineN, c, func(s string) string { return s }, mustBinary(t), "")
		t.Logf("reconcile pass, exit %d:\n%s", run.exit, run.log)
		if run.exit != 0 {
			t.Fatalf("reconcile exit %d", run.exit)
		}
		return run
	}
	started := time.Now()
	first := pass()
	wf, err = waitForWorkflow(ctx, api, "heal", v2d, 10*time.Second)
	if err != nil {
		t.Fatalf("after the reconcile pass: %v", err)
	}
	if wf.Labels["argodeploy.dev/origin"] != "reconcile" {
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
