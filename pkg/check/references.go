package check

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	eventsv1alpha1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
)

// References reports the trigger parameters and trigger conditions of a
// Sensor, dead-letter triggers included, that name a dependency the Sensor
// does not define. Upstream ValidateSensor does not check this, and at run
// time such a parameter is silently left unset and such a condition never
// holds.
func References(s *eventsv1alpha1.Sensor) error {
	deps := map[string]bool{}
	conditionDeps := map[string]bool{} // conditions spell "-" as "_"
	for _, d := range s.Spec.Dependencies {
		deps[d.Name] = true
		conditionDeps[strings.ReplaceAll(d.Name, "-", "_")] = true
	}
	var errs []error
	for _, t := range s.Spec.Triggers {
		raw, err := json.Marshal(t)
		if err != nil {
			return err
		}
		var tree any
		if err := json.Unmarshal(raw, &tree); err != nil {
			return err
		}
		var refs references
		refs.collect(tree)
		for _, name := range sorted(refs.params) {
			if !deps[name] {
				errs = append(errs, fmt.Errorf("trigger %q: parameter names unknown dependency %q", triggerName(t), name))
			}
		}
		for _, name := range sorted(refs.conditions) {
			if !conditionDeps[strings.ReplaceAll(name, "-", "_")] {
				errs = append(errs, fmt.Errorf("trigger %q: conditions name unknown dependency %q", triggerName(t), name))
			}
		}
	}
	return errors.Join(errs...)
}

// references are the dependency names a trigger uses.
type references struct{ params, conditions []string }

// collect gathers the dependency names in the JSON tree of a trigger:
// parameter sources and condition expressions. It skips the resources a
// trigger creates ("source"), which are not the Sensor's.
func (r *references) collect(tree any) {
	switch v := tree.(type) {
	case map[string]any:
		for key, x := range v {
			s, isString := x.(string)
			switch {
			case key == "source":
			case key == "dependencyName" && isString:
				r.params = append(r.params, s)
			case key == "conditions" && isString:
				r.conditions = append(r.conditions, strings.FieldsFunc(s, func(c rune) bool {
					return strings.ContainsRune("&|() \t\n", c)
				})...)
			default:
				r.collect(x)
			}
		}
	case []any:
		for _, x := range v {
			r.collect(x)
		}
	}
}

func sorted(names []string) []string {
	slices.Sort(names)
	return slices.Compact(names)
}

func triggerName(t eventsv1alpha1.Trigger) string {
	if t.Template == nil {
		return ""
	}
	return t.Template.Name
}
