package rollout

import (
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/kubectl/pkg/polymorphichelpers"
)

// TestDeploymentStatusIsKubectls holds DeploymentStatus to kubectl's own
// DeploymentStatusViewer.Status (kubectl rollout status) on every branch:
// same message (less kubectl's newline), same done, same error.
func TestDeploymentStatusIsKubectls(t *testing.T) {
	i32 := func(n int32) *int32 { return &n }
	progressing := func(reason string) appsv1.DeploymentCondition {
		return appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: reason}
	}
	available := appsv1.DeploymentCondition{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable"}
	for _, tc := range []struct {
		name       string
		generation int64
		replicas   *int32
		status     appsv1.DeploymentStatus
		done       bool
		err        bool
	}{
		{name: "spec not observed", generation: 3, replicas: i32(2), status: appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 2, AvailableReplicas: 2}},
		{name: "spec not observed, deadline exceeded", generation: 3, replicas: i32(2), status: appsv1.DeploymentStatus{ObservedGeneration: 2, Conditions: []appsv1.DeploymentCondition{progressing("ProgressDeadlineExceeded")}}},
		{name: "progress deadline exceeded", generation: 3, replicas: i32(2), status: appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 3, UpdatedReplicas: 1, Conditions: []appsv1.DeploymentCondition{progressing("ProgressDeadlineExceeded")}}, err: true},
		{name: "deadline exceeded after another condition", generation: 3, replicas: i32(2), status: appsv1.DeploymentStatus{ObservedGeneration: 3, Conditions: []appsv1.DeploymentCondition{available, progressing("ProgressDeadlineExceeded")}}, err: true},
		{name: "deadline exceeded though counts are done", generation: 3, replicas: i32(2), status: appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 2, UpdatedReplicas: 2, AvailableReplicas: 2, Conditions: []appsv1.DeploymentCondition{progressing("ProgressDeadlineExceeded")}}, err: true},
		{name: "new replicas being updated", generation: 3, replicas: i32(3), status: appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 4, UpdatedReplicas: 1, AvailableReplicas: 3, Conditions: []appsv1.DeploymentCondition{progressing("ReplicaSetUpdated")}}},
		{name: "old replicas pending termination", generation: 3, replicas: i32(3), status: appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 4, UpdatedReplicas: 3, AvailableReplicas: 3}},
		{name: "updated replicas not available", generation: 3, replicas: i32(3), status: appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 1}},
		{name: "rolled out", generation: 3, replicas: i32(3), status: appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 3, Conditions: []appsv1.DeploymentCondition{available, progressing("NewReplicaSetAvailable")}}, done: true},
		{name: "observed a later generation", generation: 3, replicas: i32(1), status: appsv1.DeploymentStatus{ObservedGeneration: 4, Replicas: 1, UpdatedReplicas: 1, AvailableReplicas: 1}, done: true},
		{name: "scaled to zero", generation: 2, replicas: i32(0), status: appsv1.DeploymentStatus{ObservedGeneration: 2}, done: true},
		{name: "scaling down to zero", generation: 2, replicas: i32(0), status: appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 0}},
		{name: "no replicas in the spec", generation: 2, status: appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 1, UpdatedReplicas: 1, AvailableReplicas: 1}, done: true},
		{name: "no replicas in the spec, unavailable", generation: 2, status: appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 1, UpdatedReplicas: 1}},
		{name: "more available than updated", generation: 2, replicas: i32(2), status: appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 2, AvailableReplicas: 3}, done: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &appsv1.Deployment{
				TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
				ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "prod", Generation: tc.generation},
				Spec:       appsv1.DeploymentSpec{Replicas: tc.replicas},
				Status:     tc.status,
			}
			msg, done, err := DeploymentStatus(d)
			if done != tc.done || (err != nil) != tc.err {
				t.Errorf("DeploymentStatus = %q, %v, %v; want done %v, error %v", msg, done, err, tc.done, tc.err)
			}
			obj, cerr := runtime.DefaultUnstructuredConverter.ToUnstructured(d)
			if cerr != nil {
				t.Fatal(cerr)
			}
			kmsg, kdone, kerr := (&polymorphichelpers.DeploymentStatusViewer{}).Status(&unstructured.Unstructured{Object: obj}, 0)
			if msg != strings.TrimSuffix(kmsg, "\n") || done != kdone || fmt.Sprint(err) != fmt.Sprint(kerr) {
				t.Errorf("DeploymentStatus = %q, %v, %v\n kubectl's Status = %q, %v, %v", msg, done, err, kmsg, kdone, kerr)
			}
		})
	}
}
