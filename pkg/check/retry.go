package check

import (
	"errors"
	"fmt"
	"strings"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/util/expr/argoexpr"
	"github.com/argoproj/argo-workflows/v3/util/expr/env"
)

// retrySamples are the variables a retryStrategy.expression sees after a pod
// error and after a script failure, as the workflow controller sets them
// (buildRetryStrategyLocalScope): all strings.
var retrySamples = []map[string]any{
	{"retries": "0", "lastRetry.exitCode": "-1", "lastRetry.status": "Error", "lastRetry.duration": "12.5", "lastRetry.message": "pod deleted"},
	{"retries": "1", "lastRetry.exitCode": "1", "lastRetry.status": "Failed", "lastRetry.duration": "3", "lastRetry.message": "exit code 1"},
}

// RetryExpressions evaluates every retryStrategy.expression of spec with the
// workflow controller's evaluator on sample retries. ValidateWorkflow does
// not look at these expressions; the controller first evaluates one when a
// step fails, and errors the Workflow if it does not compile or yield a bool.
// Expressions with template tags ({{inputs.parameters.x}}) are skipped:
// their text is known only after substitution.
func RetryExpressions(spec *wfv1.WorkflowSpec) error {
	var errs []error
	check := func(path string, rs *wfv1.RetryStrategy) {
		if rs == nil || rs.Expression == "" || strings.Contains(rs.Expression, "{{") {
			return // template tags are substituted first, with values known only at run time
		}
		for _, sample := range retrySamples {
			if _, err := argoexpr.EvalBool(rs.Expression, env.GetFuncMap(sample)); err != nil {
				errs = append(errs, fieldErrorf(path+".retryStrategy.expression", "%w", err))
				return
			}
		}
	}
	check("spec", spec.RetryStrategy)
	for i, t := range spec.Templates {
		check(fmt.Sprintf("spec.templates[%d]", i), t.RetryStrategy)
	}
	return errors.Join(errs...)
}
