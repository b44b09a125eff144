package render_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	eventsv1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	"github.com/argoproj/argo-events/pkg/eventsources/events"
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
			m, err := mapping.Load(example)
			if err != nil {
				t.Fatal(err)
			}
			objs, err := render.Render(m, render.Options{})
			if err != nil {
				t.Fatal(err)
			}
			runtimeObjs := render.Convert[runtime.Object](objs)
			validated := map[string]int{}
			for _, r := range check.All(context.Background(), runtimeObjs, check.Options{}) {
				if r.Err != nil {
					t.Errorf("%s %s/%s fails %s: %v", r.Kind, r.Namespace, r.Name, r.Validator, r.Err)
				}
				validated[r.Kind]++
			}
			for _, kind := range []string{"EventSource", "EventBus", "Sensor", "WorkflowTemplate"} {
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
	images := map[string]string{}
	for _, s := range m.Spec.Services {
		images[s.Name] = s.Image
	}
	fired := 0
	for _, sensor := range sensors {
		for _, trig := range sensor.Spec.Triggers {
			service := trig.Template.Name
			body := `{"action":"INSERT","digest":"` + images[service] + `@sha256:` + strings.Repeat("5e", 32) + `","tag":"` + images[service] + `:1"}`
			evs := map[string]*eventsv1.Event{service: registryEvent(t, body)}

			wf := &wfv1.Workflow{}
			applyTo(t, trig.Template.K8s, evs, wf)
			if err := check.Workflow(context.Background(), wf, templates); err != nil {
				t.Errorf("trigger %s creates an invalid Workflow: %v", service, err)
			}
			if wf.Namespace != m.Spec.Namespace || wf.GenerateName != service+"-" {
				t.Errorf("trigger %s creates Workflow %s/%s*", service, wf.Namespace, wf.GenerateName)
			}

			dead := &corev1.ConfigMap{}
			applyTo(t, trig.DlqTrigger.Template.K8s, evs, dead)
			if dead.Data["message"] != body || dead.Data["service"] != service {
				t.Errorf("dead letter of %s records %v", service, dead.Data)
			}
			fired++
		}
	}
	if fired != len(m.Spec.Services) {
		t.Errorf("%d triggers for %d services", fired, len(m.Spec.Services))
	}
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
