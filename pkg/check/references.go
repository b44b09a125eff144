package check

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	eventsv1alpha1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
)

// References reports the trigger parameters and trigger conditions of a
// Sensor, dead-letter triggers included, that name a dependency the Sensor
// does not define, and parameters of a trigger with conditions that read a
// dependency its conditions do not name. Upstream ValidateSensor checks
// none of this; at run time such a parameter is silently left unset (or
// set from an event that did not arrive) and such a condition never holds.
func References(s *eventsv1alpha1.Sensor) error {
	deps := map[string]bool{}
	for _, d := range s.Spec.Dependencies {
		deps[d.Name] = true
	}
	var errs []error
	for i, t := range s.Spec.Triggers {
		raw, err := json.Marshal(withoutSources(t))
		if err != nil {
			return err
		}
		var tree any
		if err := json.Unmarshal(raw, &tree); err != nil {
			return err
		}
		var refs references
		refs.collect(tree, fmt.Sprintf("spec.triggers[%d]", i))
		for _, r := range refs.params {
			if !deps[r.name] {
				errs = append(errs, fieldErrorf(r.path, "parameter names unknown dependency %q", r.name))
			}
		}
		inConditions := map[string]bool{}
		for _, r := range refs.conditions {
			found := false
			for d := range deps { // conditions spell "-" as "_"
				found = found || conditionName(d) == conditionName(r.name)
			}
			if !found {
				errs = append(errs, fieldErrorf(r.path, "conditions name unknown dependency %q", r.name))
			}
			inConditions[conditionName(r.name)] = true
		}
		if len(refs.conditions) == 0 {
			continue
		}
		for _, r := range refs.params {
			if deps[r.name] && !inConditions[conditionName(r.name)] {
				errs = append(errs, fieldErrorf(r.path, "parameter reads dependency %q, which the trigger's conditions do not require: the trigger can fire without it", r.name))
			}
		}
	}
	return errors.Join(errs...)
}

// withoutSources is t without the resources it and its dead-letter
// trigger create, which collect skips: they are most of a trigger's JSON.
// t itself is not changed.
func withoutSources(t eventsv1alpha1.Trigger) eventsv1alpha1.Trigger {
	if t.DlqTrigger != nil {
		dlq := withoutSources(*t.DlqTrigger)
		t.DlqTrigger = &dlq
	}
	if t.Template == nil {
		return t
	}
	template := *t.Template
	if template.ArgoWorkflow != nil {
		argo := *template.ArgoWorkflow
		argo.Source = nil
		template.ArgoWorkflow = &argo
	}
	if template.K8s != nil {
		k8s := *template.K8s
		k8s.Source = nil
		template.K8s = &k8s
	}
	t.Template = &template
	return t
}

func conditionName(dep string) string { return strings.ReplaceAll(dep, "-", "_") }

// references are the dependency names a trigger uses, where it uses them.
type references struct{ params, conditions []reference }

type reference struct{ name, path string }

// collect gathers the dependency names in the JSON tree of a trigger at
// path: parameter sources and condition expressions. It skips the
// resources a trigger creates ("source"), which are not the Sensor's.
func (r *references) collect(tree any, path string) {
	switch v := tree.(type) {
	case map[string]any:
		for _, key := range slices.Sorted(maps.Keys(v)) {
			x := v[key]
			s, isString := x.(string)
			at := path + "." + key
			switch {
			case key == "source":
			case key == "dependencyName" && isString:
				r.params = append(r.params, reference{s, at})
			case key == "conditions" && isString:
				for _, name := range strings.FieldsFunc(s, func(c rune) bool {
					return strings.ContainsRune("&|() \t\n", c)
				}) {
					r.conditions = append(r.conditions, reference{name, at})
				}
			default:
				r.collect(x, at)
			}
		}
	case []any:
		for i, x := range v {
			r.collect(x, fmt.Sprintf("%s[%d]", path, i))
		}
	}
}

func triggerName(t eventsv1alpha1.Trigger) string {
	if t.Template == nil {
		return ""
	}
	return t.Template.Name
}
