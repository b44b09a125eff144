package check

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	eventsv1alpha1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

const ns = "argodeploy"

var argoType = func(kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: kind}
}

func eventSource(src eventsv1alpha1.PubSubEventSource) *eventsv1alpha1.EventSource {
	return &eventsv1alpha1.EventSource{
		TypeMeta:   argoType("EventSource"),
		ObjectMeta: metav1.ObjectMeta{Name: "registry", Namespace: ns},
		Spec: eventsv1alpha1.EventSourceSpec{
			EventBusName: "bus",
			PubSub:       map[string]eventsv1alpha1.PubSubEventSource{"gcr": src},
		},
	}
}

func validPubSub() eventsv1alpha1.PubSubEventSource {
	return eventsv1alpha1.PubSubEventSource{ProjectID: "proj", Topic: "gcr", SubscriptionID: "argodeploy", JSONBody: true}
}

func eventBus(replicas int32) *eventsv1alpha1.EventBus {
	return &eventsv1alpha1.EventBus{
		TypeMeta:   argoType("EventBus"),
		ObjectMeta: metav1.ObjectMeta{Name: "bus", Namespace: ns},
		Spec: eventsv1alpha1.EventBusSpec{JetStream: &eventsv1alpha1.JetStreamBus{
			Version: "2.10.29", Replicas: ptr.To(replicas),
		}},
	}
}

func backoff() *eventsv1alpha1.Backoff {
	duration, factor := eventsv1alpha1.FromString("1s"), eventsv1alpha1.NewAmount("2")
	return &eventsv1alpha1.Backoff{Duration: &duration, Factor: &factor, Steps: 3}
}

func resource(obj any) *eventsv1alpha1.ArtifactLocation {
	r := eventsv1alpha1.NewK8SResource(obj)
	return &eventsv1alpha1.ArtifactLocation{Resource: &r}
}

// sensor has one dependency on the registry's event and one trigger that
// creates a Workflow from the template, with a dead-letter ConfigMap.
func sensor() *eventsv1alpha1.Sensor {
	filter := func(path, value string) eventsv1alpha1.DataFilter {
		return eventsv1alpha1.DataFilter{Path: path, Type: eventsv1alpha1.JSONTypeString, Value: []string{value}}
	}
	deadLetter := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{GenerateName: "dead-letter-", Namespace: ns},
	}
	return &eventsv1alpha1.Sensor{
		TypeMeta:   argoType("Sensor"),
		ObjectMeta: metav1.ObjectMeta{Name: "argodeploy", Namespace: ns},
		Spec: eventsv1alpha1.SensorSpec{
			EventBusName: "bus",
			Dependencies: []eventsv1alpha1.EventDependency{{
				Name: "web", EventSourceName: "registry", EventName: "gcr",
				Filters: &eventsv1alpha1.EventDependencyFilter{Data: []eventsv1alpha1.DataFilter{
					filter("body.action", "^INSERT$"),
					filter("body.tag", `^gcr\.io/proj/web:.+$`),
				}},
			}},
			Triggers: []eventsv1alpha1.Trigger{{
				Template: &eventsv1alpha1.TriggerTemplate{
					Name:       "web",
					Conditions: "web",
					K8s: &eventsv1alpha1.StandardK8STrigger{
						Source:    resource(workflow("rollout", nil)),
						Operation: eventsv1alpha1.Create,
						Parameters: []eventsv1alpha1.TriggerParameter{{
							Src:  &eventsv1alpha1.TriggerParameterSource{DependencyName: "web", DataKey: "body.tag"},
							Dest: "spec.arguments.parameters.0.value",
						}},
					},
				},
				RetryStrategy: backoff(),
				AtLeastOnce:   true,
				DlqTrigger: &eventsv1alpha1.Trigger{
					Template: &eventsv1alpha1.TriggerTemplate{
						Name: "web-dead-letter",
						K8s: &eventsv1alpha1.StandardK8STrigger{
							Source:    resource(deadLetter),
							Operation: eventsv1alpha1.Create,
							Parameters: []eventsv1alpha1.TriggerParameter{{
								Src:  &eventsv1alpha1.TriggerParameterSource{DependencyName: "web", DataKey: "body"},
								Dest: "data.message",
							}},
						},
					},
					RetryStrategy: backoff(),
					AtLeastOnce:   true,
				},
			}},
		},
	}
}

