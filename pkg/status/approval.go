package status

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/retry"

	"github.com/argodeploy/argodeploy/pkg/render"
)

// Approval is a release waiting for the approval of one target: the
// suspended approve step of one of the pipeline's Workflows.
type Approval struct {
	Workflow string `json:"workflow"`
	// Node is the approve step's node in the Workflow's status.
	Node        string `json:"node"`
	Service     string `json:"service"`
	Target      string `json:"target"`
	Tag         string `json:"tag,omitempty"`
	Digest      string `json:"digest,omitempty"`
	PublishedAt int64  `json:"publishedAt,string,omitempty"`
	// Since is when the release began to wait (RFC 3339).
	Since string `json:"since,omitempty"`
}

var workflows = wfv1.SchemeGroupVersion.WithResource("workflows")

// Approvals lists the releases of the pipeline waiting for approval of
// target (every target when target is empty), newest push first.
func Approvals(ctx context.Context, client dynamic.Interface, namespace, pipeline, target string) ([]Approval, error) {
	list, err := client.Resource(workflows).Namespace(namespace).List(ctx, metav1.ListOptions{LabelSelector: render.LabelPartOf + "=" + pipeline})
	if err != nil {
		return nil, err
	}
	out := []Approval{}
	for _, u := range list.Items {
		wf, err := toWorkflow(&u)
		if err != nil {
			return nil, err
		}
		for _, a := range waiting(wf) {
			if target == "" || a.Target == target {
				out = append(out, a)
			}
		}
	}
	slices.SortFunc(out, func(a, b Approval) int {
		return cmp.Or(cmp.Compare(b.PublishedAt, a.PublishedAt), cmp.Compare(b.Workflow, a.Workflow))
	})
	return out, nil
}

// waiting are the approve steps of wf that wait: suspended nodes of the
// approve template, running.
func waiting(wf *wfv1.Workflow) []Approval {
	var out []Approval
	at, _ := strconv.ParseInt(argumentOf(wf, render.ParamPublishedAt), 10, 64)
	for id, n := range wf.Status.Nodes {
		if n.Type != wfv1.NodeTypeSuspend || n.Phase != wfv1.NodeRunning || n.TemplateName != render.ApproveTemplate {
			continue
		}
		a := Approval{
			Workflow: wf.Name, Node: id,
			Service: inputOf(n.Inputs, render.InputService), Target: inputOf(n.Inputs, render.InputTarget),
			Tag: argumentOf(wf, render.ParamTag), Digest: argumentOf(wf, render.ParamDigest), PublishedAt: at,
		}
		if !n.StartedAt.IsZero() {
			a.Since = n.StartedAt.UTC().Format(time.RFC3339)
		}
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b Approval) int { return cmp.Compare(a.Node, b.Node) })
	return out
}

// Decide ends the wait of a: approved, the controller runs the target's
// rollout step; rejected, the approve step fails and the target is not
// rolled (the Workflow ends Failed). It marks the suspended node as Argo
// Workflows' own resume and stop do, with message; a node that no longer
// waits is an error.
func Decide(ctx context.Context, client dynamic.Interface, namespace string, a Approval, approve bool, message string) error {
	res := client.Resource(workflows).Namespace(namespace)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		u, err := res.Get(ctx, a.Workflow, metav1.GetOptions{})
		if err != nil {
			return err
		}
		wf, err := toWorkflow(u)
		if err != nil {
			return err
		}
		if wf.Status.IsOffloadNodeStatus() || wf.Status.CompressedNodes != "" {
			return fmt.Errorf("workflow %s keeps its node status offloaded or compressed; use argo resume/stop --node-field-selector", wf.Name)
		}
		n, ok := wf.Status.Nodes[a.Node]
		if !ok || n.Type != wfv1.NodeTypeSuspend || n.Phase != wfv1.NodeRunning {
			return fmt.Errorf("workflow %s no longer waits for approval of %s", wf.Name, a.Target)
		}
		n.Phase, n.Message, n.FinishedAt = wfv1.NodeSucceeded, message, metav1.Time{Time: time.Now().UTC()}
		if !approve {
			n.Phase = wfv1.NodeFailed
		}
		wf.Status.Nodes.Set(a.Node, n)
		obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(wf)
		if err != nil {
			return err
		}
		_, err = res.Update(ctx, &unstructured.Unstructured{Object: obj}, metav1.UpdateOptions{})
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("workflow %s is gone", a.Workflow)
		}
		return err
	})
}

func toWorkflow(u *unstructured.Unstructured) (*wfv1.Workflow, error) {
	var wf wfv1.Workflow
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &wf); err != nil {
		return nil, fmt.Errorf("workflow %s: %v", u.GetName(), err)
	}
	return &wf, nil
}
