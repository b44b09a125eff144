package render_test

import (
	"context"
	"encoding/json"
	"maps"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	eventsv1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	"github.com/argoproj/argo-events/pkg/eventsources/events"
	"github.com/argoproj/argo-events/pkg/sensors/dependencies"
	"github.com/argoproj/argo-events/pkg/sensors/triggers"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/argodeploy/argodeploy/pkg/check"
	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/render"
)

// TestExamplesPassUpstreamValidators renders every example and runs each
// object through the validators the Argo controllers run (and the local and
// cross-resource checks), then runs the
// Workflow and dead-letter ConfigMap that each trigger would create.
func TestExamplesPassUpstreamValidators(t *testing.T) {
	examples, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(examples) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, example := range examples {
		t.Run(filepath.Base(example), func(t *testing.T) {
			m, objs := renderFile(t, example)
			runtimeObjs := render.Convert[runtime.Object](objs)
			validated := map[string]int{}
			for _, r := range check.All(context.Background(), runtimeObjs, check.Options{}) {
				if r.Err != nil {
					t.Errorf("%s %s/%s fails %s: %v", r.Kind, r.Namespace, r.Name, r.Validator, r.Err)
				}
				if strings.HasPrefix(r.Validator, "argo-") { // argo-events or argo-workflows
					validated[r.Kind]++
				}
			}
			for _, kind := range []string{"EventSource", "EventBus", "Sensor", "WorkflowTemplate", "CronWorkflow"} {
				if validated[kind] == 0 {
					t.Errorf("no upstream validator ran on any %s", kind)
				}
			}
			checkTriggers(t, m, objs)
		})
	}
}

// checkTriggers applies every trigger's parameters to its resource, with
// the Sensor's own code, and validates what a cluster would then create.
func checkTriggers(t *testing.T, m *mapping.ServiceMapping, objs []render.Object) {
	t.Helper()
	var templates []*wfv1.WorkflowTemplate
	var sensors []*eventsv1.Sensor
	for _, o := range objs {
		switch o := o.(type) {
		case *wfv1.WorkflowTemplate:
			templates = append(templates, o)
		case *eventsv1.Sensor:
			sensors = append(sensors, o)
		}
	}
	sensorOf := map[string]*eventsv1.Sensor{} // image → the Sensor whose filter admits it
	for _, svc := range m.Spec.Services {
		body := `{"action":"INSERT","digest":"` + svc.Image + `@sha256:` + strings.Repeat("5e", 32) + `","tag":"` + svc.Image + `:` + takenTag(t, svc) + `"}`
		evs := map[string]*eventsv1.Event{render.DependencyName: registryEvent(t, body)}
		for _, sensor := range sensors {
			dep := sensor.Spec.Dependencies[0]
			if ok, err := dependencies.Filter(evs[render.DependencyName], dep.Filters, dep.FiltersLogicalOperator); !ok || err != nil {
				continue
			}
			if prev := sensorOf[svc.Image]; prev != nil {
				t.Errorf("image %s is admitted by Sensors %s and %s", svc.Image, prev.Name, sensor.Name)
			}
			sensorOf[svc.Image] = sensor
			trig := sensor.Spec.Triggers[0]
			wf := &wfv1.Workflow{}
			applyTo(t, trig.Template.K8s, evs, wf)
			if err := check.Workflow(context.Background(), wf, templates); err != nil {
				t.Errorf("push of %s creates an invalid Workflow: %v", svc.Name, err)
			}
			if wf.Namespace != m.Spec.Namespace || wf.GenerateName != m.Metadata.Name+"-" {
				t.Errorf("push of %s creates Workflow %s/%s*", svc.Name, wf.Namespace, wf.GenerateName)
			}
			dead := &corev1.ConfigMap{}
			applyTo(t, trig.DlqTrigger.Template.K8s, evs, dead)
			digest, tag := svc.Image+"@sha256:"+strings.Repeat("5e", 32), svc.Image+":"+takenTag(t, svc)
			if want := map[string]string{"message": body, "messageBytes": strconv.Itoa(len(body)), "digest": digest, "tag": tag, "publishTime": published.String()}; !maps.Equal(dead.Data, want) {
				t.Errorf("dead letter of a push of %s records %v, want %v", svc.Name, dead.Data, want)
			}
		}
		if sensorOf[svc.Image] == nil {
			t.Errorf("no Sensor admits a push of %s (%s)", svc.Name, svc.Image)
		}
	}
}