func withSensor(f func(*eventsv1alpha1.Sensor)) *eventsv1alpha1.Sensor {
	s := sensor()
	f(s)
	return s
}

var templateParams = []string{"tag", "lock", "cache"}

// workflowTemplate mirrors the rollout template: one container step, an
// expression retry, a mutex and volumes named by workflow parameters.
func workflowTemplate() *wfv1.WorkflowTemplate {
	var params []wfv1.Parameter
	for _, name := range templateParams {
		params = append(params, wfv1.Parameter{Name: name})
	}
	return &wfv1.WorkflowTemplate{
		TypeMeta:   argoType("WorkflowTemplate"),
		ObjectMeta: metav1.ObjectMeta{Name: "rollout", Namespace: ns},
		Spec: wfv1.WorkflowSpec{
			Entrypoint:      "rollout",
			Arguments:       wfv1.Arguments{Parameters: params},
			Synchronization: &wfv1.Synchronization{Mutexes: []*wfv1.Mutex{{Name: "{{workflow.parameters.lock}}"}}},
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](65534)},
			Volumes: []corev1.Volume{{Name: "cache", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "{{workflow.parameters.cache}}"},
			}}}},
			Templates: []wfv1.Template{{
				Name: "rollout",
				RetryStrategy: &wfv1.RetryStrategy{
					Limit:       ptr.To(intstr.FromInt32(3)),
					RetryPolicy: wfv1.RetryPolicyAlways,
					Expression:  `lastRetry.status == "Error" or (lastRetry.status == "Failed" and asInt(lastRetry.exitCode) == 1)`,
					Backoff:     &wfv1.Backoff{Duration: "10s", Factor: ptr.To(intstr.FromInt32(2)), MaxDuration: "5m"},
				},
				Container: &corev1.Container{
					Name:         "main",
					Image:        "bitnami/kubectl:1.33",
					Command:      []string{"argodeploy", "route"},
					Env:          []corev1.EnvVar{{Name: "TAG", Value: "{{workflow.parameters.tag}}"}},
					VolumeMounts: []corev1.VolumeMount{{Name: "cache", MountPath: "/etc/cache", ReadOnly: true}},
					SecurityContext: &corev1.SecurityContext{
						AllowPrivilegeEscalation: ptr.To(false),
						Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
					},
				},
			}},
		},
	}
}

func withTemplate(f func(*wfv1.WorkflowTemplate)) *wfv1.WorkflowTemplate {
	t := workflowTemplate()
	f(t)
	return t
}

// workflow is what the Sensor's trigger creates: a reference to the
// template, arguments, and optionally volumes overriding the template's.
func workflow(template string, values map[string]string) *wfv1.Workflow {
	wf := &wfv1.Workflow{
		TypeMeta:   argoType("Workflow"),
		ObjectMeta: metav1.ObjectMeta{GenerateName: "web-", Namespace: ns},
		Spec:       wfv1.WorkflowSpec{WorkflowTemplateRef: &wfv1.WorkflowTemplateRef{Name: template}},
	}
	for _, name := range templateParams {
		p := wfv1.Parameter{Name: name}
		if v, ok := values[name]; ok {
			p.Value = wfv1.AnyStringPtr(v)
		}
		wf.Spec.Arguments.Parameters = append(wf.Spec.Arguments.Parameters, p)
	}
	return wf
}

var allValues = map[string]string{"tag": "gcr.io/proj/web:v1", "lock": "local.web.web", "cache": "web-cache"}

func toUnstructured(t *testing.T, obj runtime.Object, edit func(map[string]any)) *unstructured.Unstructured {
	t.Helper()
	fields, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(fields)
	}
	return &unstructured.Unstructured{Object: fields}
}

