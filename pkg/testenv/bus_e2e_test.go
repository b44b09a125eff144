//go:build e2e

package testenv_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"

	"github.com/argodeploy/argodeploy/pkg/render"
	"github.com/argodeploy/argodeploy/pkg/testenv"
)

// TestBusRestart kills the JetStream server under the real chain
// (Pub/Sub emulator, argo-events eventsource and sensor, kube-apiserver)
// with pushes published while it is down, twice:
//
//   - restarted on its store, as a pod back on its volume claim (what
//     spec.eventBus.jetstream.storage gives): every push gets its Workflow,
//     with no repair;
//   - restarted empty, as an emptyDir after a reschedule: the Sensor can
//     never reconnect (argo-events v1.9.11 creates its stream and bucket
//     only at start) and the EventSource leaves the pushes in Pub/Sub. One
//     reconcile pass, run as its pod would (its account's token, the bus
//     credentials mounted from the Secret), repairs the bus; the Sensor
//     reconnects by itself and every push gets its Workflow from the event
//     path, the same pass also releasing the newest from the registry.
func TestBusRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	rp := startRegistryPipeline(ctx, t, "bus")
	e, step, ps, api, nats, objs, cron, img, pushImage := rp.e, rp.step, rp.ps, rp.api, rp.nats, rp.objs, rp.cron, rp.img, rp.pushImage
	v0 := pushImage("v0")
	step("create target deployment", func() error {
		_, err := api.Kubectl(ctx, targetDeployment("shop", "web", corev1.Container{Name: "web", Image: v0}), "apply", "-f", "-")
		return err
	})
	sensors := sensorsOf(objs)
	pub, sensor := startEvents(ctx, t, e, step, testenv.Pipeline{API: api, NATS: nats, PubSub: ps}, sensors[0])
	push := func(tag string) string {
		t.Helper()
		digest := pushImage(tag)
		msg := fmt.Sprintf(`{"action":"INSERT","digest":%q,"tag":%q}`, digest, img+":"+tag)
		if _, err := pub.Publish(ctx, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		return digest
	}
	reconcileKC, err := api.ServiceAccountKubeconfig(ctx, pipelineN, cron.Spec.WorkflowSpec.ServiceAccountName)
	if err != nil {
		t.Fatal(err)
	}

	if _, err := waitForWorkflow(ctx, api, "bus", push("v1"), 60*time.Second); err != nil {
		t.Fatal(err)
	}

	// Restarted on its store.
	nats.Kill()
	kept := []string{push("v2"), push("v3")}
	time.Sleep(5 * time.Second)
	step("restart nats-server on its store", func() error { return nats.Restart(ctx, false) })
	back := time.Now()
	got := waitForEventWorkflows(ctx, t, api, "bus", kept, 3*time.Minute)
	fmt.Printf("BenchmarkE2EBusRecovery/store-kept\t1\t%d ns/op\n", time.Since(back).Nanoseconds())
	t.Logf("store kept: the pushes of the outage had Workflows %.1fs after the restart; Workflows per digest %v", time.Since(back).Seconds(), got)

	// Restarted empty.
	nats.Kill()
	step("restart nats-server with an empty store", func() error { return nats.Restart(ctx, true) })
	wiped := time.Now()
	lost := []string{push("v4"), push("v5")}
	step("the sensor cannot reconnect", func() error {
		return testenv.WaitForLog(ctx, sensor.Proc, "failed to reconnect to eventbus", 60*time.Second)
	})
	if wf, err := waitForWorkflow(ctx, api, "bus", lost[0], 15*time.Second); err == nil {
		t.Fatalf("Workflow %s for a push made after the bus came back empty, before any repair: the test shows nothing", wf.Name)
	}
	started := time.Now()
	run := reconcilePass(ctx, t, api, reconcileKC, cron)
	if !strings.Contains(run.stderr, "sensor bus: the stream default and its key-value bucket gone (the bus restarted empty); recreated") {
		t.Errorf("the pass did not repair the bus:\n%s", run.stderr)
	}
	got = waitForEventWorkflows(ctx, t, api, "bus", lost, 3*time.Minute)
	fmt.Printf("BenchmarkE2EBusRecovery/store-wiped-reconcile-pass\t1\t%d ns/op\n", time.Since(started).Nanoseconds())
	t.Logf("store wiped: the Sensor was stuck for %.1fs until the pass; the pushes then had their Workflows from the event path %.1fs after it began; Workflows per digest %v",
		started.Sub(wiped).Seconds(), time.Since(started).Seconds(), got)
	if wf, err := waitForWorkflow(ctx, api, "bus", lost[1], time.Second); err != nil || !strings.Contains(run.stderr, "1 releases") {
		t.Errorf("the pass did not also release the newest push from the registry: %v, %v\n%s", wf, err, run.stderr)
	}

	// The next push goes through as usual, and a second pass finds the bus
	// healthy.
	if got := waitForEventWorkflows(ctx, t, api, "bus", []string{push("v6")}, 60*time.Second); len(got) != 1 {
		t.Errorf("after the repair: %v", got)
	}
	if run := reconcilePass(ctx, t, api, reconcileKC, cron); strings.Contains(run.stderr, "recreated") {
		t.Errorf("a second pass repaired a healthy bus:\n%s", run.stderr)
	}
}

// waitForEventWorkflows waits until each digest has a Workflow that the
// Sensor created (not the reconcile loop), and returns how many each has.
func waitForEventWorkflows(ctx context.Context, t *testing.T, api *testenv.APIServer, pipeline string, digests []string, timeout time.Duration) map[string]int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out, err := api.Kubectl(ctx, "", "get", "workflows", "-n", pipelineN, "-l", render.LabelPartOf+"="+pipeline+",argodeploy.dev/origin!=reconcile", "-o", "json")
		if err != nil {
			t.Fatal(err)
		}
		var list struct {
			Items []wfv1.Workflow `json:"items"`
		}
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		for _, wf := range list.Items {
			for _, p := range wf.Spec.Arguments.Parameters {
				if p.Name == render.ParamDigest && p.Value != nil {
					got[p.Value.String()]++
				}
			}
		}
		missing := 0
		counts := map[string]int{}
		for _, d := range digests {
			counts[d] = got[d]
			if got[d] == 0 {
				missing++
			}
		}
		if missing == 0 {
			return counts
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, %d of %d pushes have no Workflow from the Sensor: %v", timeout, missing, len(digests), counts)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
