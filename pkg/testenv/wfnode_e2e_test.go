//go:build e2e

package testenv_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/argodeploy/argodeploy/pkg/render"
	"github.com/argodeploy/argodeploy/pkg/testenv"
)

// executorConfig is the controller's executor setting for a namespace that
// enforces Pod Security restricted: the init and wait containers it adds
// to each step pod get the securityContext that level asks of every
// container (the pod's, from the WorkflowTemplate, already runs as 65534
// with RuntimeDefault seccomp).
const executorConfig = `securityContext:
  allowPrivilegeEscalation: false
  capabilities:
    drop: [ALL]
  readOnlyRootFilesystem: true
  runAsNonRoot: true
`

// nodeWorkflows runs releases of examples/single-service.yaml's pipeline
// (applied by nodeRelease; namespace argo-events enforces restricted)
// through the real Argo Workflows controller, its step pods through the
// real executor (argoexec's init and wait containers, emissary) on the
// real node: for each push the Workflow the Sensor's trigger creates ends
// Succeeded, the route step's result (written by the wait container as a
// WorkflowTaskResult, with the step ServiceAccount's token) fans out to
// the rollout step, whose pod restarts shop/web; its new pods run. It
// prints, over the pushes, Workflow created → rollout pod running →
// target rolled (BenchmarkE2ENodeWorkflow).
func nodeWorkflows(ctx context.Context, t *testing.T, e *testenv.Env, api *testenv.APIServer, node *testenv.Node, pushes int) {
	step := stepper(t)
	step("import the executor image", func() error {
		tar := filepath.Join(t.TempDir(), "argoexec.tar")
		if err := testenv.WriteExecutorImage(tar); err != nil {
			return err
		}
		return node.ImportImage(ctx, tar)
	})
	step("start workflow-controller", func() error {
		_, err := e.StartWorkflowController(ctx, api, testenv.WithControllerConfig("executor", executorConfig), testenv.WithRequeueTime(time.Second))
		return err
	})
	w := newWorkflowRun(ctx, t, api, "../../examples/single-service.yaml", pipelineN, "shop")
	webImage := image + ":latest"
	base, err := testenv.BusyboxImage("65534:65534")
	if err != nil {
		t.Fatal(err)
	}
	var toRunning, toRolled []time.Duration
	for i := range pushes {
		// Each push is a new image of web:latest, which shop/web runs:
		// its restart strategy rolls the new pods onto it.
		var digest string
		step(fmt.Sprintf("push %d: import a new %s", i, webImage), func() error {
			cfg, err := base.ConfigFile()
			if err != nil {
				return err
			}
			cfg = cfg.DeepCopy()
			cfg.Config.Labels = map[string]string{"dev.argodeploy.e2e.push": fmt.Sprint(i)}
			img, err := mutate.ConfigFile(base, cfg)
			if err != nil {
				return err
			}
			if err := node.ImportBuilt(ctx, webImage, img); err != nil {
				return err
			}
			digest = imageDigest(ctx, t, node, webImage)
			return nil
		})
		before := deploymentAs(ctx, t, api, "shop", "web")
		p := &wfPush{service: "web", digest: image + "@" + digest, tag: webImage, at: time.Now()}
		w.createPush(p)
		created := w.get(p.Name).CreationTimestamp.Time
		wf := w.waitPhase(p.Name, wfv1.WorkflowSucceeded, 5*time.Minute)
		t.Logf("push %d: Workflow %s Succeeded; nodes:\n%s", i, p.Name, nodeSummary(wf))

		// The route node's result came from the real wait container.
		route := w.node(wf, render.RouteTemplate, wfv1.NodeTypePod)
		if route.Outputs == nil || route.Outputs.Result == nil || *route.Outputs.Result != `[{"service":"web","target":"web","lock":"local.shop.web","approval":"false"}]` {
			t.Errorf("route node outputs %+v", route.Outputs)
		}
		roll := w.node(wf, render.RolloutTemplate, wfv1.NodeTypePod)
		if roll.Phase != wfv1.NodeSucceeded {
			t.Errorf("rollout node %s", roll.Phase)
		}
		running := roll.StartedAt.Time
		after := deploymentAs(ctx, t, api, "shop", "web")
		state := stateOf(t, after)["web"]
		if state.Digest != digest || state.Outcome != "healthy" || state.Workflow != p.Name {
			t.Errorf("push %d: shop/web state %+v, want digest %s healthy from %s", i, state, digest, p.Name)
		}
		if after.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] == before.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] {
			t.Errorf("push %d: shop/web was not restarted", i)
		}
		healthy, err := time.Parse(time.RFC3339Nano, state.HealthyAt)
		if err != nil {
			t.Errorf("push %d: healthyAt %q: %v", i, state.HealthyAt, err)
		}
		toRunning = append(toRunning, running.Sub(created))
		toRolled = append(toRolled, healthy.Sub(created))
		readyPods(ctx, t, api, node, "shop", "app=web", 1)
	}
	for _, m := range []struct {
		name string
		ds   []time.Duration
	}{{"created-to-rollout-pod-started", toRunning}, {"created-to-target-healthy", toRolled}} {
		slices.Sort(m.ds)
		med, p90 := m.ds[len(m.ds)/2], m.ds[min(len(m.ds)-1, len(m.ds)*9/10)]
		fmt.Printf("BenchmarkE2ENodeWorkflow/%s/median\t1\t%d ns/op\n", m.name, med.Nanoseconds())
		fmt.Printf("BenchmarkE2ENodeWorkflow/%s/p90\t1\t%d ns/op\n", m.name, p90.Nanoseconds())
		t.Logf("%s over %d pushes: median %s, p90 %s", m.name, len(m.ds), med.Round(10*time.Millisecond), p90.Round(10*time.Millisecond))
	}
}

// imageDigest is the digest of an image the node has, as containerd
// reports it.
func imageDigest(ctx context.Context, t *testing.T, node *testenv.Node, ref string) string {
	t.Helper()
	out, err := node.Ctr(ctx, "images", "ls", "name=="+ref)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range strings.Fields(out) {
		if strings.HasPrefix(f, "sha256:") {
			return f
		}
	}
	t.Fatalf("no digest of %s in:\n%s", ref, out)
	return ""
}
