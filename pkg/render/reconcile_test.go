package render_test

import (
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	eventsv1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/robfig/cron/v3"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/render"
)

// reconcileMappings are the examples and a mapping that sets
// spec.reconcile (a schedule every ten minutes, suspended).
func reconcileMappings(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	return append(files, "../../testdata/mappings/good/full.yaml")
}

// TestReconcileRBAC: the reconcile account may, in the pipeline namespace,
// create Workflows, report task results and get the kubeconfig Secrets of
// the other clusters by name, and in each namespace of a local target get
// the mapped Deployments by name: nothing else, and never update them.
func TestReconcileRBAC(t *testing.T) {
	for _, file := range reconcileMappings(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			m, objs := renderFile(t, file)
			name := m.Metadata.Name + "-reconcile"
			ns := m.Spec.Namespace

			// What the mapping says, worked out here independently.
			secrets := map[string]bool{}
			deployments := map[string]map[string]bool{}
			for _, svc := range m.Spec.Services {
				for _, tg := range svc.Targets {
					if tg.Cluster != nil {
						secrets[tg.Cluster.KubeconfigSecret.Name] = true
						continue
					}
					if deployments[tg.Namespace] == nil {
						deployments[tg.Namespace] = map[string]bool{}
					}
					deployments[tg.Namespace][tg.Deployment] = true
				}
			}
			var sensors []string
			for _, s := range sensorsOf(objs) {
				sensors = append(sensors, s.Name)
			}
			want := map[string][]rbacv1.PolicyRule{ns: {
				{APIGroups: []string{"argoproj.io"}, Resources: []string{"workflows"}, Verbs: []string{"create"}},
				{APIGroups: []string{"argoproj.io"}, Resources: []string{"eventbus"}, ResourceNames: []string{m.Spec.EventBus.Name}, Verbs: []string{"get"}},
				{APIGroups: []string{"argoproj.io"}, Resources: []string{"sensors"}, ResourceNames: sensors, Verbs: []string{"get"}},
				{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"list", "delete"}}, // the dead letters
				{APIGroups: []string{"argoproj.io"}, Resources: []string{"workflowtaskresults"}, Verbs: []string{"create", "patch"}},
			}}
			if len(secrets) > 0 {
				want[ns] = append(want[ns], rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: slices.Sorted(maps.Keys(secrets)), Verbs: []string{"get"}})
			}
			for dns, names := range deployments {
				want[dns] = append(want[dns], rbacv1.PolicyRule{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, ResourceNames: slices.Sorted(maps.Keys(names)), Verbs: []string{"get"}})
			}

			got := map[string][]rbacv1.PolicyRule{}
			bound := map[string]bool{}
			var accounts []*corev1.ServiceAccount
			for _, o := range objs {
				switch o := o.(type) {
				case *corev1.ServiceAccount:
					accounts = append(accounts, o)
				case *rbacv1.Role:
					if o.Name == name {
						got[o.Namespace] = o.Rules
					}
				case *rbacv1.RoleBinding:
					if o.Name != name {
						continue
					}
					wantRef := rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name}
					wantSubjects := []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: ns}}
					if o.RoleRef != wantRef || !reflect.DeepEqual(o.Subjects, wantSubjects) {
						t.Errorf("RoleBinding %s/%s: roleRef %+v, subjects %+v", o.Namespace, o.Name, o.RoleRef, o.Subjects)
					}
					bound[o.Namespace] = true
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Roles %s:\n got %+v\nwant %+v", name, got, want)
			}
			for dns := range want {
				if !bound[dns] {
					t.Errorf("no RoleBinding %s in namespace %s", name, dns)
				}
			}
			if len(bound) != len(want) {
				t.Errorf("RoleBindings %s in %v, Roles in %v", name, slices.Sorted(maps.Keys(bound)), slices.Sorted(maps.Keys(want)))
			}

			byName := map[string]*corev1.ServiceAccount{}
			for _, sa := range accounts {
				byName[sa.Name] = sa
			}
			reconcile, rollout := byName[name], byName[m.Metadata.Name+"-rollout"]
			if reconcile == nil || rollout == nil {
				t.Fatalf("ServiceAccounts %v", slices.Sorted(maps.Keys(byName)))
			}
			if !reflect.DeepEqual(reconcile.AutomountServiceAccountToken, rollout.AutomountServiceAccountToken) {
				t.Errorf("ServiceAccount %s automounts %v, the rollout one %v", name, reconcile.AutomountServiceAccountToken, rollout.AutomountServiceAccountToken)
			}
			if got, want := reconcile.Annotations["iam.gke.io/gcp-service-account"], m.Spec.GCP.ServiceAccount; got != want {
				t.Errorf("ServiceAccount %s is bound to Google service account %q, want %q", name, got, want)
			}
		})
	}
}