// takenTag is a tag that a target of svc takes, among a few usual ones.
func takenTag(t *testing.T, svc mapping.Service) string {
	t.Helper()
	for _, tag := range []string{"1", "v1.2.3", "1.2.3", "staging-1", "release-1", "latest", "main"} {
		for _, target := range svc.Targets {
			if regexp.MustCompile(`^(?:` + target.TagPattern + `)$`).MatchString(tag) {
				return tag
			}
		}
	}
	t.Fatalf("no usual tag is taken by %s's targets", svc.Name)
	return ""
}

// applyTo resolves a k8s trigger's parameters against events and decodes
// the resulting resource into out, strictly.
func applyTo(t *testing.T, k8s *eventsv1.StandardK8STrigger, evs map[string]*eventsv1.Event, out any) {
	t.Helper()
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(k8s.Source.Resource.Value); err != nil {
		t.Fatal(err)
	}
	if err := triggers.ApplyResourceParameters(evs, k8s.Parameters, obj); err != nil {
		t.Fatal(err)
	}
	raw, err := obj.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		t.Fatalf("trigger resource does not decode into %T: %v", out, err)
	}
}

// registryEvent wraps a registry message exactly as the Pub/Sub
// EventSource does with jsonBody: true, published at published; the
// EventSource sends its data as application/json (eventing.go, SetData).
func registryEvent(t *testing.T, message string) *eventsv1.Event {
	t.Helper()
	body := json.RawMessage(message)
	data, err := json.Marshal(&events.PubSubEventData{ID: "1", Body: &body, Attributes: map[string]string{}, PublishTime: published.String()})
	if err != nil {
		t.Fatal(err)
	}
	return &eventsv1.Event{Context: &eventsv1.EventContext{ID: "1", Type: "pubsub", Subject: render.EventName, DataContentType: "application/json"}, Data: data}
}

// TestDeadLetterBounded runs the dead-letter trigger, with Argo Events' own
// parameter code, on registry messages a ConfigMap could not hold whole: a
// message of 3 MB (Pub/Sub takes up to 10 MB) is kept cut to
// MaxDeadLetterMessage bytes with its length before the cut, and the push's
// digest and tag are kept apart, so replay still has them; a message
// without them leaves them empty instead of failing the dead letter.
func TestDeadLetterBounded(t *testing.T) {
	m, err := mapping.Load(filepath.Join("..", "..", "examples", "single-service.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := render.Render(m, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var dlq *eventsv1.Trigger
	for _, o := range objs {
		if s, ok := o.(*eventsv1.Sensor); ok {
			dlq = s.Spec.Triggers[0].DlqTrigger
		}
	}
	image := m.Spec.Services[0].Image
	digest, tag := image+"@sha256:"+strings.Repeat("ab", 32), image+":v1"
	padding := strings.Repeat("x", 3<<20)
	for _, c := range []struct {
		name, message, digest, tag string
	}{
		{"3 MB", `{"action":"INSERT","digest":"` + digest + `","padding":"` + padding + `","tag":"` + tag + `"}`, digest, tag},
		{"no digest or tag", `{"action":"INSERT","padding":"` + padding + `"}`, "", ""},
		{"a tag of 3 MB", `{"action":"INSERT","digest":"` + digest + `","tag":"` + image + ":" + padding + `"}`, digest, (image + ":" + padding)[:1024]},
	} {
		t.Run(c.name, func(t *testing.T) {
			evs := map[string]*eventsv1.Event{render.DependencyName: registryEvent(t, c.message)}
			dead := &corev1.ConfigMap{}
			applyTo(t, dlq.Template.K8s, evs, dead)
			size := 0
			for k, v := range dead.Data {
				size += len(k) + len(v)
			}
			if size > 1<<20-64<<10 {
				t.Errorf("the dead letter holds %d bytes, more than a ConfigMap can", size)
			}
			if got := dead.Data["message"]; got != c.message[:render.MaxDeadLetterMessage] {
				t.Errorf("message: %d bytes starting %.40q, want the first %d bytes of the message", len(got), got, render.MaxDeadLetterMessage)
			}
			if got := dead.Data["messageBytes"]; got != strconv.Itoa(len(c.message)) {
				t.Errorf("messageBytes %s, want %d", got, len(c.message))
			}
			if dead.Data["digest"] != c.digest || dead.Data["tag"] != c.tag {
				t.Errorf("digest %.80q, tag %.80q; want %.80q, %.80q", dead.Data["digest"], dead.Data["tag"], c.digest, c.tag)
			}
		})
	}
}
