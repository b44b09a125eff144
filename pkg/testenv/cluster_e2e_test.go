//go:build e2e

package testenv_test

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	eventsv1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"

	"github.com/argodeploy/argodeploy/pkg/render"
	"github.com/argodeploy/argodeploy/pkg/testenv"
)

// stepper returns a function that runs one named step of a test, fails the
// test if it fails and logs how long it took.
func stepper(t *testing.T) func(what string, f func() error) {
	return func(what string, f func() error) {
		t.Helper()
		s := time.Now()
		if err := f(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		t.Logf("%-28s %6.1fs", what, time.Since(s).Seconds())
	}
}

// startCluster starts what every end-to-end test needs: etcd, the
// kube-apiserver and controller-manager with the full CRDs applied, NATS
// and the Pub/Sub emulator, which (a JVM) starts while the others do.
func startCluster(ctx context.Context, e *testenv.Env, step func(string, func() error)) (*testenv.PubSub, *testenv.APIServer, *testenv.NATS) {
	var (
		ps   *testenv.PubSub
		nats *testenv.NATS
	)
	psErr := make(chan error, 1)
	go func() {
		var err error
		ps, err = e.StartPubSub(ctx)
		psErr <- err
	}()
	api := startKube(ctx, e, step)
	step("start nats-server", func() (err error) { nats, err = e.StartNATS(ctx); return })
	step("start pubsub emulator", func() error { return <-psErr })
	return ps, api, nats
}

// startKube starts etcd, the kube-apiserver and controller-manager, and
// applies the full CRDs.
func startKube(ctx context.Context, e *testenv.Env, step func(string, func() error)) *testenv.APIServer {
	var (
		etcd *testenv.Etcd
		api  *testenv.APIServer
	)
	step("start etcd", func() (err error) { etcd, err = e.StartEtcd(ctx); return })
	step("start kube-apiserver", func() (err error) { api, err = e.StartAPIServer(ctx, etcd); return })
	step("start controller-manager", func() error { _, err := e.StartControllerManager(ctx, api); return err })
	step("apply CRDs (full)", func() error { return api.ApplyCRDs(ctx, true) })
	return api
}

// applyPipeline creates the namespaces and applies the generated manifests
// as a user would: a server-side dry run first, then for real.
func applyPipeline(ctx context.Context, t *testing.T, step func(string, func() error), api *testenv.APIServer, manifests string, namespaces ...string) {
	step("create namespaces", func() error {
		for _, ns := range namespaces {
			if _, err := api.Kubectl(ctx, "", "create", "namespace", ns); err != nil {
				return err
			}
		}
		return nil
	})
	step("apply --dry-run=server", func() error {
		out, err := api.Kubectl(ctx, manifests, "apply", "--dry-run=server", "-f", "-")
		t.Logf("dry run:\n%s", out)
		return err
	})
	step("apply", func() error {
		_, err := api.Kubectl(ctx, manifests, "apply", "-f", "-")
		return err
	})
}

// startEventSource starts the pipeline's EventSource NAME and waits until
// it listens to its subscription.
func startEventSource(ctx context.Context, e *testenv.Env, p testenv.Pipeline, name string) (*testenv.ArgoProgram, error) {
	es, err := e.StartEventSource(ctx, p, pipelineN, name)
	if err != nil {
		return nil, err
	}
	return es, testenv.WaitForLog(ctx, es.Proc, "listening for messages from PubSub", 90*time.Second)
}

// startSensor starts the pipeline's Sensor and waits until it has
// subscribed and its durable consumers exist: they deliver only messages
// published after them.
func startSensor(ctx context.Context, e *testenv.Env, p testenv.Pipeline, nats *testenv.NATS, sensor *eventsv1.Sensor) (*testenv.ArgoProgram, error) {
	sn, err := e.StartSensor(ctx, p, pipelineN, sensor.Name)
	if err != nil {
		return nil, err
	}
	if err := testenv.WaitForLog(ctx, sn.Proc, "Subscribing to subject", 90*time.Second); err != nil {
		return nil, err
	}
	return sn, waitForConsumers(ctx, nats, sensorConsumers(sensor), 30*time.Second)
}

// startEvents creates the gcr topic, starts the pipeline's EventSource
// (named as the pipeline) and its one Sensor, and returns a publisher to
// the topic, closed when the test ends, and the two programs.
func startEvents(ctx context.Context, t *testing.T, e *testenv.Env, step func(string, func() error), p testenv.Pipeline, sensor *eventsv1.Sensor) (*testenv.Publisher, eventPrograms) {
	t.Helper()
	var progs eventPrograms
	step("create topic gcr", func() error { return p.PubSub.CreateTopic(ctx, project, "gcr") })
	step("start eventsource", func() error {
		var err error
		progs.source, err = startEventSource(ctx, e, p, sensor.Name)
		return err
	})
	step("start sensor", func() error {
		var err error
		progs.sensor, err = startSensor(ctx, e, p, p.NATS, sensor)
		return err
	})
	pub, err := p.PubSub.NewPublisher(ctx, project, "gcr")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pub.Close() })
	return pub, progs
}

// eventPrograms are a pipeline's running EventSource and Sensor.
type eventPrograms struct{ source, sensor *testenv.ArgoProgram }

