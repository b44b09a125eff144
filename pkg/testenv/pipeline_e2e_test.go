//go:build e2e

package testenv_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/output"
	"github.com/argodeploy/argodeploy/pkg/render"
	"github.com/argodeploy/argodeploy/pkg/rollout"
	"github.com/argodeploy/argodeploy/pkg/simulate"
	"github.com/argodeploy/argodeploy/pkg/testenv"
)

// What examples/multi-namespace.yaml names.
const (
	mnMapping      = "../../examples/multi-namespace.yaml"
	mnMessages     = "../../testdata/simulate/multi-namespace.jsonl"
	mnProject      = "acme-platform"
	mnSubscription = "argodeploy-platform"
	mnPipeline     = "platform" // EventSource, Sensor, WorkflowTemplate prefix
	mnCache        = "platform-cache"
	mnTemplate     = "platform-rollout"
	mnRollout      = "platform-rollout" // the workflow ServiceAccount
	mnRegistry     = "europe-west1-docker.pkg.dev/acme-platform"
)

// mnService is one service of the mapping, as its cache entry must say.
type mnService struct {
	name, image, namespace, deployment, container, strategy string
}

// lock is the Workflow's mutex: one per target Deployment.
func (s mnService) lock() string { return "local." + s.namespace + "." + s.deployment }

// mnServices are the mapping's services with their defaults applied: the
// container defaults to the Deployment's name, the Deployment to the
// service's, the strategy to restart.
var mnServices = []mnService{
	{"api", mnRegistry + "/services/api", "prod", "api", "api", "set-image"},
	{"api-worker", mnRegistry + "/services/api-worker", "prod", "worker", "worker", "set-image"},
	{"api-worker-batch", mnRegistry + "/services/api-worker-batch", "prod", "worker", "batch", "set-image"},
	{"api-staging", mnRegistry + "/staging/api", "staging", "api", "api", "set-image"},
	{"docs", mnRegistry + "/web/docs", "web", "docs", "docs", "restart"},
}

// mnExtra is a Deployment no service maps, next to mapped ones.
var mnExtra = mnService{"", mnRegistry + "/services/billing", "prod", "billing", "billing", ""}

func mnLookup(name string) mnService {
	for _, s := range mnServices {
		if s.name == name {
			return s
		}
	}
	panic("no service " + name)
}

// mnOfImage is the service of an image, as the route step finds it in the
// cache: a Workflow names no service, its digest's image does.
func mnOfImage(image string) (mnService, bool) {
	for _, s := range mnServices {
		if s.image == image {
			return s, true
		}
	}
	return mnService{}, false
}

// mnRoutes is what the route step of a push of svc's image with tag must
// print: svc's one target, or nothing (exit 2) when the tag is another
// image's.
func mnRoutes(svc mnService, tag string) (routes []rollout.Route, exit int) {
	if i := strings.LastIndex(tag, ":"); i < 0 || tag[:i] != svc.image {
		return nil, rollout.ExitPermanent
	}
	return []rollout.Route{{Service: svc.name, Target: svc.name, Lock: svc.lock()}}, 0
}

// mnFires is, per line of testdata/simulate/multi-namespace.jsonl, the
// service whose Workflow it must create, by the digest's image: the
// Sensor's one trigger creates at most one (the golden
// testdata/simulate/multi-namespace.out says the same).
var mnFires = [][]string{
	{"api"},              // api:v1.2.3
	{"api-worker"},       // api-worker:v1.2.3: not api, whose name is a prefix
	{"api-worker-batch"}, // api-worker-batch:v2.0.0: neither api nor api-worker
	{"api-staging"},      // staging/api:staging-7
	nil,                  // services/api:staging-7: outside api's tagPattern
	{"docs"},             // web/docs:latest
	nil,                  // services/billing: no service maps it
}