func TestUpstream(t *testing.T) {
	tests := []struct {
		name      string
		objs      []runtime.Object
		kind      string // of the object whose Result is checked
		validator string // a substring of the Result's Validator
		wantErr   string // a substring of the error; "" if the object passes
	}{
		{name: "pubsub event source with topic and subscription passes",
			objs: []runtime.Object{eventSource(validPubSub())}, kind: "EventSource", validator: "ValidateEventSource"},
		{name: "pubsub event source without topic or subscription fails",
			objs: []runtime.Object{eventSource(eventsv1alpha1.PubSubEventSource{ProjectID: "proj", JSONBody: true})},
			kind: "EventSource", validator: "ValidateEventSource", wantErr: "must specify topic or subscriptionID"},
		{name: "pubsub topicProjectID without topic fails",
			objs: []runtime.Object{eventSource(eventsv1alpha1.PubSubEventSource{TopicProjectID: "other", SubscriptionID: "s"})},
			kind: "EventSource", validator: "ValidateEventSource", wantErr: "topicProjectID"},
		{name: "jetstream bus with 3 replicas passes",
			objs: []runtime.Object{eventBus(3)}, kind: "EventBus", validator: "ValidateEventBus"},
		{name: "jetstream bus with 2 replicas fails",
			objs: []runtime.Object{eventBus(2)}, kind: "EventBus", validator: "ValidateEventBus", wantErr: "1 replica or >= 3 replicas"},
		{name: "sensor with filters, k8s trigger and dead-letter trigger passes",
			objs: []runtime.Object{eventBus(3), sensor()}, kind: "Sensor", validator: "ValidateSensor"},
		{name: "sensor without its event bus is checked against an assumed jetstream bus",
			objs: []runtime.Object{sensor()}, kind: "Sensor", validator: `EventBus "bus" not given: assumed JetStream`},
		{name: "sensor trigger parameter naming an unknown dependency passes upstream",
			objs: []runtime.Object{withSensor(func(s *eventsv1alpha1.Sensor) {
				s.Spec.Triggers[0].Template.K8s.Parameters[0].Src.DependencyName = "nope"
			})},
			kind: "Sensor", validator: "ValidateSensor"},
		{name: "sensor dead-letter trigger without atLeastOnce fails",
			objs: []runtime.Object{withSensor(func(s *eventsv1alpha1.Sensor) {
				s.Spec.Triggers[0].DlqTrigger.AtLeastOnce = false
			})},
			kind: "Sensor", validator: "ValidateSensor", wantErr: "atLeastOnce must be set to true within the dlqTrigger"},
		{name: "sensor trigger with dead-letter trigger but without atLeastOnce fails",
			objs: []runtime.Object{withSensor(func(s *eventsv1alpha1.Sensor) {
				s.Spec.Triggers[0].AtLeastOnce = false
			})},
			kind: "Sensor", validator: "ValidateSensor", wantErr: "trigger.atLeastOnce must be set to true"},
		{name: "sensor data filter without value fails",
			objs: []runtime.Object{withSensor(func(s *eventsv1alpha1.Sensor) {
				s.Spec.Dependencies[0].Filters.Data[0].Value = nil
			})},
			kind: "Sensor", validator: "ValidateSensor", wantErr: "data filters is not valid"},
		{name: "workflow template with retry expression, mutex and volumes passes",
			objs: []runtime.Object{workflowTemplate()}, kind: "WorkflowTemplate", validator: "ValidateWorkflowTemplate"},
		{name: "workflow template whose entrypoint names no template fails",
			objs: []runtime.Object{withTemplate(func(t *wfv1.WorkflowTemplate) {
				t.Spec.Entrypoint = "main"
			})},
			kind: "WorkflowTemplate", validator: "ValidateWorkflowTemplate", wantErr: "template name 'main' undefined"},
		{name: "workflow template without entrypoint passes: it is optional for templates",
			objs: []runtime.Object{withTemplate(func(t *wfv1.WorkflowTemplate) {
				t.Spec.Entrypoint = ""
			})},
			kind: "WorkflowTemplate", validator: "ValidateWorkflowTemplate"},
		{name: "workflow template with undeclared parameters passes: a workflow may declare them",
			objs: []runtime.Object{withTemplate(func(t *wfv1.WorkflowTemplate) {
				t.Spec.Templates[0].Container.Env[0].Value = "{{workflow.parameters.nope}}"
				t.Spec.Synchronization.Mutexes[0].Name = "{{workflow.parameters.nope}}"
			})},
			kind: "WorkflowTemplate", validator: "ValidateWorkflowTemplate"},
		{name: "workflow template with unknown retry policy fails",
			objs: []runtime.Object{withTemplate(func(t *wfv1.WorkflowTemplate) {
				t.Spec.Templates[0].RetryStrategy.RetryPolicy = "Sometimes"
			})},
			kind: "WorkflowTemplate", validator: "ValidateWorkflowTemplate", wantErr: "Sometimes is not a valid RetryPolicy"},
		{name: "workflow among the objects is validated against the templates among them",
			objs: []runtime.Object{workflow("rollout", allValues), workflowTemplate()},
			kind: "Workflow", validator: "ValidateWorkflow"},
		{name: "unstructured sensor passes like the typed one",
			objs: []runtime.Object{toUnstructured(t, eventBus(3), nil), toUnstructured(t, sensor(), nil)},
			kind: "Sensor", validator: "ValidateSensor"},
		{name: "unstructured workflow template passes like the typed one",
			objs: []runtime.Object{toUnstructured(t, workflowTemplate(), nil)},
			kind: "WorkflowTemplate", validator: "ValidateWorkflowTemplate"},
		{name: "unstructured sensor with a misspelled field is reported by name",
			objs: []runtime.Object{toUnstructured(t, sensor(), func(u map[string]any) {
				spec := u["spec"].(map[string]any)
				spec["dependencys"] = spec["dependencies"]
				delete(spec, "dependencies")
			})},
			kind: "Sensor", validator: "FromUnstructuredWithValidation", wantErr: `unknown field "spec.dependencys"`},
		{name: "unstructured sensor of another apiVersion is reported",
			objs: []runtime.Object{toUnstructured(t, sensor(), func(u map[string]any) {
				u["apiVersion"] = "argoproj.io/v1beta1"
			})},
			kind: "Sensor", validator: "FromUnstructuredWithValidation", wantErr: "argoproj.io/v1beta1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var found []Result
			for _, r := range Upstream(context.Background(), tt.objs) {
				if r.Kind == tt.kind && strings.Contains(r.Validator, tt.validator) {
					found = append(found, r)
				}
			}
			if len(found) != 1 {
				t.Fatalf("want one %s result of %q, got %+v", tt.kind, tt.validator, found)
			}
			checkErr(t, found[0].Err, tt.wantErr)
		})
	}
}