// playBusController does for the JetStream EventBus NAME what the
// argo-events controller does once its server runs: it writes the client
// credentials Secret (eventbus-NAME-js-client-auth, key client-auth) and
// the bus's address and stream settings into the EventBus status, which
// is where the reconcile step reads them.
func playBusController(ctx context.Context, t *testing.T, step func(string, func() error), api *testenv.APIServer, nats *testenv.NATS, bus string) {
	t.Helper()
	step("play the EventBus controller", func() error {
		if _, err := api.Kubectl(ctx, "", "create", "secret", "generic", render.BusAuthSecret(bus), "-n", pipelineN,
			"--from-literal=client-auth="+nats.AuthYAML()); err != nil {
			return err
		}
		config, err := nats.BusConfig(bus)
		if err != nil {
			return err
		}
		patch := fmt.Sprintf(`{"status":{"config":%s}}`, config)
		_, err = api.Kubectl(ctx, "", "patch", "eventbus", bus, "-n", pipelineN, "--subresource=status", "--type=merge", "-p", patch)
		return err
	})
}

// createDeployments applies the Deployments docs (targetDeployment's) as
// one step.
func createDeployments(ctx context.Context, step func(string, func() error), api *testenv.APIServer, docs ...string) {
	step("create target deployments", func() error {
		for _, d := range docs {
			if _, err := api.Kubectl(ctx, d, "apply", "-f", "-"); err != nil {
				return err
			}
		}
		return nil
	})
}

// sensorsOf are the Sensors among the rendered objects.
func sensorsOf(objs []render.Object) []*eventsv1.Sensor {
	var out []*eventsv1.Sensor
	for _, o := range objs {
		if s, ok := o.(*eventsv1.Sensor); ok {
			out = append(out, s)
		}
	}
	return out
}

// conditionName finds the dependency names of a trigger's conditions.
var conditionName = regexp.MustCompile(`[^\s&|()!]+`)

// sensorConsumers is how many JetStream durable consumers a Sensor makes,
// as Argo Events' JetStream sensor subscribes: one per trigger and
// dependency its conditions name (every dependency when it has none). A
// generated Sensor has one trigger on its one dependency: one consumer.
func sensorConsumers(s *eventsv1.Sensor) int {
	n := 0
	for _, tr := range s.Spec.Triggers {
		named := conditionName.FindAllString(tr.Template.Conditions, -1)
		for _, d := range s.Spec.Dependencies {
			if len(named) == 0 || slices.Contains(named, d.Name) {
				n++
			}
		}
	}
	return n
}

// waitForConsumers waits until the event bus's stream has want durable
// consumers, and checks that it has no more.
func waitForConsumers(ctx context.Context, nats *testenv.NATS, want int, timeout time.Duration) error {
	if err := nats.WaitForConsumers(ctx, "default", want, timeout); err != nil {
		return err
	}
	names, err := nats.Consumers(ctx, "default")
	if err != nil {
		return err
	}
	if len(names) != want {
		return fmt.Errorf("stream default has %d consumers %v, want %d (one per Sensor)", len(names), names, want)
	}
	return nil
}

// imageOf is the image a digest (IMAGE@sha256:HEX) names: what the route
// step looks the service up by.
func imageOf(digest string) string {
	image, _, _ := strings.Cut(digest, "@")
	return image
}

// workflowArgs checks that a Workflow's arguments are exactly the
// parameters of the WorkflowTemplate, in order (digest, tag, published-at:
// all from the event), the digest and tag those given, and returns them.
func workflowArgs(t *testing.T, wf *wfv1.Workflow, digest, tag string) map[string]string {
	t.Helper()
	var names []string
	params := map[string]string{}
	for _, p := range wf.Spec.Arguments.Parameters {
		names = append(names, p.Name)
		if p.Value != nil {
			params[p.Name] = p.Value.String()
		}
	}
	if !slices.Equal(names, render.WorkflowParams()) || len(params) != len(names) {
		t.Errorf("Workflow %s: arguments %v, want exactly %v", wf.Name, params, render.WorkflowParams())
	}
	for k, v := range map[string]string{render.ParamDigest: digest, render.ParamTag: tag} {
		if params[k] != v {
			t.Errorf("Workflow %s: %s = %q, want %q", wf.Name, k, params[k], v)
		}
	}
	if _, err := strconv.ParseInt(params[render.ParamPublishedAt], 10, 64); err != nil {
		t.Errorf("Workflow %s: %s %q is not Unix nanoseconds: %v", wf.Name, render.ParamPublishedAt, params[render.ParamPublishedAt], err)
	}
	return params
}

// checkWorkflowMeta checks a Workflow's name and labels: named after the
// pipeline, labelled as the pipeline's objects are (and by the Sensor
// that created it), and nothing that names a service.
func checkWorkflowMeta(t *testing.T, wf *wfv1.Workflow, pipeline string) {
	t.Helper()
	if wf.GenerateName != pipeline+"-" || !strings.HasPrefix(wf.Name, pipeline+"-") {
		t.Errorf("Workflow %s: generateName %q, want %s-", wf.Name, wf.GenerateName, pipeline)
	}
	labels := map[string]string{}
	for k, v := range wf.Labels {
		if !strings.HasPrefix(k, "events.argoproj.io/") {
			labels[k] = v
		}
	}
	want := map[string]string{render.LabelManagedBy: render.ManagerName, render.LabelPartOf: pipeline}
	if !maps.Equal(labels, want) {
		t.Errorf("Workflow %s: labels %v, want %v and the Sensor's", wf.Name, wf.Labels, want)
	}
}