// TestPipeline runs the generated pipeline of examples/multi-namespace.yaml
// end to end on real components: messages published to the emulator must
// create exactly the Workflows simulate predicts, with the push as their
// only arguments; each Workflow's route step, run as its pod would with the
// generated ServiceAccount's token, must find the targets simulate
// predicts from the digest's image (or refuse a tag of another image), and
// its rollout step must roll exactly its Deployment; a rollout that
// cannot become healthy must be undone; and the publish -> Workflow latency
// is measured over 20 pushes.
func TestPipeline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	e := testenv.New(t)
	start := time.Now()
	step := stepper(t)
	ps, api, nats := startCluster(ctx, e, step)

	objs := renderMapping(t, mnMapping)
	manifests := yamlOf(t, objs)
	checkCache(t, objs)
	sensors := sensorsOf(objs)
	if len(sensors) != 1 || sensors[0].Name != mnPipeline {
		t.Fatalf("the pipeline has Sensors %v, want one, %s", sensors, mnPipeline)
	}
	applyPipeline(ctx, t, step, api, manifests, pipelineN, "prod", "staging", "web")
	createDeployments(ctx, step, api, mnDeployments()...)
	step("create topic gcr", func() error { return ps.CreateTopic(ctx, mnProject, "gcr") })

	r := &pipelineRun{t: t, ctx: ctx, api: api, consumers: sensorConsumers(sensors[0])}
	step("watch workflows", func() error { return r.watchWorkflows() })

	p := testenv.Pipeline{API: api, NATS: nats, PubSub: ps}
	step("start eventsource", func() error {
		_, err := startEventSource(ctx, e, p, mnPipeline)
		return err
	})
	step("start sensor", func() error {
		sn, err := e.StartSensor(ctx, p, pipelineN, mnPipeline)
		if err != nil {
			return err
		}
		r.sensor = sn.Proc
		// One durable consumer for the Sensor's one trigger on its one
		// dependency, whatever the number of services: it must exist before
		// the first publish, as it delivers only new messages.
		if err := testenv.WaitForLogCount(ctx, sn.Proc, "Subscribing to subject", r.consumers, 90*time.Second); err != nil {
			return err
		}
		return waitForConsumers(ctx, nats, r.consumers, 30*time.Second)
	})
	step("subscription exists", func() error {
		ok, err := ps.SubscriptionExists(ctx, mnProject, mnSubscription)
		if err == nil && !ok {
			err = fmt.Errorf("eventsource did not create subscription %s", mnSubscription)
		}
		return err
	})
	var err error
	if r.sim, err = simulate.NewPipeline(render.Convert[runtime.Object](objs)); err != nil {
		t.Fatal(err)
	}
	if r.simCluster, err = r.sim.NewCluster(nil); err != nil {
		t.Fatal(err)
	}
	if r.pub, err = ps.NewPublisher(ctx, mnProject, "gcr"); err != nil {
		t.Fatal(err)
	}
	defer r.pub.Close()
	t.Logf("environment ready after %.1fs", time.Since(start).Seconds())

	// 1. The simulate messages, then what GAR also sends and nothing must
	// act on, then one digest under a second tag.
	var (
		phase1 = time.Now()
		sent   []*sentMessage
	)
	f, err := os.Open(mnMessages)
	if err != nil {
		t.Fatal(err)
	}
	golden, err := simulate.ReadMessages(mnMessages, f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(golden) != len(mnFires) {
		t.Fatalf("%s has %d messages, the test knows %d", mnMessages, len(golden), len(mnFires))
	}
	for i, m := range golden {
		sent = append(sent, r.publish(m.Data, mnFires[i]...))
	}
	apiDigest := mnLookup("api").image + "@sha256:" + strings.Repeat("1", 64)
	docsDigest := mnLookup("docs").image + "@sha256:" + strings.Repeat("1", 64)
	sent = append(sent,
		// An untagged push: no "tag" field at all.
		r.publish(fmt.Appendf(nil, `{"action":"INSERT","digest":%q}`, mnLookup("api").image+"@sha256:"+strings.Repeat("2", 64))),
		// A tag deleted.
		r.publish(fmt.Appendf(nil, `{"action":"DELETE","digest":%q,"tag":%q}`, apiDigest, mnLookup("api").image+":v1.2.3")),
		// docs' digest of message 6 under a second tag: a second Workflow with
		// the same digest, whose step finds the digest rolled and does nothing.
		r.publish(fmt.Appendf(nil, `{"action":"INSERT","digest":%q,"tag":%q}`, docsDigest, mnLookup("docs").image+":stable"), "docs"),
	)
	// api's digest under a tag of api-worker's image: the Sensor's filters
	// take any mapped image's digest with any tag of a mapped image that
	// its pattern admits, so the trigger creates a Workflow; its route step
	// must refuse the push (exit 2), and nothing rolls.
	mismatch := r.publish(fmt.Appendf(nil, `{"action":"INSERT","digest":%q,"tag":%q}`,
		mnLookup("api").image+"@sha256:"+strings.Repeat("3", 64), mnLookup("api-worker").image+":v1.2.4"), "api")
	sent = append(sent, mismatch)
	t.Logf("%d messages published and judged in %.1fs", len(sent), time.Since(phase1).Seconds())
	if a, b := sent[5].workflows, sent[9].workflows; len(a) == 1 && len(b) == 1 && a[0].param("digest") != b[0].param("digest") {
		t.Errorf("docs under two tags: digests %s and %s differ", a[0].param("digest"), b[0].param("digest"))
	}
	if t.Failed() {
		t.FailNow()
	}

	// 2. Each Workflow's step, in publish order, as its pod would run it.
	r.loadTemplate()
	phase2 := time.Now()
	for _, m := range sent {
		for _, wf := range m.workflows {
			res := r.runStep(wf, "")
			if m == mismatch && (!res.refused || res.exit != rollout.ExitPermanent || !strings.Contains(res.log, "is not a tag of "+mnLookup("api").image)) {
				t.Errorf("api's digest under api-worker's tag: want the route step to refuse it (exit %d), got exit %d:\n%s", rollout.ExitPermanent, res.exit, res.log)
			}
			if wf.param("tag") == mnLookup("docs").image+":stable" {
				// The same digest under a second tag, which the container does
				// not reference: restart leaves it alone.
				if !res.noop || res.exit != 0 || !strings.Contains(res.log, "stable") {
					t.Errorf("second tag of %s: want the no-op path, got exit %d:\n%s", docsDigest, res.exit, res.log)
				}
			}
		}
	}
	t.Logf("steps of %d Workflows in %.1fs", r.steps, time.Since(phase2).Seconds())

	// The workflow account may not touch the Deployment no service maps.
	patch := `{"spec":{"template":{"metadata":{"annotations":{"argodeploy.dev/digest":"x"}}}}}`
	out, err := api.KubectlAs(ctx, r.kubeconfig, "", "-n", mnExtra.namespace, "patch", "deployment", mnExtra.deployment, "--type", "strategic", "-p", patch)
	if err == nil || !strings.Contains(err.Error(), "Forbidden") && !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("patch deployment %s/%s as %s: want Forbidden, got %q, %v", mnExtra.namespace, mnExtra.deployment, mnRollout, out, err)
	} else {
		t.Logf("patch of the unmapped deployment as %s: %v", mnRollout, err)
	}

	// 3. Latency: 20 pushes with distinct digests and tags over all
	// services, each published once the previous one's Workflow exists (the
	// order the steps need: a later push has a later publish time), and
	// at least pace after the previous one: the sensor's Kubernetes client
	// has client-go's default rate limit (5 requests/s, burst 10), so
	// back-to-back pushes measure its throttling (~150ms more per Workflow
	// once the burst is spent), not a push's latency.
	const (
		pushes = 20
		pace   = 250 * time.Millisecond
	)
	var latency []time.Duration
	first := len(sent)
	last := time.Now()
	for i := range pushes {
		time.Sleep(time.Until(last.Add(pace)))
		last = time.Now()
		s := mnServices[i%len(mnServices)]
		tag := fmt.Sprintf("v3.0.%d", i)
		switch s.name {
		case "api-staging":
			tag = fmt.Sprintf("staging-%d", i)
		case "docs":
			tag = "latest" // the tag its container references: a restart per new digest
		}
		digest := s.image + "@sha256:" + strings.Repeat(fmt.Sprintf("%02x", 0x20+i), 32)
		m := r.publish(fmt.Appendf(nil, `{"action":"INSERT","digest":%q,"tag":%q}`, digest, s.image+":"+tag), s.name)
		sent = append(sent, m)
		latency = append(latency, m.latency)
	}
	sorted := slices.Clone(latency)
	slices.Sort(sorted)
	median := (sorted[pushes/2-1] + sorted[pushes/2]) / 2
	t.Logf("publish -> Workflow over %d pushes: median %.3fs, min %.3fs, max %.3fs; all: %v",
		pushes, median.Seconds(), sorted[0].Seconds(), sorted[pushes-1].Seconds(), latency)
	fmt.Printf("BenchmarkE2EPublishToWorkflow/multi-namespace\t%d\t%d ns/op\n", pushes, median.Nanoseconds())
	for _, m := range sent[first:] {
		for _, wf := range m.workflows {
			if res := r.runStep(wf, ""); res.noop {
				t.Errorf("step of %s did nothing", wf.Name)
			}
		}
	}

	// 4. A rollout that cannot become healthy is undone: docs gets one
	// replica, which no kubelet ever runs, so `rollout status` times out.
	docs := mnLookup("docs")
	if _, err := api.Kubectl(ctx, "", "create", "serviceaccount", "default", "-n", docs.namespace); err != nil {
		t.Fatal(err)
	}
	if _, err := api.Kubectl(ctx, "", "scale", "deployment", docs.deployment, "-n", docs.namespace, "--replicas", "1"); err != nil {
		t.Fatal(err)
	}
	broken := docs.image + "@sha256:" + strings.Repeat("ef", 32)
	m := r.publish(fmt.Appendf(nil, `{"action":"INSERT","digest":%q,"tag":%q}`, broken, docs.image+":latest"), docs.name)
	sent = append(sent, m)
	if len(m.workflows) != 1 {
		t.FailNow()
	}
	before := r.deployment(docs.namespace, docs.deployment)
	s := time.Now()
	res := r.runStep(m.workflows[0], "5s")
	after := r.deployment(docs.namespace, docs.deployment)
	t.Logf("failing rollout (%.1fs), exit %d:\n%s", time.Since(s).Seconds(), res.exit, res.log)
	if res.exit != 3 {
		t.Errorf("failing rollout: exit %d, want 3", res.exit)
	}
	if st := stateOf(t, after)[docs.container]; st.Outcome != "undone" || st.Digest == strings.TrimPrefix(broken, docs.image+"@") {
		t.Errorf("failing rollout: state of %s = %+v, want the previous digest with outcome undone", docs.container, st)
	}
	if a, b := jsonOf(before.Spec.Template), jsonOf(after.Spec.Template); a != b {
		t.Errorf("failing rollout: pod template not restored:\nbefore %s\nafter  %s", a, b)
	}

	// Nothing else happened: exactly the Workflows the messages made, no
	// dead letters.
	want := 0
	for _, m := range sent {
		want += len(m.workflows)
	}
	if got := len(r.allWorkflows()); got != want {
		t.Errorf("%d Workflows in the cluster, want %d", got, want)
	}
	r.mu.Lock()
	if len(r.other) > 0 {
		t.Errorf("Workflow watch events other than ADDED: %v", r.other)
	}
	r.mu.Unlock()
	if out, err := api.Kubectl(ctx, "", "get", "configmaps", "-n", pipelineN, "-l", "argodeploy.dev/dead-letter=true", "-o", "name"); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("dead-letter ConfigMaps: %q, %v", out, err)
	}
	t.Logf("test done after %.1fs", time.Since(start).Seconds())
}

