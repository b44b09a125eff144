package check

import (
	"strings"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// TestFinalRetries: a route or rollout step is retried after a final
// exit as the workflow controller decides it, from the policy, the limit
// and the expression.
func TestFinalRetries(t *testing.T) {
	const generated = `lastRetry.status == "Error" or (lastRetry.status == "Failed" and asInt(lastRetry.exitCode) == 1)`
	for _, c := range []struct {
		rs   *wfv1.RetryStrategy
		want string // "" when it is not retried after a final exit
	}{
		{nil, ""},
		{&wfv1.RetryStrategy{Limit: ptr.To(intstr.FromInt32(3)), Expression: generated}, ""},
		{&wfv1.RetryStrategy{Limit: ptr.To(intstr.FromInt32(3)), RetryPolicy: wfv1.RetryPolicyAlways}, "after exit 2 (a permanent failure, such as a push the cache does not map: it fails again, for nothing) and after exit 3"},
		{&wfv1.RetryStrategy{Limit: ptr.To(intstr.FromInt32(3))}, "after exit 2"},                                    // OnFailure by default
		{&wfv1.RetryStrategy{}, "after exit 2"},                                                                      // no limit: for ever
		{&wfv1.RetryStrategy{Limit: ptr.To(intstr.FromInt32(0)), RetryPolicy: wfv1.RetryPolicyAlways}, ""},           // no retries
		{&wfv1.RetryStrategy{Limit: ptr.To(intstr.FromInt32(3)), RetryPolicy: wfv1.RetryPolicyOnError}, ""},          // an exit is Failed, not Error
		{&wfv1.RetryStrategy{Limit: ptr.To(intstr.FromInt32(3)), RetryPolicy: wfv1.RetryPolicyOnTransientError}, ""}, // an exit code is not transient
		{&wfv1.RetryStrategy{Limit: ptr.To(intstr.FromInt32(3)), Expression: `asInt(lastRetry.exitCode) != 2`}, "retryStrategy.expression: retries argodeploy rollout after exit 3 (not healthy"},
		{&wfv1.RetryStrategy{Limit: ptr.To(intstr.FromInt32(3)), Expression: `asInt(lastRetry.exitCode) < 2`}, ""},
	} {
		spec := &wfv1.WorkflowSpec{Templates: []wfv1.Template{{
			Name:            "rollout",
			Container:       &corev1.Container{Command: []string{"argodeploy", "rollout"}},
			RetryStrategy:   c.rs,
			Inputs:          wfv1.Inputs{Parameters: []wfv1.Parameter{{Name: "lock"}}},
			Synchronization: &wfv1.Synchronization{Mutexes: []*wfv1.Mutex{{Name: "{{inputs.parameters.lock}}"}}},
		}, {
			Name: "release",
			Steps: []wfv1.ParallelSteps{{Steps: []wfv1.WorkflowStep{{Name: "target", Template: "rollout", WithParam: "{{steps.route.outputs.result}}",
				Arguments: wfv1.Arguments{Parameters: []wfv1.Parameter{{Name: "lock", Value: wfv1.AnyStringPtr("{{item.lock}}")}}}}}}},
		}}}
		err := ReleaseSteps("spec", spec)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v: %v", c.rs, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%+v: got %v, want %q", c.rs, err, c.want)
		}
	}
}
