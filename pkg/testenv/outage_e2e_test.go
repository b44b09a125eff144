//go:build e2e

package testenv_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"

	"github.com/argodeploy/argodeploy/pkg/render"
	"github.com/argodeploy/argodeploy/pkg/testenv"
)

// TestAPIServerOutage kills the kube-apiserver in the middle of a burst of
// pushes, as a control-plane upgrade does, keeps it down for 20 s and
// starts it again: every push must still create its Workflow, once, with
// no dead letter, because the Sensor's trigger retries (spec.sensor.retry:
// 2s, 4s, ... 256s) outlast the outage while JetStream holds the message.
// With the old retries (3 tries over 7 s) the pushes made during the
// outage were lost.
func TestAPIServerOutage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	e := testenv.New(t)
	step := stepper(t)
	ps, api, nats := startCluster(ctx, e, step)
	objs := renderMapping(t, "../../examples/single-service.yaml")
	sensors := sensorsOf(objs)
	if len(sensors) != 1 || sensors[0].Name != "shop" {
		t.Fatalf("the pipeline has Sensors %v, want one, shop", sensors)
	}
	applyPipeline(ctx, t, step, api, yamlOf(t, objs), pipelineN, "shop")
	pub, _ := startEvents(ctx, t, e, step, testenv.Pipeline{API: api, NATS: nats, PubSub: ps}, sensors[0])
	push := func(i int) string {
		digest := fmt.Sprintf("%s@sha256:%s", image, strings.Repeat(fmt.Sprintf("%02x", 0x30+i), 32))
		msg := fmt.Sprintf(`{"action":"INSERT","digest":%q,"tag":%q}`, digest, image+":latest")
		if _, err := pub.Publish(ctx, []byte(msg)); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		return digest
	}

	var want []string
	want = append(want, push(0))
	if _, err := waitForWorkflow(ctx, api, "shop", want[0], 60*time.Second); err != nil {
		t.Fatal(err)
	}
	api.Kill()
	down := time.Now()
	for i := 1; i <= 3; i++ {
		want = append(want, push(i))
		time.Sleep(time.Second)
	}
	time.Sleep(20*time.Second - time.Since(down))
	step("restart kube-apiserver", func() error { return api.Restart(ctx) })
	back := time.Now()
	t.Logf("kube-apiserver down for %.1fs; 3 pushes published meanwhile", back.Sub(down).Seconds())

	var got []string
	deadline := time.Now().Add(5 * time.Minute)
	for {
		out, err := api.Kubectl(ctx, "", "get", "workflows", "-n", pipelineN, "-o", "json")
		if err == nil {
			var list struct {
				Items []wfv1.Workflow `json:"items"`
			}
			if err := json.Unmarshal([]byte(out), &list); err != nil {
				t.Fatal(err)
			}
			got = got[:0]
			for _, wf := range list.Items {
				for _, p := range wf.Spec.Arguments.Parameters {
					if p.Name == render.ParamDigest {
						got = append(got, p.Value.String())
					}
				}
			}
		}
		if len(got) >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("after the outage: %d Workflows, the last %.1fs after the apiserver was back", len(got), time.Since(back).Seconds())
	fmt.Printf("BenchmarkE2EOutageRecovery/apiserver-down-20s\t1\t%d ns/op\n", time.Since(back).Nanoseconds())
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("Workflows for digests %v, want one each for %v", got, want)
	}
	if out, err := api.Kubectl(ctx, "", "get", "configmaps", "-n", pipelineN, "-l", render.LabelDeadLetter+"=true", "-o", "name"); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("dead letters after the outage: %q, %v", out, err)
	}
}