// pipelineRun is the state of TestPipeline: what was published, the
// Workflows seen, the rollout step's template.
type pipelineRun struct {
	t      *testing.T
	ctx    context.Context
	api    *testenv.APIServer
	sensor *testenv.Proc
	pub    *testenv.Publisher
	sim    *simulate.Pipeline

	simCluster *simulate.Cluster // what simulate's Follow plays the releases on
	consumers  int               // the Sensor's durable consumers: each judges every message

	mu        sync.Mutex
	workflows []clusterWorkflow
	other     []string // watch events other than ADDED

	published  []*sentMessage
	fired      int // trigger lines in the sensor log so far
	lastAt     int64
	template   *wfv1.WorkflowTemplate
	kubeconfig string
	steps      int
}

// sentMessage is one published message and what it did.
type sentMessage struct {
	n         int
	data      []byte
	id        string
	want      []string
	workflows []clusterWorkflow
	latency   time.Duration // publish -> first Workflow seen
}

// clusterWorkflow is the part of a Workflow the test reads, when the
// watch saw it, and what simulate predicts its route step finds.
type clusterWorkflow struct {
	wfv1.Workflow
	seen  time.Time
	route *simulate.Route
}

func (w clusterWorkflow) params() map[string]string {
	m := map[string]string{}
	for _, p := range w.Spec.Arguments.Parameters {
		if p.Value != nil {
			m[p.Name] = p.Value.String()
		}
	}
	return m
}

