package check

import (
	"slices"
	"strings"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/render"
)

// pipelineObjects renders the single-service example, dropping the
// objects drop rejects.
func pipelineObjects(t *testing.T, drop func(runtime.Object) bool) []runtime.Object {
	t.Helper()
	return exampleObjects(t, "single-service", drop)
}

// exampleObjects renders an example, dropping the objects drop rejects.
func exampleObjects(t *testing.T, example string, drop func(runtime.Object) bool) []runtime.Object {
	t.Helper()
	m, err := mapping.Load("../../examples/" + example + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := render.Render(m, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var objs []runtime.Object
	for _, o := range rendered {
		if drop == nil || !drop(o) {
			objs = append(objs, o)
		}
	}
	return objs
}

// findings joins the errors (or, with notes, the notes) of results.
func findings(results []Result, notes bool) string {
	var lines []string
	for _, r := range results {
		errs := r.Notes
		if !notes {
			errs = []error{r.Err}
		}
		for _, err := range errs {
			if err == nil {
				continue
			}
			lines = append(lines, r.Kind+"/"+r.Name+": "+err.Error())
		}
	}
	return strings.Join(lines, "\n")
}

func TestAccessGeneratedPipelinePasses(t *testing.T) {
	results := Access(pipelineObjects(t, nil), Options{})
	if got := findings(results, false); got != "" {
		t.Fatalf("generated pipeline fails:\n%s", got)
	}
	kinds := map[string]bool{}
	for _, r := range results {
		kinds[r.Kind] = true
	}
	for _, kind := range []string{"Sensor", "EventSource", "WorkflowTemplate", "CronWorkflow", "Role", "RoleBinding"} {
		if !kinds[kind] {
			t.Errorf("no Access result for any %s", kind)
		}
	}
}

func TestAccessExternalAccounts(t *testing.T) {
	noAccounts := func(o runtime.Object) bool {
		kind := o.GetObjectKind().GroupVersionKind().Kind
		return kind == "ServiceAccount" || kind == "Role" || kind == "RoleBinding"
	}
	strict := findings(Access(pipelineObjects(t, noAccounts), Options{}), false)
	for _, want := range []string{`ServiceAccount "shop-sensor" not found`, `ServiceAccount "shop-rollout" not found`, `ServiceAccount "shop-eventsource" not found`, `ServiceAccount "shop-reconcile" not found`} {
		if !strings.Contains(strict, want) {
			t.Errorf("strict: want %q in\n%s", want, strict)
		}
	}
	results := Access(pipelineObjects(t, noAccounts), Options{External: true})
	if got := findings(results, false); got != "" {
		t.Errorf("external: want no problems, got\n%s", got)
	}
	if got := findings(results, true); !strings.Contains(got, `ServiceAccount "shop-sensor" is not among the inputs`) {
		t.Errorf("external: want a note on the Sensor's account, got\n%s", got)
	}
}

// TestAccessClusterRole: a RoleBinding may grant a ClusterRole's rules in
// its namespace; Access weighs them like a Role's.
func TestAccessClusterRole(t *testing.T) {
	sensorRole := func(o runtime.Object) bool {
		r, ok := o.(*rbacv1.Role)
		return ok && r.Name == "shop-sensor"
	}
	objs := pipelineObjects(t, sensorRole)
	var binding *rbacv1.RoleBinding
	for _, o := range objs {
		if b, ok := o.(*rbacv1.RoleBinding); ok && b.Name == "shop-sensor" {
			binding = b
		}
	}
	binding.RoleRef.Kind = "ClusterRole"
	clusterRole := &rbacv1.ClusterRole{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
		ObjectMeta: metav1.ObjectMeta{Name: "shop-sensor"},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"argoproj.io"}, Resources: []string{"workflows"}, Verbs: []string{"create"}},
			{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"create"}},
		},
	}
	if got := findings(Access(append(objs, clusterRole), Options{}), false); got != "" {
		t.Fatalf("exact ClusterRole: %s", got)
	}
	clusterRole.Rules[0].Verbs = []string{"*"}
	got := findings(Access(append(objs, clusterRole), Options{}), false)
	if want := `ClusterRole/shop-sensor: rules[0]: grants ServiceAccount argo-events/shop-sensor more than its objects need: * workflows.argoproj.io in namespace "argo-events"`; !strings.Contains(got, want) {
		t.Fatalf("wildcard verbs: want %q in\n%s", want, got)
	}
	got = findings(Access(objs, Options{}), true)
	if want := `ClusterRole "shop-sensor" must exist in the cluster (external)`; !strings.Contains(got, want) {
		t.Fatalf("ClusterRole not given: want note %q in\n%s", want, got)
	}
}

// TestAccessReconcile: the reconcile CronWorkflow's account needs to get
// the kubeconfig Secrets of the other clusters and the local Deployments of
// every cache entry, and nothing more; a CronWorkflow that runs something
// else has needs Access does not know, so its account's grants are not
// weighed.
func TestAccessReconcile(t *testing.T) {
	objs := exampleObjects(t, "multi-cluster", nil)
	var cron *wfv1.CronWorkflow
	for _, o := range objs {
		switch o := o.(type) {
		case *rbacv1.Role:
			if o.Name == "fleet-reconcile" && o.Namespace == "deploy-system" {
				o.Rules = slices.DeleteFunc(o.Rules, func(r rbacv1.PolicyRule) bool { return slices.Contains(r.Resources, "secrets") })
			}
			if o.Name == "fleet-reconcile" && o.Namespace == "payments" {
				o.Rules[0].Verbs = []string{"get", "list"}
			}
		case *wfv1.CronWorkflow:
			cron = o
		}
	}
	got := findings(Access(objs, Options{}), false)
	for _, want := range []string{
		`CronWorkflow/fleet-reconcile: spec.workflowSpec: ServiceAccount deploy-system/fleet-reconcile may not get secrets kubeconfig-eu-west in namespace "deploy-system" (needed by kubeconfig of cluster eu-west for target checkout-eu)`,
		`spec.workflowSpec: ServiceAccount deploy-system/fleet-reconcile may not get secrets kubeconfig-asia-east in namespace "deploy-system" (needed by kubeconfig of cluster asia-east for target checkout-asia)`,
		`Role/fleet-reconcile: rules[0]: grants ServiceAccount deploy-system/fleet-reconcile more than its objects need: list deployments.apps checkout in namespace "payments"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("want %q in\n%s", want, got)
		}
	}

	cron.Spec.WorkflowSpec.Templates[0].Container.Command = []string{"argodeploy", "version"}
	want := `CronWorkflow/fleet-reconcile: spec.workflowSpec.entrypoint: the entrypoint "reconcile" of argodeploy's CronWorkflow does not run a container whose command is argodeploy reconcile: no pass releases a missed push`
	if got := findings(Access(objs, Options{}), false); got != want {
		t.Errorf("argodeploy's CronWorkflow that does not reconcile: got\n%s\nwant\n%s", got, want)
	}
	delete(cron.Labels, render.LabelManagedBy) // a CronWorkflow of someone else's
	if got := findings(Access(objs, Options{}), false); got != "" {
		t.Errorf("a CronWorkflow that does not reconcile: want its account's grants not weighed, got\n%s", got)
	}
}
