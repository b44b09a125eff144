// Package check runs the validators of Argo Events and Argo Workflows on
// objects offline, the way their controllers and servers run them on a
// cluster.
package check

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	eventsv1alpha1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	eventbusreconciler "github.com/argoproj/argo-events/pkg/reconciler/eventbus"
	sensorreconciler "github.com/argoproj/argo-events/pkg/reconciler/sensor"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/workflow/validate"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/argodeploy/argodeploy/pkg/pubsub"
)

// Result is the verdict of one validator on one object.
type Result struct {
	Kind, Namespace, Name string
	Validator             string  // e.g. "argo-events ValidateSensor"
	Err                   error   // nil when the object passed
	Notes                 []error // findings that leave the object valid, e.g. a Secret that must exist in the cluster
}

// FieldError is a problem at one field of an object; Path is written as
// "spec.triggers[0].template.name".
type FieldError struct {
	Path string
	Err  error
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Err.Error() }

func (e *FieldError) Unwrap() error { return e.Err }

// DecodeValidator names the strict decoding of an object into its Go type.
const DecodeValidator = "apimachinery FromUnstructuredWithValidation"

// Validator names.
const (
	eventSourceValidator     = "argo-events gcppubsub ValidateEventSource"
	eventBusValidator        = "argo-events ValidateEventBus"
	sensorValidator          = "argo-events ValidateSensor"
	templateValidator        = "argo-workflows ValidateWorkflowTemplate"
	cronWorkflowValidator    = "argo-workflows ValidateCronWorkflow"
	clusterTemplateValidator = "argo-workflows ValidateClusterWorkflowTemplate"
	workflowValidator        = "argo-workflows ValidateWorkflow"
	referencesValidator      = "argodeploy References"
	retryValidator           = "argodeploy RetryExpressions"
)

// The layers of a check, as the README names them.
const (
	LayerSchema   = "schema"
	LayerDecode   = "decode"
	LayerUpstream = "upstream"
	LayerLocal    = "local"
	LayerCross    = "cross"
	LayerAccess   = "access"
)

// Layer is the layer a validator belongs to: decode (strict decoding),
// upstream (the Argo projects' own validators), local (argodeploy's
// checks within one object), cross (across objects) or access (accounts,
// roles and what may come from events).
func Layer(validator string) string {
	switch validator {
	case DecodeValidator:
		return LayerDecode
	case referencesValidator, retryValidator, stepsValidator:
		return LayerLocal
	case crossValidator:
		return LayerCross
	case accessValidator:
		return LayerAccess
	}
	return LayerUpstream
}

// Upstream runs every upstream validator that applies to the objects and
// returns one Result per (object, validator), in input order.
//
// It validates EventSources, EventBuses, Sensors, WorkflowTemplates,
// Workflows and CronWorkflows, typed or unstructured; other kinds get no Result. An
// unstructured object is decoded strictly first: an unknown field fails the
// decode Result, noted as skipped by every later layer, and its validators
// are not run; the other objects still see it, as its controller reads it
// (standIn). A Sensor is validated with
// the EventBus it names among objs; a WorkflowTemplate or Workflow resolves
// templateRefs among the WorkflowTemplates and ClusterWorkflowTemplates in
// objs. An EventSource's sources of other types than Pub/Sub are noted as
// not checked.
func Upstream(ctx context.Context, objs []runtime.Object) []Result {
	return upstream(ctx, decodeInputs(objs, true))
}

func upstream(ctx context.Context, in *inputs) []Result {
	var buses []*eventsv1alpha1.EventBus
	var templates []*wfv1.WorkflowTemplate
	var clusterTemplates clusterTemplateGetter
	for _, obj := range in.objs {
		switch o := obj.(type) {
		case *eventsv1alpha1.EventBus:
			buses = append(buses, o)
		case *wfv1.WorkflowTemplate:
			templates = append(templates, o)
		case *wfv1.ClusterWorkflowTemplate:
			clusterTemplates = append(clusterTemplates, o)
		}
	}
	var results []Result
	for i, obj := range in.objs {
		if in.skipped(i) {
			results = append(results, undecodedResult(obj, in.errs[i]))
			continue
		}
		switch o := obj.(type) {
		case *eventsv1alpha1.EventSource:
			r := result("EventSource", o, eventSourceValidator, validateEventSource(o))
			r.Notes = uncheckedSources(o)
			results = append(results, r)
		case *eventsv1alpha1.EventBus:
			results = append(results, result("EventBus", o, eventBusValidator, eventbusreconciler.ValidateEventBus(o.DeepCopy())))
		case *eventsv1alpha1.Sensor:
			results = append(results, validateSensor(o, buses))
		case *wfv1.WorkflowTemplate:
			err := validate.ValidateWorkflowTemplate(templateGetter{o.Namespace, templates}, clusterTemplates,
				o.DeepCopy(), nil, validate.ValidateOpts{})
			results = append(results, result("WorkflowTemplate", o, templateValidator, err))
		case *wfv1.ClusterWorkflowTemplate:
			err := validate.ValidateClusterWorkflowTemplate(templateGetter{"", templates}, clusterTemplates,
				o.DeepCopy(), nil, validate.ValidateOpts{})
			results = append(results, result("ClusterWorkflowTemplate", o, clusterTemplateValidator, err))
		case *wfv1.Workflow:
			err := validate.ValidateWorkflow(templateGetter{o.Namespace, templates}, clusterTemplates,
				o.DeepCopy(), nil, validate.ValidateOpts{})
			results = append(results, result("Workflow", o, workflowValidator, err))
		case *wfv1.CronWorkflow:
			err := validate.ValidateCronWorkflow(ctx, templateGetter{o.Namespace, templates}, clusterTemplates, o.DeepCopy(), nil)
			results = append(results, result("CronWorkflow", o, cronWorkflowValidator, err))
		}
	}
	return results
}