func (w clusterWorkflow) param(name string) string { return w.params()[name] }

// watchWorkflows records every Workflow of the pipeline namespace as the
// apiserver announces it.
func (r *pipelineRun) watchWorkflows() error {
	ch, err := r.api.Watch(r.ctx, "workflows", "-n", pipelineN)
	if err != nil {
		return err
	}
	go func() {
		for ev := range ch {
			var wf clusterWorkflow
			err := json.Unmarshal(ev.Object, &wf)
			r.mu.Lock()
			if ev.Type == "ADDED" && err == nil {
				wf.seen = ev.Seen
				r.workflows = append(r.workflows, wf)
			} else {
				r.other = append(r.other, fmt.Sprintf("%s %s %v", ev.Type, wf.Name, err))
			}
			r.mu.Unlock()
		}
	}()
	return nil
}

func (r *pipelineRun) allWorkflows() []clusterWorkflow {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.workflows)
}

var (
	triggeredLine = regexp.MustCompile(`Triggering actions after receiving dependency ([a-z0-9-]+)`)
	droppedLine   = regexp.MustCompile(`not interested in dependency ([a-z0-9-]+) \(didn't pass filter\)`)
)

// sensorLog returns the dependencies the sensor triggered on, in order,
// and how many times a dependency's filters said no. The Sensor has one
// dependency, push: each message logs one or the other once per consumer.
func (r *pipelineRun) sensorLog() (triggered []string, dropped int) {
	data, err := os.ReadFile(r.sensor.LogPath)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, m := range triggeredLine.FindAllSubmatch(data, -1) {
		triggered = append(triggered, string(m[1]))
	}
	return triggered, len(droppedLine.FindAll(data, -1))
}