// TestUpstreamNotesUncheckedSources: sources of other types than Pub/Sub
// leave the EventSource valid, with a note that they were not checked.
func TestUpstreamNotesUncheckedSources(t *testing.T) {
	es := eventSource(validPubSub())
	es.Spec.Webhook = map[string]eventsv1alpha1.WebhookEventSource{"hook": {}}
	results := Upstream(context.Background(), []runtime.Object{es})
	if len(results) != 1 || results[0].Err != nil || len(results[0].Notes) != 1 ||
		results[0].Notes[0].Error() != "spec.webhook: not checked: argodeploy runs the source validation of pubSub event sources only" {
		t.Fatalf("got %+v", results)
	}
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	if err != nil {
		t.Log(err)
	}
	switch {
	case want == "" && err != nil:
		t.Errorf("want pass, got %v", err)
	case want != "" && err == nil:
		t.Errorf("want error containing %q, got pass", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Errorf("want error containing %q, got %v", want, err)
	}
}

func TestUpstreamOrderAndKinds(t *testing.T) {
	objs := []runtime.Object{
		workflowTemplate(),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cache", Namespace: ns}},
		sensor(),
		toUnstructured(t, &corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}}, nil),
		eventBus(3),
		eventSource(validPubSub()),
	}
	var got []string
	for _, r := range Upstream(context.Background(), objs) {
		got = append(got, r.Kind+"/"+r.Name)
		if r.Err != nil || r.Namespace != ns {
			t.Errorf("%+v", r)
		}
	}
	want := "WorkflowTemplate/rollout Sensor/argodeploy EventBus/bus EventSource/registry"
	if strings.Join(got, " ") != want {
		t.Errorf("got %v, want %s", got, want)
	}
}