// undecodedResult is the decode Result of an object that does not decode
// (obj is its stand-in, or the object itself), with a note that the later
// layers skip it.
func undecodedResult(obj runtime.Object, err error) Result {
	m := obj.(metav1.Object)
	r := result(obj.GetObjectKind().GroupVersionKind().Kind, m, DecodeValidator, err)
	if _, ok := obj.(*unstructured.Unstructured); ok {
		r.Notes = []error{errors.New("the upstream, local, cross and access layers skip this object, and what the other objects need of it, until it decodes")}
	} else {
		r.Notes = []error{errors.New("the upstream, local, cross and access layers skip this object until it decodes; the other objects are checked against it as its controller reads it (unknown fields ignored)")}
	}
	return r
}

// Local runs the checks upstream lacks, References on Sensors and
// RetryExpressions and ReleaseSteps on WorkflowTemplates, Workflows and
// CronWorkflows, and returns one
// Result per (object, check), in input order. Objects that Upstream reports
// as undecodable get no Result.
func Local(objs []runtime.Object) []Result {
	return local(decodeInputs(objs, true), Options{})
}

func local(in *inputs, opts Options) []Result {
	var results []Result
	for i, obj := range in.objs {
		if in.skipped(i) {
			continue
		}
		switch o := obj.(type) {
		case *eventsv1alpha1.Sensor:
			results = append(results, result("Sensor", o, referencesValidator, References(o)))
		case *wfv1.WorkflowTemplate:
			results = append(results, result("WorkflowTemplate", o, retryValidator, RetryExpressions(&o.Spec)),
				result("WorkflowTemplate", o, stepsValidator, errors.Join(ReleaseSteps("spec", &o.Spec), stepCommands("spec", &o.Spec, opts.ParseCommand))))
		case *wfv1.Workflow:
			results = append(results, result("Workflow", o, retryValidator, RetryExpressions(&o.Spec)),
				result("Workflow", o, stepsValidator, errors.Join(ReleaseSteps("spec", &o.Spec), stepCommands("spec", &o.Spec, opts.ParseCommand))))
		case *wfv1.CronWorkflow:
			results = append(results, result("CronWorkflow", o, retryValidator, RetryExpressions(&o.Spec.WorkflowSpec)),
				result("CronWorkflow", o, stepsValidator, errors.Join(ReleaseSteps("spec.workflowSpec", &o.Spec.WorkflowSpec), stepCommands("spec.workflowSpec", &o.Spec.WorkflowSpec, opts.ParseCommand))))
		}
	}
	return results
}

func result(kind string, obj metav1.Object, validator string, err error) Result {
	return Result{Kind: kind, Namespace: obj.GetNamespace(), Name: obj.GetName(), Validator: validator, Err: err}
}