// publish publishes data, waits until the sensor's trigger has judged it
// and the Workflow it fired exists, and checks them: a Workflow exists
// exactly when want names a service, and its digest's image is that
// service's; its arguments are exactly the push (digest, tag, publish
// time); simulate predicts the same trigger, arguments, name and labels,
// and a route step that finds the service's target (or refuses a tag of
// another image), which runStep holds the real one to.
func (r *pipelineRun) publish(data []byte, want ...string) *sentMessage {
	t := r.t
	t.Helper()
	m := &sentMessage{n: len(r.published) + 1, data: data, want: want}
	r.published = append(r.published, m)
	before, prevFired := len(r.allWorkflows()), r.fired
	sent := time.Now()
	id, err := r.pub.Publish(r.ctx, data)
	if err != nil {
		t.Fatalf("publish %s: %v", data, err)
	}
	acked := time.Now()
	m.id = id

	// Every trigger subscription judges every message: it either logs that
	// its dependency's filters said no, or triggers.
	deadline := time.Now().Add(60 * time.Second)
	var triggered []string
	for {
		all, dropped := r.sensorLog()
		if len(all)+dropped >= r.consumers*m.n {
			triggered = all[prevFired:]
			if len(r.allWorkflows()) >= before+len(triggered) {
				r.fired = len(all)
				break
			}
		}
		if time.Now().After(deadline) {
			cms, _ := r.api.Kubectl(r.ctx, "", "get", "configmaps", "-n", pipelineN, "-l", "argodeploy.dev/dead-letter=true", "-o", "yaml")
			t.Fatalf("message %d %s: after 60s the sensor judged it %d of %d times (triggered %v), %d Workflows, want %d; dead letters:\n%s",
				m.n, data, len(all)+dropped-r.consumers*(m.n-1), r.consumers, all[prevFired:], len(r.allWorkflows())-before, len(want), cms)
		}
		time.Sleep(20 * time.Millisecond)
	}
	m.workflows = r.allWorkflows()[before:]
	if len(m.workflows) > 0 {
		m.latency = m.workflows[0].seen.Sub(sent)
	}
	sort.Slice(m.workflows, func(i, j int) bool { return m.workflows[i].param("digest") < m.workflows[j].param("digest") })
	t.Logf("message %d (id %s) -> %d Workflow(s) %v in %.3fs%s: %s", m.n, id, len(m.workflows), names(m.workflows), m.latency.Seconds(), stages(sent, m.workflows), data)

	wantSorted := slices.Sorted(slices.Values(want))
	if len(want) > 1 {
		t.Fatalf("message %d: want Workflows for %v: the Sensor's one trigger creates at most one", m.n, want)
	}
	if got, wantDeps := triggered, slices.Repeat([]string{render.DependencyName}, len(want)); !slices.Equal(got, wantDeps) {
		t.Errorf("message %d %s: sensor triggered on %v, want %v", m.n, data, got, wantDeps)
	}
	var got []string
	for _, wf := range m.workflows {
		svc, ok := mnOfImage(imageOf(wf.param("digest")))
		if !ok {
			svc.name = "no service of " + imageOf(wf.param("digest"))
		}
		got = append(got, svc.name)
	}
	if !slices.Equal(got, wantSorted) {
		t.Errorf("message %d %s: Workflows for %v, want %v", m.n, data, got, wantSorted)
	}

	// The arguments: the push alone, digest and tag from the message,
	// published-at from the emulator's publish time.
	var body struct{ Digest, Tag string }
	_ = json.Unmarshal(data, &body)
	for _, wf := range m.workflows {
		params := workflowArgs(t, &wf.Workflow, body.Digest, body.Tag)
		checkWorkflowMeta(t, &wf.Workflow, mnPipeline)
		at, err := strconv.ParseInt(params["published-at"], 10, 64)
		switch pt := time.Unix(0, at); {
		case err != nil: // workflowArgs has said so
		case pt.Before(sent.Add(-time.Second)) || pt.After(acked.Add(time.Second)):
			t.Errorf("message %d: published-at %s is not between publish %s and its ack %s", m.n, pt, sent, acked)
		case at <= r.lastAt:
			t.Errorf("message %d: published-at %d is not after the previous message's %d", m.n, at, r.lastAt)
		default:
			r.lastAt = at
		}
		if wf.Spec.WorkflowTemplateRef.Name != mnTemplate || wf.Namespace != pipelineN {
			t.Errorf("message %d: Workflow %s/%s of WorkflowTemplate %q", m.n, wf.Namespace, wf.Name, wf.Spec.WorkflowTemplateRef.Name)
		}
	}

	// What `argodeploy simulate` predicts for the same message.
	o := r.sim.Replay(simulate.Message{ID: id, Data: data, PublishTime: sent})
	if o.Error != "" {
		t.Errorf("message %d: simulate: %s", m.n, o.Error)
	}
	if len(o.Fired) != len(m.workflows) {
		t.Errorf("message %d: simulate fires %d triggers, the cluster got %d Workflows", m.n, len(o.Fired), len(m.workflows))
		return m
	}
	for i, f := range o.Fired {
		wf := m.workflows[i]
		if f.Sensor != pipelineN+"/"+mnPipeline || f.Name != render.TriggerName || f.Workflow == nil {
			t.Errorf("message %d: simulate fires %s trigger %s, the cluster made Workflow %s (trigger %s)", m.n, f.Sensor, f.Name, wf.Name, wf.Labels["events.argoproj.io/trigger"])
			continue
		}
		simArgs, clusterArgs := cloneMap(f.Workflow.Arguments), wf.params()
		delete(simArgs, "published-at")
		delete(clusterArgs, "published-at")
		if _, set := clusterArgs[render.ParamRollback]; !set {
			// The Sensor leaves it out; the controller takes the
			// WorkflowTemplate's empty default, which simulate reports.
			clusterArgs[render.ParamRollback] = ""
		}
		if a, b := jsonOf(simArgs), jsonOf(clusterArgs); a != b || f.Workflow.Template != wf.Spec.WorkflowTemplateRef.Name || f.Workflow.Namespace != wf.Namespace {
			t.Errorf("message %d: simulate predicts %s/%s %s, the cluster has %s/%s %s", m.n,
				f.Workflow.Namespace, f.Workflow.Template, a, wf.Namespace, wf.Spec.WorkflowTemplateRef.Name, b)
		}
		var res wfv1.Workflow
		if err := json.Unmarshal(f.Resource, &res); err != nil {
			t.Errorf("message %d: simulate's resource: %v", m.n, err)
		} else {
			// The sensor adds its own labels, naming the trigger that fired.
			labels := cloneMap(res.Labels)
			labels["events.argoproj.io/sensor"] = mnPipeline
			labels["events.argoproj.io/trigger"] = f.Name
			got := cloneMap(wf.Labels)
			delete(got, "events.argoproj.io/action-timestamp")
			if jsonOf(labels) != jsonOf(got) || wf.GenerateName != res.GenerateName || !strings.HasPrefix(wf.Name, res.GenerateName) {
				t.Errorf("message %d: simulate's Workflow %s* %v, the cluster's %s %v", m.n, res.GenerateName, labels, wf.Name, wf.Labels)
			}
		}
		// The route step simulate predicts: the service of the digest's
		// image, its target and lock, from the cache; runStep holds the
		// real step to it.
		if err := r.sim.Follow(r.ctx, r.simCluster, f.Workflow, sent); err != nil || f.Workflow.Route == nil {
			t.Errorf("message %d: simulate's Follow: %v (route %+v)", m.n, err, f.Workflow.Route)
			continue
		}
		route := f.Workflow.Route
		if svc, ok := mnOfImage(imageOf(wf.param("digest"))); ok {
			wantRoutes, wantExit := mnRoutes(svc, wf.param("tag"))
			if route.Exit != wantExit || !slices.Equal(route.Targets, wantRoutes) || route.Cache != mnCache {
				t.Errorf("message %d: simulate's route step: %+v, want exit %d, targets %+v from cache %s", m.n, route, wantExit, wantRoutes, mnCache)
			}
		}
		m.workflows[i].route = route
	}
	if len(o.Fired) == 0 && len(o.Rejected) > 0 {
		t.Logf("message %d: simulate: %s/%s says no: %s", m.n, o.Rejected[0].Sensor, o.Rejected[0].Dependency, o.Rejected[0].Reason)
	}
	return m
}