func TestWorkflow(t *testing.T) {
	templates := []*wfv1.WorkflowTemplate{workflowTemplate()}
	tests := []struct {
		name      string
		wf        *wfv1.Workflow
		templates []*wfv1.WorkflowTemplate
		wantErr   string
	}{
		{name: "workflow referencing the template with every argument passes",
			wf: workflow("rollout", allValues), templates: templates},
		{name: "workflow overriding the template's volumes passes",
			wf: func() *wfv1.Workflow {
				wf := workflow("rollout", allValues)
				wf.Spec.Volumes = []corev1.Volume{{Name: "cache", VolumeSource: corev1.VolumeSource{
					EmptyDir: &corev1.EmptyDirVolumeSource{},
				}}}
				return wf
			}(),
			templates: templates},
		{name: "workflow referencing a missing template fails",
			wf: workflow("nope", allValues), templates: templates, wantErr: `"nope" not found`},
		{name: "workflow referencing a template of another namespace fails",
			wf: workflow("rollout", allValues), wantErr: "not found",
			templates: []*wfv1.WorkflowTemplate{withTemplate(func(t *wfv1.WorkflowTemplate) { t.Namespace = "other" })}},
		{name: "workflow leaving a parameter without value fails",
			wf:        workflow("rollout", map[string]string{"tag": "v1", "lock": "l"}),
			templates: templates, wantErr: "cache.value or spec.arguments.cache.valueFrom is required"},
		{name: "workflow whose template uses an undeclared parameter fails",
			wf: workflow("rollout", allValues), wantErr: "failed to resolve {{workflow.parameters.nope}}",
			templates: []*wfv1.WorkflowTemplate{withTemplate(func(t *wfv1.WorkflowTemplate) {
				t.Spec.Templates[0].Container.Env[0].Value = "{{workflow.parameters.nope}}"
			})}},
		{name: "workflow whose template's mutex names an undeclared parameter passes: mutexes are not checked",
			wf: workflow("rollout", allValues),
			templates: []*wfv1.WorkflowTemplate{withTemplate(func(t *wfv1.WorkflowTemplate) {
				t.Spec.Synchronization.Mutexes[0].Name = "{{workflow.parameters.nope}}"
			})}},
		{name: "workflow with inline templates besides the reference fails",
			wf: func() *wfv1.Workflow {
				wf := workflow("rollout", allValues)
				wf.Spec.Templates = workflowTemplate().Spec.Templates
				return wf
			}(),
			templates: templates, wantErr: "Templates is invalid field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, Workflow(context.Background(), tt.wf, tt.templates), tt.wantErr)
		})
	}
}

