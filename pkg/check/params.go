package check

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
)

// workflowParameterUse finds "{{workflow.parameters.NAME}}" in a string.
var workflowParameterUse = regexp.MustCompile(`\{\{\s*workflow\.parameters\.([A-Za-z0-9_-]+)\s*\}\}`)

// ResolveParameters substitutes each "{{workflow.parameters.NAME}}" in s
// for which value has a value, as the workflow controller does, and leaves
// the others.
func ResolveParameters(s string, value func(name string) (string, bool)) string {
	return workflowParameterUse.ReplaceAllStringFunc(s, func(m string) string {
		if v, ok := value(workflowParameterUse.FindStringSubmatch(m)[1]); ok {
			return v
		}
		return m
	})
}

// UndeclaredParameters lists each "{{workflow.parameters.NAME}}" in a
// workflow spec whose NAME is neither declared under spec.arguments.parameters
// nor in passed (the arguments a Workflow made from it passes), as a
// FieldError at the place of use. ValidateWorkflowTemplate accepts them,
// since a Workflow may pass any argument; the controller fails a Workflow
// that does not with "failed to resolve {{workflow.parameters.NAME}}".
func UndeclaredParameters(spec *wfv1.WorkflowSpec, passed []wfv1.Parameter) ([]*FieldError, error) {
	uses, err := parameterUses(spec)
	if err != nil {
		return nil, err
	}
	return undeclared(spec, uses, passed), nil
}

// parameterUse is one "{{workflow.parameters.NAME}}" in a workflow spec.
type parameterUse struct{ path, tag, name string }

// parameterUses lists the workflow parameters a spec uses, in path order.
func parameterUses(spec *wfv1.WorkflowSpec) ([]parameterUse, error) {
	raw, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	var tree any
	if err := json.Unmarshal(raw, &tree); err != nil {
		return nil, err
	}
	var uses []parameterUse
	walkStrings(tree, "spec", func(path, s string) {
		for _, m := range workflowParameterUse.FindAllStringSubmatch(s, -1) {
			uses = append(uses, parameterUse{path, m[0], m[1]})
		}
	})
	return uses, nil
}

// undeclared reports the uses whose parameter neither spec declares nor
// passed holds.
func undeclared(spec *wfv1.WorkflowSpec, uses []parameterUse, passed []wfv1.Parameter) []*FieldError {
	declared := map[string]bool{}
	for _, p := range append(append([]wfv1.Parameter(nil), spec.Arguments.Parameters...), passed...) {
		declared[p.Name] = true
	}
	var found []*FieldError
	for _, u := range uses {
		if !declared[u.name] {
			found = append(found, &FieldError{Path: u.path, Err: fmt.Errorf("%s is neither declared nor passed", u.tag)})
		}
	}
	return found
}

// walkStrings calls fn with every string in a JSON tree and its path, in
// key order.
func walkStrings(tree any, path string, fn func(path, s string)) {
	switch v := tree.(type) {
	case string:
		fn(path, v)
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			walkStrings(v[k], path+"."+k, fn)
		}
	case []any:
		for i, x := range v {
			walkStrings(x, fmt.Sprintf("%s[%d]", path, i), fn)
		}
	}
}
