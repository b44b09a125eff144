//go:build e2e

package testenv_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"

	"github.com/argodeploy/argodeploy/pkg/render"
	"github.com/argodeploy/argodeploy/pkg/testcorpus/synthetic"
	"github.com/argodeploy/argodeploy/pkg/testenv"
)

// TestLatencyAtScale measures, on the real chain, what a push costs as the
// mapping grows: the generated pipeline of 10 and of 1,000 synthetic
// services (pkg/testcorpus/synthetic) is applied, its EventSource and every
// Sensor shard started, and 20 pushes spread over the services are
// published 250 ms apart; for each size it reports the JetStream durable
// consumers the sensors made (what every push is delivered to: one per
// Sensor) and the median and p90 time from publish to the Workflow seen by
// a watch. Each push must create exactly one Workflow, whose arguments are
// the push alone and whose digest's image is the pushed service's.
func TestLatencyAtScale(t *testing.T) {
	for _, n := range []int{10, 1000} {
		t.Run(fmt.Sprintf("services=%d", n), func(t *testing.T) { latencyAtScale(t, n) })
	}
}

func latencyAtScale(t *testing.T, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	e := testenv.New(t)
	step := stepper(t)
	ps, api, nats := startCluster(ctx, e, step)
	objs, err := synthetic.Objects(n)
	if err != nil {
		t.Fatal(err)
	}
	m, err := synthetic.Mapping(n)
	if err != nil {
		t.Fatal(err)
	}
	serviceOf := map[string]string{} // image → its service
	for _, s := range m.Spec.Services {
		serviceOf[s.Image] = s.Name
	}
	var sensors []string
	consumers := 0
	for _, s := range sensorsOf(objs) {
		sensors = append(sensors, s.Name)
		consumers += sensorConsumers(s) // one: one trigger on one dependency
	}
	namespaces := []string{pipelineN}
	for i := range min(n, 10) {
		namespaces = append(namespaces, fmt.Sprintf("team-%d", i))
	}
	applyPipeline(ctx, t, step, api, yamlOf(t, objs), namespaces...)
	step("create topic gcr", func() error { return ps.CreateTopic(ctx, "acme-fleet", "gcr") })

	var (
		mu      sync.Mutex
		seen    = map[string]time.Time{} // digest → when the watch saw its Workflow
		wfs     = map[string][]string{}  // digest → services of its Workflows, by the digest's image
		tags    = map[string][]string{}  // digest → the tags of its Workflows
		badArgs []string                 // Workflows whose arguments are not exactly the push's
	)
	step("watch workflows", func() error {
		ch, err := api.Watch(ctx, "workflows", "-n", pipelineN)
		if err != nil {
			return err
		}
		go func() {
			for ev := range ch {
				var wf wfv1.Workflow
				if ev.Type != "ADDED" || json.Unmarshal(ev.Object, &wf) != nil {
					continue
				}
				var names []string
				params := map[string]string{}
				for _, p := range wf.Spec.Arguments.Parameters {
					names = append(names, p.Name)
					params[p.Name] = p.Value.String()
				}
				mu.Lock()
				d := params[render.ParamDigest]
				if _, ok := seen[d]; !ok {
					seen[d] = ev.Seen
				}
				svc, ok := serviceOf[imageOf(d)]
				if !ok {
					svc = "no service of " + imageOf(d)
				}
				wfs[d] = append(wfs[d], svc)
				tags[d] = append(tags[d], params[render.ParamTag])
				if _, err := strconv.ParseInt(params[render.ParamPublishedAt], 10, 64); err != nil || !slices.Equal(names, render.WorkflowParams()) {
					badArgs = append(badArgs, fmt.Sprintf("%s: %v", wf.Name, params))
				}
				mu.Unlock()
			}
		}()
		return nil
	})
	p := testenv.Pipeline{API: api, NATS: nats, PubSub: ps}
	step("start eventsource", func() error {
		_, err := startEventSource(ctx, e, p, "fleet")
		return err
	})
	started := time.Now()
	step(fmt.Sprintf("start %d sensors", len(sensors)), func() error {
		for _, name := range sensors {
			if _, err := e.StartSensor(ctx, p, pipelineN, name); err != nil {
				return err
			}
		}
		// Every consumer must exist before the first publish: they deliver
		// only new messages.
		return waitForConsumers(ctx, nats, consumers, 10*time.Minute)
	})
	t.Logf("%d services: %d Sensors, %d JetStream durable consumers, all subscribed %.1fs after the first sensor started",
		n, len(sensors), consumers, time.Since(started).Seconds())

	pub, err := ps.NewPublisher(ctx, "acme-fleet", "gcr")
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	const pushes, pace = 20, 250 * time.Millisecond
	sent := map[string]time.Time{}
	want := map[string]string{}
	wantTag := map[string]string{}
	for i := range pushes {
		k := i * max(1, n/pushes) // spread over the services
		msg := synthetic.Release(k, n)
		var body struct{ Digest, Tag string }
		if err := json.Unmarshal([]byte(msg), &body); err != nil {
			t.Fatal(err)
		}
		sent[body.Digest] = time.Now()
		want[body.Digest] = fmt.Sprintf("svc-%05d", k%n)
		wantTag[body.Digest] = body.Tag
		if _, err := pub.Publish(ctx, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(pace)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		mu.Lock()
		got := len(seen)
		mu.Unlock()
		if got >= pushes || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(badArgs) > 0 {
		t.Errorf("Workflows whose arguments are not exactly %v: %v", render.WorkflowParams(), badArgs)
	}
	var latency []time.Duration
	for d, at := range sent {
		if wfs[d] == nil {
			t.Errorf("push of %s: no Workflow after 2 minutes", d)
			continue
		}
		if !slices.Equal(wfs[d], []string{want[d]}) || !slices.Equal(tags[d], []string{wantTag[d]}) {
			t.Errorf("push of %s: Workflows for %v with tags %v, want one for %s with tag %s", d, wfs[d], tags[d], want[d], wantTag[d])
		}
		latency = append(latency, seen[d].Sub(at))
	}
	if len(latency) == 0 {
		t.FailNow()
	}
	slices.Sort(latency)
	median, p90 := latency[len(latency)/2], latency[len(latency)*9/10]
	var all []string
	for _, l := range latency {
		all = append(all, fmt.Sprintf("%.0f", l.Seconds()*1000))
	}
	t.Logf("%d services: publish -> Workflow over %d pushes: median %.0f ms, p90 %.0f ms; all (ms): %s",
		n, len(latency), median.Seconds()*1000, p90.Seconds()*1000, strings.Join(all, " "))
	fmt.Printf("BenchmarkE2EPublishToWorkflow/services=%d\t%d\t%d ns/op\t%d p90-ns\t%d consumers\n", n, len(latency), median.Nanoseconds(), p90.Nanoseconds(), consumers)
}