func TestReferences(t *testing.T) {
	tests := []struct {
		name    string
		sensor  *eventsv1alpha1.Sensor
		wantErr string
	}{
		{name: "sensor whose triggers name its dependency passes", sensor: sensor()},
		{name: "trigger parameter naming an unknown dependency fails",
			sensor: withSensor(func(s *eventsv1alpha1.Sensor) {
				s.Spec.Triggers[0].Template.K8s.Parameters[0].Src.DependencyName = "nope"
			}),
			wantErr: `spec.triggers[0].template.k8s.parameters[0].src.dependencyName: parameter names unknown dependency "nope"`},
		{name: "dead-letter trigger parameter naming an unknown dependency fails",
			sensor: withSensor(func(s *eventsv1alpha1.Sensor) {
				s.Spec.Triggers[0].DlqTrigger.Template.K8s.Parameters[0].Src.DependencyName = "nope"
			}),
			wantErr: `unknown dependency "nope"`},
		{name: "trigger conditions naming an unknown dependency fail",
			sensor: withSensor(func(s *eventsv1alpha1.Sensor) {
				s.Spec.Triggers[0].Template.Conditions = "web && (nope || web)"
			}),
			wantErr: `conditions name unknown dependency "nope"`},
		{name: "trigger conditions may spell a dash as an underscore",
			sensor: withSensor(func(s *eventsv1alpha1.Sensor) {
				s.Spec.Dependencies[0].Name = "web-app"
				s.Spec.Triggers[0].Template.Conditions = "web_app"
				s.Spec.Triggers[0].Template.K8s.Parameters[0].Src.DependencyName = "web-app"
				s.Spec.Triggers[0].DlqTrigger.Template.K8s.Parameters[0].Src.DependencyName = "web-app"
			})},
		{name: "parameter reading a dependency the conditions do not require fails",
			sensor: withSensor(func(s *eventsv1alpha1.Sensor) {
				api := s.Spec.Dependencies[0]
				api.Name = "api"
				s.Spec.Dependencies = append(s.Spec.Dependencies, api)
				s.Spec.Triggers[0].Template.Conditions = "api"
				s.Spec.Triggers[0].DlqTrigger.Template.K8s.Parameters[0].Src.DependencyName = "api"
			}),
			wantErr: `spec.triggers[0].template.k8s.parameters[0].src.dependencyName: parameter reads dependency "web", which the trigger's conditions do not require`},
		{name: "names in the resources a trigger creates are not the Sensor's",
			sensor: withSensor(func(s *eventsv1alpha1.Sensor) {
				created := map[string]any{"kind": "Workflow", "spec": map[string]any{"dependencyName": "nope", "conditions": "nope"}}
				s.Spec.Triggers[0].Template.K8s.Source = resource(created)
				s.Spec.Triggers[0].DlqTrigger.Template.K8s.Source = resource(created)
				s.Spec.Triggers[0].DlqTrigger.Template.ArgoWorkflow = &eventsv1alpha1.ArgoWorkflowTrigger{Source: resource(created)}
			})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.sensor.DeepCopy()
			checkErr(t, References(tt.sensor), tt.wantErr)
			if !reflect.DeepEqual(tt.sensor, before) {
				t.Error("References changed the Sensor")
			}
		})
	}
}

func TestRetryExpressions(t *testing.T) {
	tests := []struct {
		name       string
		expression string
		wantErr    string
	}{
		{name: "status and exit code expression passes",
			expression: `lastRetry.status == "Error" or (lastRetry.status == "Failed" and asInt(lastRetry.exitCode) == 1)`},
		{name: "sprig and duration expression passes",
			expression: `asFloat(lastRetry.duration) < 60 && !sprig.contains("OOM", lastRetry.message) && asInt(retries) < 3`},
		{name: "syntax error fails", expression: `lastRetry.status ==`, wantErr: "unexpected token"},
		{name: "unknown function fails", expression: `toInt(lastRetry.exitCode) == 1`, wantErr: "toInt"},
		// The controller passes lastRetry.exitCode as a string: comparing it
		// to a number is no error, just never true.
		{name: "comparing the string exit code to a number passes unnoticed",
			expression: `lastRetry.exitCode == 1 or lastRetry.status == "Error"`},
		{name: "non-boolean expression fails", expression: `lastRetry.status`, wantErr: "to bool"},
		{name: "misspelled variable fails when converted", expression: `asInt(lastRetry.exitcode) == 1`, wantErr: "unable to evaluate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := workflowTemplate().Spec
			spec.Templates[0].RetryStrategy.Expression = tt.expression
			checkErr(t, RetryExpressions(&spec), tt.wantErr)
		})
	}
}

