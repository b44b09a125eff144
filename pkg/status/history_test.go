package status

import (
	"context"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/argodeploy/argodeploy/pkg/render"
)

// workflow is a release Workflow as the controller leaves it: a retry node
// and its pod attempts per target the route step sent the push to.
func workflow(t *testing.T, name, pipeline string, created time.Time, tag string, labels map[string]string, steps map[string][]wfv1.NodePhase) *unstructured.Unstructured {
	wf := &wfv1.Workflow{
		TypeMeta:   metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: "Workflow"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "argo-events", CreationTimestamp: metav1.NewTime(created), Labels: map[string]string{render.LabelPartOf: pipeline}},
	}
	for k, v := range labels {
		wf.Labels[k] = v
	}
	wf.Spec.Arguments.Parameters = []wfv1.Parameter{{Name: render.ParamTag, Value: wfv1.AnyStringPtr(tag)}, {Name: render.ParamDigest, Value: wfv1.AnyStringPtr("img@sha256:1")}}
	wf.Status.Nodes = wfv1.Nodes{name: {ID: name, Type: wfv1.NodeTypeSteps, TemplateName: "main"}}
	for target, attempts := range steps {
		in := &wfv1.Inputs{Parameters: []wfv1.Parameter{{Name: render.InputTarget, Value: wfv1.AnyStringPtr(target)}}}
		start := metav1.NewTime(created.Add(time.Second))
		retry := wfv1.NodeStatus{ID: name + target, Type: wfv1.NodeTypeRetry, TemplateName: render.RolloutTemplate, Inputs: in, StartedAt: start, Phase: attempts[len(attempts)-1]}
		if retry.Phase.Fulfilled(nil) {
			retry.FinishedAt = metav1.NewTime(start.Add(42 * time.Second))
		}
		wf.Status.Nodes[retry.ID] = retry
		for i, phase := range attempts {
			id := retry.ID + string(rune('0'+i))
			wf.Status.Nodes[id] = wfv1.NodeStatus{ID: id, Type: wfv1.NodeTypePod, TemplateName: render.RolloutTemplate, Inputs: in, Phase: phase}
		}
	}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(wf)
	if err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: obj}
}

// TestHistory: the target's rollout steps of its pipeline's Workflows,
// newest first, with attempts, outcome and duration; Workflows that did not
// route the push to it, or of another pipeline, are left out; limit cuts.
func TestHistory(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	scheme := runtime.NewScheme()
	client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(scheme,
		map[schema.GroupVersionResource]string{wfv1.SchemeGroupVersion.WithResource("workflows"): "WorkflowList"},
		workflow(t, "shop-a", "shop", t0, "img:v1", nil, map[string][]wfv1.NodePhase{"web": {wfv1.NodeFailed, wfv1.NodeSucceeded}, "api": {wfv1.NodeSucceeded}}),
		workflow(t, "shop-b", "shop", t0.Add(time.Hour), "img:v2", nil, map[string][]wfv1.NodePhase{"api": {wfv1.NodeSucceeded}}),
		workflow(t, "shop-c", "shop", t0.Add(2*time.Hour), "img:v3", map[string]string{render.LabelOrigin: "reconcile"}, map[string][]wfv1.NodePhase{"web": {wfv1.NodeFailed}}),
		workflow(t, "shop-d", "shop", t0.Add(3*time.Hour), "img:v4", nil, map[string][]wfv1.NodePhase{"web": {wfv1.NodeRunning}}),
		workflow(t, "other-a", "other", t0.Add(4*time.Hour), "img:v9", nil, map[string][]wfv1.NodePhase{"web": {wfv1.NodeSucceeded}}),
	)
	got, err := History(context.Background(), client, "argo-events", "shop", "web", 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []Rollout{
		{Workflow: "shop-d", Origin: "event", Created: "2026-03-01T13:00:00Z", Tag: "img:v4", Digest: "img@sha256:1", Phase: "Running", Started: "2026-03-01T13:00:01Z", Attempts: 1},
		{Workflow: "shop-c", Origin: "reconcile", Created: "2026-03-01T12:00:00Z", Tag: "img:v3", Digest: "img@sha256:1", Phase: "Failed", Started: "2026-03-01T12:00:01Z", Finished: "2026-03-01T12:00:43Z", Duration: "42s", Attempts: 1},
		{Workflow: "shop-a", Origin: "event", Created: "2026-03-01T10:00:00Z", Tag: "img:v1", Digest: "img@sha256:1", Phase: "Succeeded", Started: "2026-03-01T10:00:01Z", Finished: "2026-03-01T10:00:43Z", Duration: "42s", Attempts: 2},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d rollouts, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("rollout %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	if got, _ := History(context.Background(), client, "argo-events", "shop", "web", 2); len(got) != 2 || got[1].Workflow != "shop-c" {
		t.Errorf("limit 2: %+v", got)
	}
}
