//go:build e2e

package testenv_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"

	"github.com/argodeploy/argodeploy/pkg/render"
	"github.com/argodeploy/argodeploy/pkg/testenv"
)

// TestBusRestart injects, under the real chain (Pub/Sub emulator,
// argo-events eventsource and sensor, NATS JetStream, kube-apiserver), the
// faults of the event side in the middle of a burst of pushes, and wants
// each push's Workflow created by the Sensor, or the newest push released
// by a reconcile pass where Pub/Sub still holds it (none lost):
//
//   - the sensor killed and restarted 5 s later;
//   - the eventsource killed and restarted;
//   - the JetStream server killed and restarted on its store, as a pod back
//     on its volume claim (what spec.eventBus.jetstream.storage gives);
//   - the JetStream server restarted empty, as an emptyDir after a
//     reschedule: the Sensor can never reconnect (argo-events v1.9.11
//     creates its stream and bucket only at start) and the EventSource
//     leaves the pushes in Pub/Sub. One reconcile pass, run as its pod
//     would (its account's token, the bus credentials mounted from the
//     Secret), repairs the bus; the Sensor reconnects by itself and creates
//     the Workflows, the same pass also releasing the newest push from the
//     registry.
//
// A push that gets two Workflows is released twice, in order, by the real
// steps: both must succeed, the second finding it already applied.
func TestBusRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 16*time.Minute)
	defer cancel()
	rp := startRegistryPipeline(ctx, t, "bus")
	e, step, ps, api, nats, objs, cron, img, pushImage := rp.e, rp.step, rp.ps, rp.api, rp.nats, rp.objs, rp.cron, rp.img, rp.pushImage
	v0 := pushImage("v0")
	step("create target deployment", func() error {
		_, err := api.Kubectl(ctx, targetDeployment("shop", "web", corev1.Container{Name: "web", Image: v0}), "apply", "-f", "-")
		return err
	})
	sensors := sensorsOf(objs)
	p := testenv.Pipeline{API: api, NATS: nats, PubSub: ps}
	pub, progs := startEvents(ctx, t, e, step, p, sensors[0])
	n := 0
	push := func() string {
		t.Helper()
		n++
		tag := fmt.Sprintf("v%d", n)
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
	rolloutKC, err := api.ServiceAccountKubeconfig(ctx, pipelineN, "bus-rollout")
	if err != nil {
		t.Fatal(err)
	}
	tmpl := loadTemplate(ctx, t, api, pipelineN, "bus-rollout")
	if _, err := waitForWorkflow(ctx, api, "bus", push(), 60*time.Second); err != nil {
		t.Fatal(err)
	}

	// burst publishes six pushes 300 ms apart, kills after the second and
	// revives after the fifth, then waits up to two minutes for the
	// Sensor's Workflow of each. Older pushes may still be missing then:
	// Pub/Sub redelivers what a killed client had leased when the lease
	// runs out, and the emulator held pushes the eventsource took while
	// its bus was down, or published while it was dead, as long (from 1 to
	// over 8 minutes in runs here). The newest, which the target takes,
	// must have its Workflow: from the Sensor, or else from a reconcile
	// pass; the older ones are superseded and, when they come, skipped by
	// the step. With strict, every push must have come.
	var held []string
	burst := func(row string, strict bool, kill, revive func()) {
		t.Helper()
		var digests []string
		for i := range 6 {
			switch i {
			case 2:
				kill()
			case 5:
				revive()
			}
			digests = append(digests, push())
			time.Sleep(300 * time.Millisecond)
		}
		back := time.Now()
		got, missing := eventWorkflows(ctx, t, api, "bus", digests, 2*time.Minute)
		fmt.Printf("BenchmarkE2EBusRecovery/%s\t1\t%d ns/op\n", row, time.Since(back).Nanoseconds())
		t.Logf("%s: 6 pushes; Workflows per push %v, %.1fs after the revival", row, values(got, digests), time.Since(back).Seconds())
		if len(missing) > 0 && strict {
			t.Fatalf("%s: %d of 6 pushes lost", row, len(missing))
		}
		if len(missing) > 0 {
			held = append(held, missing...)
			if got[digests[5]] == 0 {
				run := reconcilePass(ctx, t, api, reconcileKC, cron)
				if _, err := waitForWorkflow(ctx, api, "bus", digests[5], time.Second); err != nil {
					t.Fatalf("%s: %d of 6 pushes still held by Pub/Sub, and the reconcile pass did not release the newest: %v\n%s", row, len(missing), err, run.stderr)
				}
			}
			by := "the Sensor"
			if got[digests[5]] == 0 {
				by = "a reconcile pass"
			}
			t.Logf("%s: %d pushes still held by Pub/Sub after two minutes; the newest, which the target takes, released by %s", row, len(missing), by)
		}
		for _, d := range digests {
			if got[d] > 1 {
				releaseAll(ctx, t, api, rolloutKC, tmpl, "bus", d)
			}
		}
	}
	// Restarted empty, first, before the other faults leave redeliveries
	// pending in Pub/Sub.
	nats.Kill()
	step("restart nats-server with an empty store", func() error { return nats.Restart(ctx, true) })
	wiped := time.Now()
	lost := []string{push(), push()}
	step("the sensor cannot reconnect", func() error {
		return testenv.WaitForLog(ctx, progs.sensor.Proc, "failed to reconnect to eventbus", 60*time.Second)
	})
	if wf, err := waitForWorkflow(ctx, api, "bus", lost[0], 15*time.Second); err == nil {
		t.Fatalf("Workflow %s for a push made after the bus came back empty, before any repair: the test shows nothing", wf.Name)
	}
	started := time.Now()
	run := reconcilePass(ctx, t, api, reconcileKC, cron)
	if !strings.Contains(run.stderr, "sensor bus: the stream default and its key-value bucket gone (the bus restarted empty); recreated") {
		t.Errorf("the pass did not repair the bus:\n%s", run.stderr)
	}
	// The Sensor reconnects by itself and binds to the consumer the pass
	// made: the stream has exactly its one consumer, and it says so.
	step("the sensor reconnects", func() error {
		if err := testenv.WaitForLog(ctx, progs.sensor.Proc, "reconnected to EventBus", 30*time.Second); err != nil {
			return err
		}
		return waitForConsumers(ctx, nats, sensorConsumers(sensors[0]), 30*time.Second)
	})
	if wf, err := waitForWorkflow(ctx, api, "bus", lost[1], time.Second); err != nil || !strings.Contains(run.stderr, "1 releases") {
		t.Errorf("the pass did not also release the newest push from the registry: %v, %v\n%s", wf, err, run.stderr)
	}
	got, missing := eventWorkflows(ctx, t, api, "bus", lost, 2*time.Minute)
	fmt.Printf("BenchmarkE2EBusRecovery/store-wiped-reconcile-pass\t1\t%d ns/op\n", time.Since(started).Nanoseconds())
	t.Logf("store wiped: the Sensor was stuck for %.1fs until the pass; %d of the 2 pushes then had their Workflows from the event path %.1fs after it began; Workflows per push %v",
		started.Sub(wiped).Seconds(), 2-len(missing), time.Since(started).Seconds(), values(got, lost))
	held = append(held, missing...)
	releaseAll(ctx, t, api, rolloutKC, tmpl, "bus", lost[1])

	// The sensor's durable consumer keeps what it missed: nothing may be
	// late.
	burst("sensor-killed", true, func() { killProgram(t, progs.sensor) }, func() {
		time.Sleep(5 * time.Second)
		step("restart sensor", func() error {
			var err error
			progs.sensor, err = startSensor(ctx, e, p, nats, sensors[0])
			return err
		})
	})
	burst("eventsource-killed", false, func() { killProgram(t, progs.source) }, func() {
		step("restart eventsource", func() error {
			var err error
			progs.source, err = startEventSource(ctx, e, p, sensors[0].Name)
			return err
		})
	})
	burst("store-kept", false, nats.Kill, func() {
		time.Sleep(5 * time.Second)
		step("restart nats-server on its store", func() error { return nats.Restart(ctx, false) })
	})

	// A second pass finds the bus healthy. (That the event path works
	// again after the repair the empty-bus row showed: after the other
	// faults, Pub/Sub's redelivery backlog decides when a new push comes.)
	if run := reconcilePass(ctx, t, api, reconcileKC, cron); strings.Contains(run.stderr, "recreated") {
		t.Errorf("a second pass repaired a healthy bus:\n%s", run.stderr)
	}
	// What Pub/Sub still held is older than a push the target has taken
	// (the newest of each burst came from the Sensor or the pass): when it
	// comes, the step skips it (TestReleases: an old push arriving last).
	// When it comes is Pub/Sub's: a push leased to a killed client returns
	// when the lease runs out (the Go client argo-events uses asks for
	// 600 s on its stream), and the emulator took from under a minute to
	// over 8 minutes here, so the test does not wait for it.
	if len(held) > 0 {
		t.Logf("%d pushes still held by Pub/Sub at the end, each superseded by a later push the target took: %v", len(held), held)
	}
}