func TestUndeclaredParameters(t *testing.T) {
	spec := workflowTemplate().Spec
	spec.Arguments.Parameters = append(spec.Arguments.Parameters, wfv1.Parameter{Name: "digest"})
	spec.Templates[0].Container.Args = []string{"{{workflow.parameters.digest}}", "{{ workflow.parameters.image }}"}
	found, err := UndeclaredParameters(&spec, nil)
	if err != nil || len(found) != 1 || found[0].Error() != "spec.templates[0].container.args[1]: {{ workflow.parameters.image }} is neither declared nor passed" {
		t.Fatalf("got %v, %v", found, err)
	}
	if found, err := UndeclaredParameters(&spec, []wfv1.Parameter{{Name: "image"}}); err != nil || len(found) != 0 {
		t.Fatalf("passed by the Workflow: got %v, %v", found, err)
	}
}

func TestLocal(t *testing.T) {
	badSensor := withSensor(func(s *eventsv1alpha1.Sensor) {
		s.Spec.Triggers[0].Template.K8s.Parameters[0].Src.DependencyName = "nope"
	})
	badTemplate := withTemplate(func(t *wfv1.WorkflowTemplate) {
		t.Spec.RetryStrategy = &wfv1.RetryStrategy{Expression: "retries <"}
	})
	objs := []runtime.Object{
		toUnstructured(t, badTemplate, nil),
		&corev1.ConfigMap{},
		badSensor,
		sensor(),
		eventBus(3),
	}
	want := []struct{ kind, validator, err string }{
		{"WorkflowTemplate", "RetryExpressions", "spec.retryStrategy.expression"},
		{"WorkflowTemplate", "ReleaseSteps", ""},
		{"Sensor", "References", `unknown dependency "nope"`},
		{"Sensor", "References", ""},
	}
	got := Local(objs)
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i, w := range want {
		if got[i].Kind != w.kind || !strings.Contains(got[i].Validator, w.validator) {
			t.Errorf("result %d: got %+v, want %s %s", i, got[i], w.kind, w.validator)
		}
		checkErr(t, got[i].Err, w.err)
	}
}

// TestEventSourcesListsEverySourceType: eventSources finds the events of
// every source type, as the JSON of the spec lists them (the member of
// each source type is an object of events; the others are not).
func TestEventSourcesListsEverySourceType(t *testing.T) {
	es := &eventsv1alpha1.EventSource{Spec: eventsv1alpha1.EventSourceSpec{
		EventBusName: "default",
		Template:     &eventsv1alpha1.Template{ServiceAccountName: "sa"},
		Service:      &eventsv1alpha1.Service{ClusterIP: "None"},
		Replicas:     ptr.To[int32](2),
	}}
	spec := reflect.ValueOf(&es.Spec).Elem()
	for i := range spec.NumField() {
		if f := spec.Field(i); f.Kind() == reflect.Map {
			f.Set(reflect.MakeMap(f.Type()))
			f.SetMapIndex(reflect.ValueOf(spec.Type().Field(i).Name+"-event"), reflect.New(f.Type().Elem()).Elem())
		}
	}
	raw, err := json.Marshal(es.Spec)
	if err != nil {
		t.Fatal(err)
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for field, value := range members {
		var events map[string]json.RawMessage
		if field != "template" && field != "service" && json.Unmarshal(value, &events) == nil {
			for name := range events {
				want[name] = true
			}
		}
	}
	got := eventSources(es)
	if len(want) < 30 || len(got) != len(want) {
		t.Fatalf("eventSources found %d events, the JSON of the spec %d", len(got), len(want))
	}
	for name := range want {
		if _, ok := got[name]; !ok {
			t.Errorf("eventSources misses %s", name)
		}
	}
	if src, ok := got["PubSub-event"]; !ok || src == nil {
		t.Errorf("the Pub/Sub event has no source: %v", src)
	}
	for name, src := range got {
		if name != "PubSub-event" && src != nil {
			t.Errorf("%s: a source other than Pub/Sub is given: %v", name, src)
		}
	}
}