// loadTemplate reads the WorkflowTemplate back from the apiserver and
// makes a kubeconfig with a token of its ServiceAccount.
func (r *pipelineRun) loadTemplate() {
	r.template = loadTemplate(r.ctx, r.t, r.api, pipelineN, mnTemplate)
	if sa := r.template.Spec.ServiceAccountName; sa != mnRollout {
		r.t.Fatalf("WorkflowTemplate %s runs as %q, want %s", mnTemplate, sa, mnRollout)
	}
	var err error
	if r.kubeconfig, err = r.api.ServiceAccountKubeconfig(r.ctx, pipelineN, mnRollout); err != nil {
		r.t.Fatal(err)
	}
}

// stepResult is what a release did.
type stepResult struct {
	exit    int
	log     string
	noop    bool // the Deployment's pod template did not change
	refused bool // the route step refused the push: no rollout step ran
}

// runStep runs the Workflow's release as the controller and its pods would
// (runRelease) with a token of the generated ServiceAccount: the route
// step must print what simulate predicted (publish), the one target of
// the service of the digest's image (every service of the mapping has
// one), or refuse the push; then that target's rollout step runs.
// rolloutTimeout, when set, replaces the step's --rollout-timeout. Unless
// the exit is 3 (the caller checks the undo), it checks that the step
// rolled its Deployment as the strategy says, or did nothing where the
// rules say so.
func (r *pipelineRun) runStep(wf clusterWorkflow, rolloutTimeout string) stepResult {
	t := r.t
	t.Helper()
	r.steps++
	params := wf.params()
	svc, ok := mnOfImage(imageOf(params["digest"]))
	if !ok || wf.route == nil {
		t.Fatalf("Workflow %s: digest %s is of no service, or simulate predicted no route step", wf.Name, params["digest"])
	}
	before := r.deployment(svc.namespace, svc.deployment)
	started := time.Now()
	rel := runRelease(r.ctx, t, r.api, r.kubeconfig, r.template, &wf.Workflow, rolloutTimeout)
	if rel.route.exit != wf.route.Exit || !slices.Equal(rel.route.routes, wf.route.Targets) {
		t.Fatalf("route step of %s: exit %d, routes %+v; simulate predicts exit %d, routes %+v:\n%s", wf.Name, rel.route.exit, rel.route.routes, wf.route.Exit, wf.route.Targets, rel.route.log)
	}
	if rel.route.exit != 0 {
		after := r.deployment(svc.namespace, svc.deployment)
		res := stepResult{exit: rel.route.exit, log: rel.route.log, refused: true}
		res.noop = jsonOf(before.Spec.Template) == jsonOf(after.Spec.Template) && len(rel.targets) == 0
		t.Logf("route step of %s (%s): exit %d in %.2fs: %s", wf.Name, params["tag"], res.exit, time.Since(started).Seconds(), strings.TrimSpace(res.log))
		return res
	}
	runs := rel.targets
	if len(runs) != 1 || runs[0].service != svc.name || runs[0].target != svc.name || runs[0].lock != svc.lock() {
		t.Fatalf("release of %s ran %+v, want one step for target %s of service %s holding %s", wf.Name, runs, svc.name, svc.name, svc.lock())
	}
	after := r.deployment(svc.namespace, svc.deployment)
	res := stepResult{exit: runs[0].exit, log: runs[0].log}
	res.noop = jsonOf(before.Spec.Template) == jsonOf(after.Spec.Template)
	t.Logf("step of %s (%s, %s): exit %d in %.2fs", wf.Name, svc.name, params["tag"], res.exit, time.Since(started).Seconds())
	if res.exit == 3 {
		return res
	}
	if res.exit != 0 {
		t.Errorf("step of %s: exit %d:\n%s", wf.Name, res.exit, res.log)
		return res
	}
	r.checkRolled(svc, params, before, after, started, res)
	return res
}