// TestReconcileCronWorkflow: the CronWorkflow runs argodeploy reconcile
// on the mapping's schedule, suspended when the mapping says so, as the
// reconcile account, in the pod of the rollout step (security, volumes,
// resources, image), without the push in its environment, and ends a pass
// before the next one is due.
func TestReconcileCronWorkflow(t *testing.T) {
	for _, file := range reconcileMappings(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			m, objs := renderFile(t, file)
			var tmpl *wfv1.WorkflowTemplate
			var cwf *wfv1.CronWorkflow
			order := map[string]int{}
			for i, o := range objs {
				kind := o.GetObjectKind().GroupVersionKind().Kind
				if _, seen := order[kind]; !seen {
					order[kind] = i
				}
				switch o := o.(type) {
				case *wfv1.WorkflowTemplate:
					tmpl = o
				case *wfv1.CronWorkflow:
					if cwf != nil {
						t.Fatal("two CronWorkflows")
					}
					cwf = o
				}
			}
			if tmpl == nil || cwf == nil {
				t.Fatal("no WorkflowTemplate or CronWorkflow")
			}
			for _, kind := range []string{"ServiceAccount", "Role", "RoleBinding", "ConfigMap", "WorkflowTemplate"} {
				if order[kind] > order["CronWorkflow"] {
					t.Errorf("the CronWorkflow comes before the first %s", kind)
				}
			}

			name := m.Metadata.Name + "-reconcile"
			r := m.Spec.Reconcile
			spec := cwf.Spec
			if cwf.Name != name || cwf.Namespace != m.Spec.Namespace {
				t.Errorf("CronWorkflow %s/%s, want %s/%s", cwf.Namespace, cwf.Name, m.Spec.Namespace, name)
			}
			if spec.Schedule != "" || !slices.Equal(spec.Schedules, []string{r.Schedule}) {
				t.Errorf("schedule %q, schedules %q, want schedules [%q]", spec.Schedule, spec.Schedules, r.Schedule)
			}
			if spec.Suspend != r.Suspend {
				t.Errorf("suspend %v, the mapping says %v", spec.Suspend, r.Suspend)
			}
			if spec.ConcurrencyPolicy != wfv1.ForbidConcurrent || deref(spec.StartingDeadlineSeconds) != 60 ||
				deref(spec.SuccessfulJobsHistoryLimit) != 1 || deref(spec.FailedJobsHistoryLimit) != 3 {
				t.Errorf("concurrencyPolicy %q, startingDeadlineSeconds %v, history %v/%v", spec.ConcurrencyPolicy,
					deref(spec.StartingDeadlineSeconds), deref(spec.SuccessfulJobsHistoryLimit), deref(spec.FailedJobsHistoryLimit))
			}

			wf := spec.WorkflowSpec
			if wf.ServiceAccountName != name {
				t.Errorf("runs as %q, want %q", wf.ServiceAccountName, name)
			}
			for field, pair := range map[string][2]any{
				"securityContext": {wf.SecurityContext, tmpl.Spec.SecurityContext},
				"volumes":         {wf.Volumes[:len(wf.Volumes)-1], tmpl.Spec.Volumes},
				"podGC":           {wf.PodGC, tmpl.Spec.PodGC},
				"ttlStrategy":     {wf.TTLStrategy, tmpl.Spec.TTLStrategy},
			} {
				if !reflect.DeepEqual(pair[0], pair[1]) {
					t.Errorf("%s %+v differs from the WorkflowTemplate's %+v", field, pair[0], pair[1])
				}
			}
			if wf.PodGC == nil || wf.PodGC.Strategy != wfv1.PodGCOnPodSuccess {
				t.Errorf("podGC %+v", wf.PodGC)
			}
			deadline := time.Duration(deref(wf.ActiveDeadlineSeconds)) * time.Second
			if deadline <= 0 || deadline > mapping.MaxReconcileDeadline || deadline >= shortestGap(t, r.Schedule) {
				t.Errorf("activeDeadlineSeconds %v: not under %v and the schedule's interval %v", deadline, mapping.MaxReconcileDeadline, shortestGap(t, r.Schedule))
			}

			if len(wf.Templates) != 1 || wf.Entrypoint != wf.Templates[0].Name || wf.Templates[0].Container == nil {
				t.Fatalf("entrypoint %q, templates %+v", wf.Entrypoint, wf.Templates)
			}
			c := wf.Templates[0].Container
			var rolloutC *corev1.Container
			for _, tt := range tmpl.Spec.Templates {
				if tt.Name == render.RolloutTemplate {
					rolloutC = tt.Container
				}
			}
			if !slices.Equal(c.Command, []string{"argodeploy", "reconcile"}) {
				t.Errorf("command %q", c.Command)
			}
			bus := m.Spec.EventBus.Name
			wantArgs := []string{"--cache-dir", "/etc/argodeploy/cache", "--workflow-template", m.Metadata.Name + "-rollout", "--pipeline", m.Metadata.Name,
				"--event-bus", bus, "--bus-auth", "/etc/argodeploy/bus/auth.yaml",
				"--keep-dead-letters", strconv.Itoa(int(m.Spec.Reconcile.DeadLetters.Keep)), "--dead-letter-max-age", m.Spec.Reconcile.DeadLetters.MaxAge}
			for _, s := range sensorsOf(objs) {
				wantArgs = append(wantArgs, "--sensor", s.Name)
			}
			if !slices.Equal(c.Args, wantArgs) {
				t.Errorf("args %q, want %q", c.Args, wantArgs)
			}
			if c.Image != m.Spec.Workflow.Image || c.Image != rolloutC.Image {
				t.Errorf("image %q", c.Image)
			}
			if !reflect.DeepEqual(c.Resources, rolloutC.Resources) || !reflect.DeepEqual(c.SecurityContext, rolloutC.SecurityContext) || !reflect.DeepEqual(c.VolumeMounts[:len(c.VolumeMounts)-1], rolloutC.VolumeMounts) {
				t.Errorf("resources, securityContext or volumeMounts differ from the rollout step's")
			}
			// The one addition: the bus's client credentials, read-only,
			// from the Secret the argo-events controller writes.
			busVol, busMount := wf.Volumes[len(wf.Volumes)-1], c.VolumeMounts[len(c.VolumeMounts)-1]
			if sec := busVol.Secret; sec == nil || sec.SecretName != "eventbus-"+bus+"-js-client-auth" || len(sec.Items) != 1 ||
				sec.Items[0].Key != "client-auth" || sec.Items[0].Path != "auth.yaml" ||
				busMount.Name != busVol.Name || busMount.MountPath != "/etc/argodeploy/bus" || !busMount.ReadOnly {
				t.Errorf("bus credentials volume %+v mounted %+v", busVol, busMount)
			}
			if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
				t.Errorf("root filesystem is not read-only")
			}
			env := map[string]corev1.EnvVar{}
			for _, e := range c.Env {
				env[e.Name] = e
			}
			if len(env) != 3 || env["HOME"].Value != "/tmp" || env["TMPDIR"].Value != "/tmp" ||
				env["POD_NAMESPACE"].ValueFrom == nil || env["POD_NAMESPACE"].ValueFrom.FieldRef == nil || env["POD_NAMESPACE"].ValueFrom.FieldRef.FieldPath != "metadata.namespace" {
				t.Errorf("env %+v: want HOME, TMPDIR and POD_NAMESPACE (fieldRef) only", c.Env)
			}
		})
	}
}

func renderFile(t *testing.T, file string) (*mapping.ServiceMapping, []render.Object) {
	t.Helper()
	m, err := mapping.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := render.Render(m, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return m, objs
}

// shortestGap is the shortest time between two of the schedule's next
// hundred passes.
func shortestGap(t *testing.T, schedule string) time.Duration {
	t.Helper()
	s, err := cron.ParseStandard(schedule)
	if err != nil {
		t.Fatal(err)
	}
	last := s.Next(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	shortest := time.Duration(1<<63 - 1)
	for range 100 {
		next := s.Next(last)
		shortest = min(shortest, next.Sub(last))
		last = next
	}
	return shortest
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// sensorsOf are the Sensors among objs.
func sensorsOf(objs []render.Object) []*eventsv1.Sensor {
	var out []*eventsv1.Sensor
	for _, o := range objs {
		if s, ok := o.(*eventsv1.Sensor); ok {
			out = append(out, s)
		}
	}
	return out
}
