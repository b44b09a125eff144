package render_test

import (
	"path/filepath"
	"strings"
	"testing"

	eventsv1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/argodeploy/argodeploy/pkg/render"
)

// podOf is a pod spec the pipeline defines, as the controllers would build
// it from a generated object (only the parts we set).
type podOf struct {
	name string
	spec corev1.PodSpec
}

// definedPods lists the pod specs of the generated objects: the route and
// rollout steps, the reconcile step, each EventSource and Sensor, and the
// JetStream servers.
func definedPods(objs []render.Object) []podOf {
	var pods []podOf
	fromTemplate := func(kind, name string, t *eventsv1.Template) podOf {
		c := corev1.Container{Name: "main", Image: "argo-events", Resources: t.Container.Resources, SecurityContext: t.Container.SecurityContext}
		return podOf{kind + "/" + name, corev1.PodSpec{SecurityContext: t.SecurityContext, Containers: []corev1.Container{c}, Volumes: t.Volumes}}
	}
	for _, o := range objs {
		switch o := o.(type) {
		case *wfv1.WorkflowTemplate:
			pods = append(pods, workflowPod("WorkflowTemplate/"+o.Name, &o.Spec))
		case *wfv1.CronWorkflow:
			pods = append(pods, workflowPod("CronWorkflow/"+o.Name, &o.Spec.WorkflowSpec))
		case *eventsv1.EventSource:
			pods = append(pods, fromTemplate("EventSource", o.Name, o.Spec.Template))
		case *eventsv1.Sensor:
			pods = append(pods, fromTemplate("Sensor", o.Name, o.Spec.Template))
		case *eventsv1.EventBus:
			js := o.Spec.JetStream
			spec := corev1.PodSpec{SecurityContext: js.SecurityContext}
			for name, c := range map[string]*eventsv1.ContainerTemplate{"main": js.ContainerTemplate, "reloader": js.ReloaderContainerTemplate, "metrics": js.MetricsContainerTemplate} {
				spec.Containers = append(spec.Containers, corev1.Container{Name: name, Image: "nats", Resources: c.Resources, SecurityContext: c.SecurityContext})
			}
			pods = append(pods, podOf{"EventBus/" + o.Name, spec})
		}
	}
	return pods
}

// workflowPod is the pod of a workflow spec's container templates.
func workflowPod(name string, wf *wfv1.WorkflowSpec) podOf {
	spec := corev1.PodSpec{SecurityContext: wf.SecurityContext, Volumes: wf.Volumes}
	for _, t := range wf.Templates {
		if t.Container != nil {
			spec.Containers = append(spec.Containers, *t.Container)
		}
	}
	return podOf{name, spec}
}

// TestPodsMeetRestrictedStandard runs Kubernetes' own Pod Security
// Admission checks, level "restricted", on every pod spec the examples
// define, and asks of every container requests and limits for CPU and
// memory and an image pinned by tag or digest (never latest); and of the
// output that it holds no Secret (credentials are only referenced).
func TestPodsMeetRestrictedStandard(t *testing.T) {
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks())
	if err != nil {
		t.Fatal(err)
	}
	restricted := api.LevelVersion{Level: api.LevelRestricted, Version: api.LatestVersion()}
	examples, _ := filepath.Glob("../../examples/*.yaml")
	for _, example := range examples {
		_, objs := renderFile(t, example)
		for _, o := range objs {
			if kind := o.GetObjectKind().GroupVersionKind().Kind; kind == "Secret" {
				t.Errorf("%s: the output holds a Secret %s; credentials must only be referenced", filepath.Base(example), o.GetName())
			}
		}
		pods := definedPods(objs)
		if len(pods) < 5 {
			t.Fatalf("%s: only %d pod specs found", example, len(pods))
		}
		for _, pod := range pods {
			for _, r := range evaluator.EvaluatePod(restricted, &metav1.ObjectMeta{}, &pod.spec) {
				if !r.Allowed {
					t.Errorf("%s %s: restricted: %s: %s", filepath.Base(example), pod.name, r.ForbiddenReason, r.ForbiddenDetail)
				}
			}
			for _, c := range pod.spec.Containers {
				for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
					if c.Resources.Requests.Name(res, "").IsZero() || c.Resources.Limits.Name(res, "").IsZero() {
						t.Errorf("%s %s container %s: no %s request and limit", filepath.Base(example), pod.name, c.Name, res)
					}
				}
				if image := c.Image; strings.HasSuffix(image, ":latest") || !strings.ContainsAny(image[strings.LastIndex(image, "/")+1:], ":@") && strings.Contains(image, "/") {
					t.Errorf("%s %s container %s: image %q is not pinned", filepath.Base(example), pod.name, c.Name, image)
				}
			}
		}
	}
}

// TestPodSecurityCheckCanFail: the same check rejects a pod that drops the
// restricted settings, so a pass above means something.
func TestPodSecurityCheckCanFail(t *testing.T) {
	evaluator, _ := policy.NewEvaluator(policy.DefaultChecks())
	spec := corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "x:1"}}}
	allowed := true
	for _, r := range evaluator.EvaluatePod(api.LevelVersion{Level: api.LevelRestricted, Version: api.LatestVersion()}, &metav1.ObjectMeta{}, &spec) {
		allowed = allowed && r.Allowed
	}
	if allowed {
		t.Fatal("a pod without a security context passes the restricted checks")
	}
}