// values lists m's values in the order of keys.
func values(m map[string]int, keys []string) []int {
	out := make([]int, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}

// killProgram kills an argo-events program at once, as a node failure or
// an OOM kill does.
func killProgram(t *testing.T, prog *testenv.ArgoProgram) {
	t.Helper()
	_ = syscall.Kill(-prog.Proc.Cmd.Process.Pid, syscall.SIGKILL)
	for range 100 {
		if done, _ := prog.Proc.Exited(); done {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s did not end", prog.Proc.Name)
}

// releaseAll runs every Workflow of pipeline's for digest, in the order
// they were created, through the real route and rollout steps: each must
// succeed, and the digest must end applied. A duplicate finds it applied.
func releaseAll(ctx context.Context, t *testing.T, api *testenv.APIServer, kubeconfig string, tmpl *wfv1.WorkflowTemplate, pipeline, digest string) {
	t.Helper()
	items := listWorkflows(ctx, t, api, render.LabelPartOf+"="+pipeline)
	runs := 0
	for i := range items {
		wf := &items[i]
		for _, p := range wf.Spec.Arguments.Parameters {
			if p.Name != render.ParamDigest || p.Value == nil || p.Value.String() != digest {
				continue
			}
			res := runRelease(ctx, t, api, kubeconfig, tmpl, wf, "")
			if res.route.exit != 0 || len(res.targets) != 1 || res.targets[0].exit != 0 {
				t.Errorf("release %d of %s (Workflow %s): route exit %d %s; targets %+v", runs+1, digest, wf.Name, res.route.exit, res.route.log, res.targets)
			}
			runs++
		}
	}
	if runs == 0 {
		t.Errorf("no Workflow of %s to release", digest)
	}
	if got := deploymentAs(ctx, t, api, "shop", "web").Spec.Template.Spec.Containers[0].Image; got != digest {
		t.Errorf("after %d releases of %s, shop/web runs %s", runs, digest, got)
	}
}

// eventWorkflows waits up to timeout until each digest has a Workflow
// that the Sensor created, and returns how many each has and the digests
// that have none.
func eventWorkflows(ctx context.Context, t *testing.T, api *testenv.APIServer, pipeline string, digests []string, timeout time.Duration) (map[string]int, []string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := map[string]int{}
		for _, wf := range listWorkflows(ctx, t, api, render.LabelPartOf+"="+pipeline+","+render.LabelOrigin+"!=reconcile") {
			for _, p := range wf.Spec.Arguments.Parameters {
				if p.Name == render.ParamDigest && p.Value != nil {
					got[p.Value.String()]++
				}
			}
		}
		var missing []string
		counts := map[string]int{}
		for _, d := range digests {
			counts[d] = got[d]
			if got[d] == 0 {
				missing = append(missing, d)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			return counts, missing
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// listWorkflows lists the Workflows of the pipeline namespace that
// selector selects, oldest first.
func listWorkflows(ctx context.Context, t *testing.T, api *testenv.APIServer, selector string) []wfv1.Workflow {
	t.Helper()
	out, err := api.Kubectl(ctx, "", "get", "workflows", "-n", pipelineN, "-l", selector, "--sort-by=.metadata.creationTimestamp", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Items []wfv1.Workflow `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	return list.Items
}
