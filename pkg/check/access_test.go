package check

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	eventsv1alpha1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/component-helpers/auth/rbac/validation"

	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/render"
	"github.com/argodeploy/argodeploy/pkg/testcorpus/synthetic"
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

// shardedObjects renders n synthetic services with Sensors and caches of at
// most shardBytes, so that several Sensors' Workflows read the same caches.
func shardedObjects(t *testing.T, n, shardBytes int) []runtime.Object {
	t.Helper()
	m, err := synthetic.Mapping(n)
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := render.Render(m, render.Options{ShardBytes: shardBytes})
	if err != nil {
		t.Fatal(err)
	}
	return render.Convert[runtime.Object](rendered)
}

// Sharded Sensors' Workflows read the same caches: one pass over the
// entries stands for all, and what it finds wrong is still said of each.
func TestAccessShardedSensorsSharePass(t *testing.T) {
	objs := shardedObjects(t, 60, 8000)
	var sensors []string
	for _, o := range objs {
		if s, ok := o.(*eventsv1alpha1.Sensor); ok {
			sensors = append(sensors, s.Name)
		}
	}
	if len(sensors) < 3 {
		t.Fatalf("want several Sensors, got %v", sensors)
	}
	if got := findings(Access(objs, Options{}), false); got != "" {
		t.Fatalf("sharded pipeline fails:\n%s", got)
	}

	t.Run("an entry that does not decode is said of each reader", func(t *testing.T) {
		objs := shardedObjects(t, 60, 8000)
		for _, o := range objs {
			if cm, ok := o.(*corev1.ConfigMap); ok && cm.Data["svc-00007"] != "" {
				cm.Data["svc-00007"] = strings.Replace(cm.Data["svc-00007"], `"image"`, `"bogus": 1, "image"`, 1)
			}
		}
		got := findings(Access(objs, Options{}), false)
		for _, name := range append(slices.Clone(sensors), "fleet-reconcile") {
			if !strings.Contains(got, "/"+name+": ") || !strings.Contains(got, `service "svc-00007" in cache ConfigMap`) {
				t.Errorf("want the bad entry said of %s, got\n%s", name, got)
			}
		}
	})

	t.Run("a missing grant is said once, where first needed", func(t *testing.T) {
		objs := shardedObjects(t, 60, 8000)
		for _, o := range objs {
			if r, ok := o.(*rbacv1.Role); ok && r.Name == "fleet-rollout" {
				for j := range r.Rules {
					r.Rules[j].ResourceNames = slices.DeleteFunc(r.Rules[j].ResourceNames, func(n string) bool { return n == "svc-00007" })
				}
			}
		}
		got := findings(Access(objs, Options{}), false)
		if n := strings.Count(got, "may not get deployments.apps svc-00007"); n != 1 {
			t.Errorf("want the missing grant said once, said %d times:\n%s", n, got)
		}
		if !strings.HasPrefix(got, "Sensor/"+sensors[0]+": ") {
			t.Errorf("want it said of the first Sensor %s:\n%s", sensors[0], got)
		}
	})

	t.Run("each Sensor's images are its own", func(t *testing.T) {
		// Without a Sensor, the images only it admitted are admitted by none.
		objs := shardedObjects(t, 60, 8000)
		var dropped *eventsv1alpha1.Sensor
		objs = slices.DeleteFunc(objs, func(o runtime.Object) bool {
			if s, ok := o.(*eventsv1alpha1.Sensor); ok && dropped == nil && s.Name == sensors[1] {
				dropped = s
				return true
			}
			return false
		})
		got := findings(Access(objs, Options{}), false)
		images, ok := admittedImages(dropped.Spec.Dependencies[0].Filters.Data[1].Value[0])
		if !ok || len(images) == 0 {
			t.Fatalf("dropped Sensor's digest filter lists no images: %v", dropped.Spec.Dependencies[0].Filters.Data)
		}
		for _, image := range images {
			if !strings.Contains(got, "the cache maps image "+image+", but no Sensor admits its pushes") {
				t.Errorf("want image %s unadmitted, got\n%s", image, got)
			}
		}
		if n := strings.Count(got, "but no Sensor admits its pushes"); n != len(images) {
			t.Errorf("want %d images unadmitted, got %d:\n%s", len(images), n, got)
		}
	})
}

