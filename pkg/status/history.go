package status

import (
	"cmp"
	"context"
	"slices"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"

	"github.com/argodeploy/argodeploy/pkg/render"
)

// Rollout is one release of a target: the rollout step of one Workflow.
type Rollout struct {
	Workflow string `json:"workflow"`
	// Origin is "event" (the Sensor) or what render.LabelOrigin says
	// (reconcile, replay).
	Origin   string `json:"origin"`
	Created  string `json:"created"`
	Tag      string `json:"tag,omitempty"`
	Digest   string `json:"digest,omitempty"`
	Phase    string `json:"phase"`
	Started  string `json:"started,omitempty"`
	Finished string `json:"finished,omitempty"`
	Duration string `json:"duration,omitempty"`
	Attempts int    `json:"attempts"`
	Message  string `json:"message,omitempty"`
}

// History lists the rollout steps of target in the pipeline's Workflows
// (label app.kubernetes.io/part-of=pipeline in namespace), newest first,
// at most limit (0: all). A Workflow whose route step did not send the
// push to target is not listed; one still routing is not either.
func History(ctx context.Context, client dynamic.Interface, namespace, pipeline, target string, limit int) ([]Rollout, error) {
	list, err := client.Resource(workflows).Namespace(namespace).
		List(ctx, metav1.ListOptions{LabelSelector: render.LabelPartOf + "=" + pipeline})
	if err != nil {
		return nil, err
	}
	var out []Rollout
	for _, u := range list.Items {
		wf, err := toWorkflow(&u)
		if err != nil {
			return nil, err
		}
		if r, ok := rolloutOf(wf, target); ok {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b Rollout) int {
		return cmp.Or(cmp.Compare(b.Created, a.Created), cmp.Compare(b.Workflow, a.Workflow))
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// rolloutOf is target's rollout step in wf: the step node of the rollout
// template whose target input is target (the retry node, when the step is
// retried, counting its attempts).
func rolloutOf(wf *wfv1.Workflow, target string) (Rollout, bool) {
	var step *wfv1.NodeStatus
	attempts := 0
	for id := range wf.Status.Nodes {
		n := wf.Status.Nodes[id]
		if n.TemplateName != render.RolloutTemplate || n.Inputs == nil || inputOf(n.Inputs, render.InputTarget) != target {
			continue
		}
		switch {
		case n.Type == wfv1.NodeTypeRetry:
			step = &n
		case n.Type == wfv1.NodeTypePod:
			attempts++
			if step == nil || step.Type != wfv1.NodeTypeRetry {
				step = &n
			}
		}
	}
	if step == nil {
		return Rollout{}, false
	}
	r := Rollout{
		Workflow: wf.Name,
		Origin:   cmp.Or(wf.Labels[render.LabelOrigin], "event"),
		Created:  wf.CreationTimestamp.UTC().Format(time.RFC3339),
		Tag:      argumentOf(wf, render.ParamTag),
		Digest:   argumentOf(wf, render.ParamDigest),
		Phase:    string(step.Phase),
		Attempts: attempts,
		Message:  step.Message,
	}
	if !step.StartedAt.IsZero() {
		r.Started = step.StartedAt.UTC().Format(time.RFC3339)
	}
	if !step.FinishedAt.IsZero() {
		r.Finished = step.FinishedAt.UTC().Format(time.RFC3339)
		r.Duration = step.FinishedAt.Sub(step.StartedAt.Time).Round(time.Second).String()
	}
	return r, true
}

func inputOf(in *wfv1.Inputs, name string) string {
	for _, p := range in.Parameters {
		if p.Name == name && p.Value != nil {
			return p.Value.String()
		}
	}
	return ""
}

func argumentOf(wf *wfv1.Workflow, name string) string {
	for _, p := range wf.Spec.Arguments.Parameters {
		if p.Name == name && p.Value != nil {
			return p.Value.String()
		}
	}
	return ""
}
