package status

import (
	"context"
	"strconv"
	"strings"
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

// waitingWorkflow is a release Workflow whose approve step for target
// is suspended (phase Running), or already decided (phase given).
func waitingWorkflow(t *testing.T, name, pipeline, tag string, at int64, target string, phase wfv1.NodePhase) *unstructured.Unstructured {
	wf := &wfv1.Workflow{
		TypeMeta:   metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: "Workflow"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "argo-events", Labels: map[string]string{render.LabelPartOf: pipeline}},
	}
	wf.Spec.Arguments.Parameters = []wfv1.Parameter{
		{Name: render.ParamTag, Value: wfv1.AnyStringPtr("img:" + tag)},
		{Name: render.ParamDigest, Value: wfv1.AnyStringPtr("img@sha256:" + tag)},
		{Name: render.ParamPublishedAt, Value: wfv1.AnyStringPtr(strconv.FormatInt(at, 10))},
	}
	in := &wfv1.Inputs{Parameters: []wfv1.Parameter{{Name: render.InputService, Value: wfv1.AnyStringPtr("web")}, {Name: render.InputTarget, Value: wfv1.AnyStringPtr(target)}}}
	wf.Status.Nodes = wfv1.Nodes{
		name:              {ID: name, Type: wfv1.NodeTypeSteps, TemplateName: "release", Phase: wfv1.NodeRunning},
		name + "-approve": {ID: name + "-approve", Type: wfv1.NodeTypeSuspend, TemplateName: render.ApproveTemplate, Inputs: in, Phase: phase, StartedAt: metav1.NewTime(time.Unix(at, 0))},
	}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(wf)
	if err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: obj}
}

// TestApprovals: the pipeline's suspended approve steps are listed newest
// push first, per target; Decide marks one approved or rejected as Argo's
// resume and stop do, once.
func TestApprovals(t *testing.T) {
	scheme := runtime.NewScheme()
	client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(scheme,
		map[schema.GroupVersionResource]string{wfv1.SchemeGroupVersion.WithResource("workflows"): "WorkflowList"},
		waitingWorkflow(t, "web-a", "web", "v1", 100, "prod", wfv1.NodeRunning),
		waitingWorkflow(t, "web-b", "web", "v2", 200, "prod", wfv1.NodeRunning),
		waitingWorkflow(t, "web-c", "web", "v3", 300, "canary", wfv1.NodeRunning),
		waitingWorkflow(t, "web-d", "web", "v0", 50, "prod", wfv1.NodeSucceeded),
		waitingWorkflow(t, "shop-a", "shop", "v9", 900, "prod", wfv1.NodeRunning))
	ctx := context.Background()
	list, err := Approvals(ctx, client, "argo-events", "web", "prod")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range list {
		got = append(got, a.Workflow+":"+a.Tag)
	}
	if strings.Join(got, " ") != "web-b:img:v2 web-a:img:v1" {
		t.Fatalf("waiting for prod: %v, want web-b then web-a", got)
	}
	if all, _ := Approvals(ctx, client, "argo-events", "web", ""); len(all) != 3 {
		t.Errorf("waiting for any target of web: %d, want 3", len(all))
	}

	if err := Decide(ctx, client, "argo-events", list[0], true, "approved with argodeploy approve"); err != nil {
		t.Fatal(err)
	}
	if err := Decide(ctx, client, "argo-events", list[1], false, "rejected: superseded"); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]wfv1.NodePhase{"web-b": wfv1.NodeSucceeded, "web-a": wfv1.NodeFailed} {
		u, err := client.Resource(workflows).Namespace("argo-events").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		wf, _ := toWorkflow(u)
		n := wf.Status.Nodes[name+"-approve"]
		if n.Phase != want || n.FinishedAt.IsZero() || n.Message == "" {
			t.Errorf("%s: approve node %s at %v (%q), want %s, finished, with a message", name, n.Phase, n.FinishedAt, n.Message, want)
		}
	}
	if left, _ := Approvals(ctx, client, "argo-events", "web", "prod"); len(left) != 0 {
		t.Errorf("still waiting for prod after the decisions: %+v", left)
	}
	if err := Decide(ctx, client, "argo-events", list[0], true, "again"); err == nil || !strings.Contains(err.Error(), "no longer waits") {
		t.Errorf("deciding twice: %v, want an error", err)
	}
}