// Entries decoded ahead (Prepared) are the entries the layer would decode:
// the findings are the same, and only argodeploy's ConfigMaps are decoded.
func TestPreparedChangesNothing(t *testing.T) {
	for name, edit := range map[string]func(*corev1.ConfigMap){
		"generated": func(*corev1.ConfigMap) {},
		"unknown field": func(cm *corev1.ConfigMap) {
			cm.Data["svc-00007"] = strings.Replace(cm.Data["svc-00007"], `"image"`, `"bogus": 1, "image"`, 1)
		},
		"repeated field": func(cm *corev1.ConfigMap) { // the last would win: the route step would roll svc-00008
			cm.Data["svc-00007"] = strings.Replace(cm.Data["svc-00007"], `"deployment": "svc-00007",`, `"deployment": "svc-00007", "deployment": "svc-00008",`, 1)
		},
		"no deployment": func(cm *corev1.ConfigMap) {
			cm.Data["svc-00007"] = strings.Replace(cm.Data["svc-00007"], `"deployment": "svc-00007",`, ``, 1)
		},
		"not argodeploy's": func(cm *corev1.ConfigMap) { delete(cm.Labels, render.LabelManagedBy) },
	} {
		t.Run(name, func(t *testing.T) {
			objs := shardedObjects(t, 60, 8000)
			var edited *corev1.ConfigMap
			for _, o := range objs {
				if cm, ok := o.(*corev1.ConfigMap); ok && cm.Data["svc-00007"] != "" {
					edit(cm)
					edited = cm
				}
			}
			want := findings(Access(objs, Options{}), false) + findings(Access(objs, Options{}), true)
			if bad := name != "generated" && name != "not argodeploy's"; bad != strings.Contains(want, `service "svc-00007"`) {
				t.Fatalf("findings without entries decoded ahead:\n%s", want)
			}
			prepared := &Prepared{}
			for _, o := range objs {
				prepared.Prepare(o)
			}
			_, decoded := prepared.entriesOf(edited)
			if argodeploys := edited.Labels[render.LabelManagedBy] == render.ManagerName; decoded != argodeploys || decoded != (edited.Data == nil) {
				t.Errorf("ConfigMap labelled as argodeploy's: %v, decoded ahead: %v, its data taken: %v", argodeploys, decoded, edited.Data == nil)
			}
			got := findings(Access(objs, Options{Prepared: prepared}), false) + findings(Access(objs, Options{Prepared: prepared}), true)
			if got != want {
				t.Errorf("with entries decoded ahead:\n%s\nwithout:\n%s", got, want)
			}
		})
	}
}

// ruleSet.covers keeps Covers' yes answers by what the rules grant but
// their names: every answer, asked of random sets of rules many names
// at a time, must be Kubernetes' own (Covers over all the rules).
func TestCoversIsKubernetes(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 5))
	pick := func(from ...string) []string {
		var out []string
		for _, s := range from {
			if rng.IntN(3) == 0 {
				out = append(out, s)
			}
		}
		return out
	}
	names := []string{"a", "b", "c", "d", "*"}
	one := func(from ...[]string) []string { return from[rng.IntN(len(from))] }
	random := func() rbacv1.PolicyRule { // mostly alike but for verbs and names
		return rbacv1.PolicyRule{
			APIGroups: one([]string{"apps"}, []string{"apps"}, []string{"apps"}, []string{"*"}, []string{"", "apps"}, nil),
			Resources: one([]string{"deployments"}, []string{"deployments"}, []string{"deployments"}, []string{"*"}, []string{"deployments/scale"}),
			Verbs:     pick("get", "patch", "update", "*"), ResourceNames: pick(names...),
		}
	}
	yes, no := 0, 0
	for range 2000 {
		rules := make([]rbacv1.PolicyRule, rng.IntN(5))
		for i := range rules {
			rules[i] = random()
		}
		s := newRuleSet(rules)
		for range 20 {
			want := random()
			want.ResourceNames = []string{names[rng.IntN(len(names))]}
			ok, missing := s.covers(want)
			wantOK, wantMissing := validation.Covers(rules, []rbacv1.PolicyRule{want})
			if ok != wantOK || !ok && !reflect.DeepEqual(missing, wantMissing) {
				t.Fatalf("rules %v, need %v: covers says %v %v, Kubernetes %v %v", rules, want, ok, missing, wantOK, wantMissing)
			}
			if ok {
				yes++
			} else {
				no++
			}
		}
	}
	if yes < 1000 || no < 1000 {
		t.Errorf("%d covered and %d not: the cases do not ask both", yes, no)
	}
}