// checkRolled checks what a successful step did to its Deployment, by the
// rules of its strategy: set-image pins the container to the digest unless
// it already runs it; restart restarts the pods only when the pushed tag is
// the one the container references and that tag's digest is new. Either
// way the container's entry of the argodeploy.dev/state annotation records
// the push, and no other container changes.
func (r *pipelineRun) checkRolled(svc mnService, params map[string]string, before, after *appsv1.Deployment, started time.Time, res stepResult) {
	t := r.t
	t.Helper()
	digest, tag := params["digest"], params["tag"]
	what := fmt.Sprintf("step of %s (%s)", svc.name, tag)
	image := func(d *appsv1.Deployment, container string) string {
		for _, c := range d.Spec.Template.Spec.Containers {
			if c.Name == container {
				return c.Image
			}
		}
		return ""
	}
	var why string // why nothing may change, or "" when the step must roll
	shortDigest := strings.TrimPrefix(digest, svc.image+"@")
	shortTag := strings.TrimPrefix(tag, svc.image+":")
	prev := stateOf(t, before)[svc.container]
	switch svc.strategy {
	case "set-image":
		if image(before, svc.container) == digest {
			why = "already runs " + digest
		}
	case "restart":
		ref := strings.TrimPrefix(image(before, svc.container), svc.image+":")
		if ref != shortTag {
			why = "the container references :" + ref
		} else if prev.Digest == shortDigest && prev.Tag == shortTag {
			why = "already restarted for " + digest
		}
	}
	if why != "" {
		if !res.noop {
			t.Errorf("%s: %s, yet its pod template changed:\nbefore %s\nafter  %s", what, why, jsonOf(before.Spec.Template), jsonOf(after.Spec.Template))
		}
		return
	}
	if res.noop {
		t.Errorf("%s: the pod template did not change:\n%s", what, res.log)
		return
	}
	images := func(d *appsv1.Deployment) map[string]string {
		m := map[string]string{}
		for _, c := range d.Spec.Template.Spec.Containers {
			m[c.Name] = c.Image
		}
		return m
	}
	wantImages := images(before)
	restarted := after.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"]
	switch svc.strategy {
	case "set-image":
		wantImages[svc.container] = digest
		if was := before.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"]; restarted != was {
			t.Errorf("%s: set-image changed restartedAt from %q to %q", what, was, restarted)
		}
	case "restart":
		at, err := time.Parse(time.RFC3339, restarted)
		if err != nil || at.Before(started.Truncate(time.Second)) || at.After(time.Now()) {
			t.Errorf("%s: restartedAt %q is not the time of the step (%s): %v", what, restarted, started.UTC().Format(time.RFC3339), err)
		}
	}
	if got := images(after); jsonOf(got) != jsonOf(wantImages) {
		t.Errorf("%s: images %v, want %v", what, got, wantImages)
	}
	got := stateOf(t, after)
	if s := got[svc.container]; s.Digest != shortDigest || s.Tag != shortTag || s.PublishedAt != params["published-at"] || s.Outcome != "healthy" {
		t.Errorf("%s: state of container %s = %+v", what, svc.container, s)
	}
	for c, s := range stateOf(t, before) {
		if c != svc.container && got[c] != s {
			t.Errorf("%s: state of container %s changed from %+v to %+v", what, c, s, got[c])
		}
	}
	if after.Generation <= before.Generation || after.Status.ObservedGeneration < after.Generation {
		t.Errorf("%s: generation %d -> %d, observed %d", what, before.Generation, after.Generation, after.Status.ObservedGeneration)
	}
}

// containerState is one container's entry of the argodeploy.dev/state
// annotation, as far as the tests read it.
type containerState struct {
	Digest      string `json:"digest"`
	Tag         string `json:"tag"`
	PublishedAt string `json:"publishedAt"`
	Outcome     string `json:"outcome"`
	HealthyAt   string `json:"healthyAt"`
	Workflow    string `json:"workflow"`
}

