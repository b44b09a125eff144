package check

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	eventsv1alpha1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"k8s.io/apimachinery/pkg/runtime"
)

const crossValidator = "argodeploy cross-resource"

// All runs Upstream, Local and CrossResource over objs: every check this
// package has.
func All(ctx context.Context, objs []runtime.Object) []Result {
	results := Upstream(ctx, objs)
	results = append(results, Local(objs)...)
	return append(results, CrossResource(objs)...)
}

// CrossResource checks what no single object shows and a cluster accepts
// silently: each Sensor dependency names an EventSource and event among
// objs; each trigger's Workflow references a WorkflowTemplate among objs and
// passes only parameters it declares; each string data filter compiles and
// is anchored at both ends. It returns one Result per Sensor.
func CrossResource(objs []runtime.Object) []Result {
	decoded, _ := decodeAll(objs)
	events := map[string]map[string]bool{} // namespace/name → event names
	templates := map[string]*wfv1.WorkflowTemplate{}
	for _, obj := range decoded {
		switch o := obj.(type) {
		case *eventsv1alpha1.EventSource:
			events[o.Namespace+"/"+o.Name] = eventNames(o)
		case *wfv1.WorkflowTemplate:
			templates[o.Namespace+"/"+o.Name] = o
		}
	}
	var results []Result
	for _, obj := range decoded {
		s, ok := obj.(*eventsv1alpha1.Sensor)
		if !ok {
			continue
		}
		var errs []error
		for _, d := range s.Spec.Dependencies {
			names, ok := events[s.Namespace+"/"+d.EventSourceName]
			switch {
			case !ok:
				errs = append(errs, fmt.Errorf("dependency %s: EventSource %q not found", d.Name, d.EventSourceName))
			case !names[d.EventName]:
				errs = append(errs, fmt.Errorf("dependency %s: EventSource %q has no event %q", d.Name, d.EventSourceName, d.EventName))
			}
			if d.Filters != nil {
				for i, f := range d.Filters.Data {
					errs = append(errs, dataFilter(d.Name, i, f)...)
				}
			}
		}
		for _, t := range s.Spec.Triggers {
			errs = append(errs, triggerWorkflow(s.Namespace, t, templates)...)
		}
		results = append(results, result("Sensor", s, crossValidator, errors.Join(errs...)))
	}
	return results
}

// eventNames lists the event names an EventSource defines, across its
// source types (each a map from event name to source).
func eventNames(es *eventsv1alpha1.EventSource) map[string]bool {
	raw, _ := json.Marshal(es.Spec)
	var spec map[string]json.RawMessage
	_ = json.Unmarshal(raw, &spec)
	names := map[string]bool{}
	for field, value := range spec {
		if field == "template" || field == "service" {
			continue
		}
		var sources map[string]json.RawMessage
		if json.Unmarshal(value, &sources) == nil {
			for name := range sources {
				names[name] = true
			}
		}
	}
	return names
}

// dataFilter reports a string filter value that does not compile or that
// Argo Events would match anywhere in the value because it is unanchored.
func dataFilter(dep string, i int, f eventsv1alpha1.DataFilter) []error {
	if f.Type != eventsv1alpha1.JSONTypeString {
		return nil
	}
	var errs []error
	for _, v := range f.Value {
		if _, err := regexp.Compile(v); err != nil {
			errs = append(errs, fmt.Errorf("dependency %s: filters.data[%d] (%s): %w", dep, i, f.Path, err))
			continue
		}
		if !strings.HasPrefix(v, "^") || !strings.HasSuffix(v, "$") {
			errs = append(errs, fmt.Errorf("dependency %s: filters.data[%d] (%s): %q is not anchored with ^...$, so it also matches values that merely contain it", dep, i, f.Path, v))
		}
	}
	return errs
}

// triggerWorkflow checks the Workflow a k8s or argoWorkflow trigger creates.
func triggerWorkflow(namespace string, t eventsv1alpha1.Trigger, templates map[string]*wfv1.WorkflowTemplate) []error {
	if t.Template == nil {
		return nil
	}
	var source *eventsv1alpha1.ArtifactLocation
	switch {
	case t.Template.K8s != nil:
		source = t.Template.K8s.Source
	case t.Template.ArgoWorkflow != nil:
		source = t.Template.ArgoWorkflow.Source
	}
	if source == nil || source.Resource == nil {
		return nil
	}
	var wf wfv1.Workflow
	if err := json.Unmarshal(source.Resource.Value, &wf); err != nil || wf.Kind != "Workflow" {
		return nil
	}
	ref := wf.Spec.WorkflowTemplateRef
	if ref == nil || ref.ClusterScope {
		return nil
	}
	ns := wf.Namespace
	if ns == "" {
		ns = namespace
	}
	tmpl, ok := templates[ns+"/"+ref.Name]
	if !ok {
		return []error{fmt.Errorf("trigger %s: WorkflowTemplate %q not found in namespace %q", t.Template.Name, ref.Name, ns)}
	}
	declared := map[string]bool{}
	for _, p := range tmpl.Spec.Arguments.Parameters {
		declared[p.Name] = true
	}
	var errs []error
	for _, p := range wf.Spec.Arguments.Parameters {
		if !declared[p.Name] {
			errs = append(errs, fmt.Errorf("trigger %s: parameter %q is not declared by WorkflowTemplate %q", t.Template.Name, p.Name, ref.Name))
		}
	}
	return errs
}