// Typed converts the unstructured objects among objs of the kinds this
// package knows (Argo's, ServiceAccount, ConfigMap, Secret, RBAC) to their
// Go types, ignoring unknown fields; others stay as they are. An object
// of a known kind that does not convert is an error naming it.
func Typed(objs []runtime.Object) ([]runtime.Object, error) {
	typed, errs := decodeAllWith(objs, false)
	for i, err := range errs {
		if err != nil {
			u := objs[i].(*unstructured.Unstructured)
			return nil, fmt.Errorf("%s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
		}
	}
	return typed, nil
}

// TypedJSON is Typed for the one object u, whose JSON (as u.MarshalJSON
// writes it) is data: it decodes data rather than marshalling u again.
func TypedJSON(u *unstructured.Unstructured, data []byte) (runtime.Object, error) {
	typed, err := decodeData(u, data, false)
	if err != nil {
		return nil, fmt.Errorf("%s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
	return typed, nil
}

// validateEventSource runs the Pub/Sub source's own validation on each
// spec.pubSub entry, as eventsource.ValidateEventSource does.
//
// It does not call eventsource.ValidateEventSource: that dispatches through
// pkg/eventsources, which links every event source SDK (a binary grows from
// 80 MB to 147 MB) and needs modules that go.sum lacks. With Pub/Sub entries
// only, the checks it adds (an event name used by two source types, sources
// of rolling-update and recreate types mixed) cannot fail, so other source
// types are reported as unchecked instead.
func validateEventSource(es *eventsv1alpha1.EventSource) error {
	var errs []error
	names := make([]string, 0, len(es.Spec.PubSub))
	for name := range es.Spec.PubSub {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		src := es.Spec.PubSub[name]
		if err := pubsub.Validate(&src); err != nil {
			errs = append(errs, fmt.Errorf("spec.pubSub.%s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// uncheckedSources notes the event sources of other types than Pub/Sub,
// which validateEventSource does not check.
func uncheckedSources(es *eventsv1alpha1.EventSource) []error {
	var notes []error
	spec := reflect.ValueOf(es.Spec)
	for i := range spec.NumField() {
		field := spec.Type().Field(i)
		if field.Name != "PubSub" && field.Type.Kind() == reflect.Map && spec.Field(i).Len() > 0 {
			name, _, _ := strings.Cut(field.Tag.Get("json"), ",")
			notes = append(notes, fieldErrorf("spec."+name, "not checked: argodeploy runs the source validation of pubSub event sources only"))
		}
	}
	return notes
}

// validateSensor runs ValidateSensor with the EventBus the Sensor names, as
// the Sensor controller does. If that bus is not among the objects, a
// JetStream bus stands in: ValidateSensor only asks whether the bus is NATS
// (STAN), which forbids two dependencies on one event.
func validateSensor(s *eventsv1alpha1.Sensor, buses []*eventsv1alpha1.EventBus) Result {
	name := s.Spec.EventBusName
	if name == "" {
		name = eventsv1alpha1.DefaultEventBusName
	}
	validator := sensorValidator
	var bus *eventsv1alpha1.EventBus
	for _, b := range buses {
		if b.Name == name && sameNamespace(b.Namespace, s.Namespace) {
			bus = b.DeepCopy()
			break
		}
	}
	if bus == nil {
		validator += fmt.Sprintf(" (EventBus %q not given: assumed JetStream)", name)
		bus = &eventsv1alpha1.EventBus{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: s.Namespace},
			Spec:       eventsv1alpha1.EventBusSpec{JetStream: &eventsv1alpha1.JetStreamBus{}},
		}
	}
	return result("Sensor", s, validator, sensorreconciler.ValidateSensor(s.DeepCopy(), bus))
}

// Workflow runs ValidateWorkflow on wf as the workflow controller does when
// it first sees a Workflow (no workflow defaults, no lint or submit options).
// Like the controller, it validates wf itself, not wf joined with its
// template: ValidateWorkflow resolves spec.workflowTemplateRef among
// templates (same namespace) and merges the template's arguments under wf's.
func Workflow(ctx context.Context, wf *wfv1.Workflow, templates []*wfv1.WorkflowTemplate) error {
	return validate.ValidateWorkflow(templateGetter{wf.Namespace, templates}, clusterTemplateGetter(nil),
		wf.DeepCopy(), nil, validate.ValidateOpts{})
}

// templateGetter serves the WorkflowTemplates of one namespace; an empty
// namespace matches any.
type templateGetter struct {
	namespace string
	templates []*wfv1.WorkflowTemplate
}

func (g templateGetter) Get(name string) (*wfv1.WorkflowTemplate, error) {
	for _, t := range g.templates {
		if t.Name == name && sameNamespace(t.Namespace, g.namespace) {
			return t.DeepCopy(), nil
		}
	}
	return nil, apierrors.NewNotFound(wfv1.Resource("workflowtemplates"), name)
}

// clusterTemplateGetter serves ClusterWorkflowTemplates.
type clusterTemplateGetter []*wfv1.ClusterWorkflowTemplate

func (g clusterTemplateGetter) Get(name string) (*wfv1.ClusterWorkflowTemplate, error) {
	for _, t := range g {
		if t.Name == name {
			return t.DeepCopy(), nil
		}
	}
	return nil, apierrors.NewNotFound(wfv1.Resource("clusterworkflowtemplates"), name)
}

func sameNamespace(a, b string) bool { return a == "" || b == "" || a == b }