// stateOf reads a Deployment's argodeploy.dev/state annotation.
func stateOf(t *testing.T, d *appsv1.Deployment) map[string]containerState {
	t.Helper()
	state := map[string]containerState{}
	if v := d.Annotations["argodeploy.dev/state"]; v != "" {
		var raw map[string]json.RawMessage
		if err := json.Unmarshal([]byte(v), &raw); err != nil {
			t.Errorf("Deployment %s/%s: argodeploy.dev/state %q: %v", d.Namespace, d.Name, v, err)
		}
		for c, r := range raw {
			var s containerState
			_ = json.Unmarshal(r, &s)
			state[c] = s
		}
	}
	return state
}

// deployment reads a Deployment as admin.
func (r *pipelineRun) deployment(namespace, name string) *appsv1.Deployment {
	out, err := r.api.Kubectl(r.ctx, "", "get", "deployment", name, "-n", namespace, "-o", "json")
	if err != nil {
		r.t.Fatal(err)
	}
	var d appsv1.Deployment
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		r.t.Fatal(err)
	}
	return &d
}

// renderMapping renders a mapping file as `argodeploy generate` does.
func renderMapping(t *testing.T, file string) []render.Object {
	t.Helper()
	m, err := mapping.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := render.Render(m, render.Options{ShardBytes: render.DefaultShardBytes})
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// yamlOf prints objects as `argodeploy generate` does.
func yamlOf(t *testing.T, objs []render.Object) string {
	t.Helper()
	var buf bytes.Buffer
	if err := output.YAML(&buf, render.Convert[output.Object](objs)); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// checkCache checks that the generated cache ConfigMap says of each
// service what mnServices does, so that the Deployments the test creates
// are the ones the pipeline rolls.
func checkCache(t *testing.T, objs []render.Object) {
	t.Helper()
	for _, o := range objs {
		cm, ok := o.(*corev1.ConfigMap)
		if !ok || cm.Name != mnCache {
			continue
		}
		if len(cm.Data) != len(mnServices) {
			t.Fatalf("cache ConfigMap has %d entries, want %d", len(cm.Data), len(mnServices))
		}
		for _, s := range mnServices {
			got, err := mapping.DecodeEntry([]byte(cm.Data[s.name]))
			if err != nil {
				t.Fatalf("cache entry of %s: %v", s.name, err)
			}
			if len(got.Targets) != 1 {
				t.Fatalf("cache entry of %s has targets %+v, want one", s.name, got.Targets)
			}
			g := got.Targets[0]
			if got.Image != s.image || g.Name != s.name || g.Deployment != s.deployment || g.Namespace != s.namespace || g.Container != s.container || g.Strategy != s.strategy {
				t.Fatalf("cache entry of %s = %+v, want %+v", s.name, got, s)
			}
		}
		return
	}
	t.Fatalf("no ConfigMap %s among the generated objects", mnCache)
}

// mnDeployments are the target Deployments, one per mapped Deployment with
// a container per service that rolls it, plus mnExtra. replicas: 0, as no
// kubelet runs.
func mnDeployments() []string {
	type target struct{ namespace, name string }
	containers := map[target][]mnService{}
	var order []target
	for _, s := range append(slices.Clone(mnServices), mnExtra) {
		k := target{s.namespace, s.deployment}
		if containers[k] == nil {
			order = append(order, k)
		}
		containers[k] = append(containers[k], s)
	}
	var out []string
	for _, k := range order {
		var cs []corev1.Container
		for _, s := range containers[k] {
			ref := s.image + ":1.0"
			if s.strategy == "restart" {
				ref = s.image + ":latest" // restart moves a container that runs a moving tag
			}
			cs = append(cs, corev1.Container{Name: s.container, Image: ref})
		}
		out = append(out, targetDeployment(k.namespace, k.name, cs...))
	}
	return out
}

// stages splits the latency of a message's first Workflow at the
// emulator's publish time (published-at) and the sensor's trigger time (the
// events.argoproj.io/action-timestamp label, in milliseconds).
func stages(sent time.Time, wfs []clusterWorkflow) string {
	if len(wfs) == 0 {
		return ""
	}
	at, err1 := strconv.ParseInt(wfs[0].param("published-at"), 10, 64)
	action, err2 := strconv.ParseInt(wfs[0].Labels["events.argoproj.io/action-timestamp"], 10, 64)
	if err1 != nil || err2 != nil {
		return ""
	}
	published, triggered := time.Unix(0, at), time.UnixMilli(action)
	return fmt.Sprintf(" (publish %dms, emulator -> sensor trigger %dms, -> seen %dms)",
		published.Sub(sent).Milliseconds(), triggered.Sub(published).Milliseconds(), wfs[0].seen.Sub(triggered).Milliseconds())
}

func names(wfs []clusterWorkflow) []string {
	var out []string
	for _, w := range wfs {
		out = append(out, w.Name)
	}
	return out
}

func cloneMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// jsonOf is v as JSON, for comparisons (map keys sorted).
func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}
