package check

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
)

// workflowParameterUse finds "{{workflow.parameters.NAME}}" in a string.
var workflowParameterUse = regexp.MustCompile(`\{\{\s*workflow\.parameters\.([A-Za-z0-9_-]+)\s*\}\}`)

// WorkflowParameters reports each "{{workflow.parameters.NAME}}" in a
// WorkflowTemplate's spec whose NAME the spec does not declare under
// spec.arguments.parameters. ValidateWorkflowTemplate accepts them; the
// controller then fails every Workflow made from the template with
// "failed to resolve {{workflow.parameters.NAME}}".
func WorkflowParameters(spec *wfv1.WorkflowSpec) error {
	declared := map[string]bool{}
	for _, p := range spec.Arguments.Parameters {
		declared[p.Name] = true
	}
	raw, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	var tree any
	if err := json.Unmarshal(raw, &tree); err != nil {
		return err
	}
	var errs []error
	walkStrings(tree, "spec", func(path, s string) {
		for _, m := range workflowParameterUse.FindAllStringSubmatch(s, -1) {
			if !declared[m[1]] {
				errs = append(errs, fieldErrorf(path, "%s names a parameter that spec.arguments.parameters does not declare", m[0]))
			}
		}
	})
	return errors.Join(errs...)
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
