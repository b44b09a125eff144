package render

import (
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var (
	serviceAccountType = metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}
	roleType           = metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"}
	roleBindingType    = metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"}
)

// workloadIdentityAnnotation binds a Kubernetes service account to a Google one.
const workloadIdentityAnnotation = "iam.gke.io/gcp-service-account"

// serviceAccounts are one identity per pod kind. The Sensor (it creates
// the Workflows), rollout and reconcile pods talk to the Kubernetes API
// and get a token mounted; the EventSource's does not. The EventSource and
// reconcile pods talk to Google as the mapping's Google service account
// (Workload Identity), when it has one.
func (p *pipeline) serviceAccounts() []Object {
	noToken := false
	es := &corev1.ServiceAccount{TypeMeta: serviceAccountType, ObjectMeta: p.meta(p.eventSourceAccount(), p.ns), AutomountServiceAccountToken: &noToken}
	if gsa := p.m.Spec.GCP.ServiceAccount; gsa != "" {
		es.Annotations = map[string]string{workloadIdentityAnnotation: gsa}
	}
	sensor := &corev1.ServiceAccount{TypeMeta: serviceAccountType, ObjectMeta: p.meta(p.sensorAccount(), p.ns)}
	rollout := &corev1.ServiceAccount{TypeMeta: serviceAccountType, ObjectMeta: p.meta(p.rolloutAccount(), p.ns)}
	reconcile := &corev1.ServiceAccount{TypeMeta: serviceAccountType, ObjectMeta: p.meta(p.reconcileAccount(), p.ns)}
	if gsa := p.m.Spec.GCP.ServiceAccount; gsa != "" {
		reconcile.Annotations = map[string]string{workloadIdentityAnnotation: gsa} // it reads the registry
	}
	return []Object{es, sensor, rollout, reconcile}
}

// rbac grants each identity only what it uses:
//   - the Sensor creates Workflows (its trigger) and dead-letter ConfigMaps;
//   - the rollout pods report task results in the pipeline namespace, read
//     the kubeconfig Secrets of the other clusters there, by name, and get
//     and update the mapped Deployments, by name, in their namespaces.
//     Deployments in other clusters are reached with their kubeconfig's
//     credentials and get no local grant;
//   - the reconcile pods do the same but only get the Deployments, and
//     create Workflows in the pipeline namespace; they also get, by name,
//     the EventBus and the Sensors, to check the bus (reconcile --event-bus),
//     and list and delete ConfigMaps to bound the dead letters
//     (DeadLetterRule);
//   - with approvals, the Role NAME-approver (unbound) lets argodeploy
//     approve and reject find and decide the waiting Workflows.
func (p *pipeline) rbac(sensors []string) (roles, bindings []Object) {
	sensorRules := []rbacv1.PolicyRule{
		{APIGroups: []string{"argoproj.io"}, Resources: []string{"workflows"}, Verbs: []string{"create"}},
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"create"}},
	}
	roles = append(roles, p.role(p.sensorAccount(), p.ns, sensorRules))
	bindings = append(bindings, p.roleBinding(p.sensorAccount(), p.ns, p.sensorAccount()))

	for _, a := range []struct {
		account string
		verbs   []string
		extra   []rbacv1.PolicyRule
	}{
		{p.rolloutAccount(), RolloutVerbs, p.notifyRules()},
		{p.reconcileAccount(), ReconcileVerbs, []rbacv1.PolicyRule{
			{APIGroups: []string{"argoproj.io"}, Resources: []string{"workflows"}, Verbs: []string{"create"}},
			{APIGroups: []string{"argoproj.io"}, Resources: []string{"eventbus"}, ResourceNames: []string{p.m.Spec.EventBus.Name}, Verbs: []string{"get"}},
			{APIGroups: []string{"argoproj.io"}, Resources: []string{"sensors"}, ResourceNames: sensors, Verbs: []string{"get"}},
			DeadLetterRule,
		}},
	} {
		rules := p.stepRules(a.verbs, a.extra)
		for _, ns := range slices.Sorted(maps.Keys(rules)) {
			roles = append(roles, p.role(a.account, ns, rules[ns]))
			bindings = append(bindings, p.roleBinding(a.account, ns, a.account))
		}
	}
	if p.m.Approvals() {
		// Bound by the user to whoever may approve (SECURITY.md).
		roles = append(roles, p.role(ApproverRole(p.name), p.ns, ApproverRules))
	}
	return roles, bindings
}

// notifyRules let the rollout account read the Secrets that hold its
// receivers' URLs, by name.
func (p *pipeline) notifyRules() []rbacv1.PolicyRule {
	secrets := p.m.NotifySecrets()
	if len(secrets) == 0 {
		return nil
	}
	return []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: secrets, Verbs: []string{"get"}}}
}

// DeadLetterRule is what reconcile --keep-dead-letters does: list the
// pipeline's dead letters and delete those past the bound. RBAC cannot
// narrow it to them (their names are generated, a rule cannot select
// labels); the step deletes only ConfigMaps labelled as the pipeline's dead
// letters (SECURITY.md).
var DeadLetterRule = rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"list", "delete"}}

// ApproverRules are what argodeploy approve and reject do: find the
// pipeline's Workflows that wait and mark the approve step as decided.
var ApproverRules = []rbacv1.PolicyRule{
	{APIGroups: []string{"argoproj.io"}, Resources: []string{"workflows"}, Verbs: []string{"get", "list", "update"}},
}

// ApproverRole names the Role that a pipeline with approvals grants its
// approvers, unbound.
func ApproverRole(pipeline string) string { return pipeline + "-approver" }

// stepRules are, per namespace, the rules of the account of a workflow
// step that does verbs to the mapped Deployments: task results and extra
// in the pipeline namespace, the kubeconfig Secrets of other clusters.
func (p *pipeline) stepRules(verbs []string, extra []rbacv1.PolicyRule) map[string][]rbacv1.PolicyRule {
	rules := map[string][]rbacv1.PolicyRule{
		p.ns: append(extra, rbacv1.PolicyRule{APIGroups: []string{"argoproj.io"}, Resources: []string{"workflowtaskresults"}, Verbs: []string{"create", "patch"}}),
	}
	if secrets := p.kubeconfigSecrets(); len(secrets) > 0 {
		rules[p.ns] = append(rules[p.ns], rbacv1.PolicyRule{
			APIGroups:     []string{""},
			Resources:     []string{"secrets"},
			ResourceNames: secrets,
			Verbs:         []string{"get"},
		})
	}
	for ns, names := range p.localDeployments() {
		rules[ns] = append(rules[ns], rbacv1.PolicyRule{
			APIGroups:     []string{"apps"},
			Resources:     []string{"deployments"},
			ResourceNames: names,
			Verbs:         verbs,
		})
	}
	return rules
}

// RolloutVerbs are what the rollout step does to a Deployment: read it,
// then update its pod template and its argodeploy.dev/state annotation.
var RolloutVerbs = []string{"get", "update"}

// ReconcileVerbs are what the reconcile step does to a Deployment: read
// what it runs and what it recorded.
var ReconcileVerbs = []string{"get"}

// localDeployments lists, per namespace, the sorted names of the mapped
// Deployments in this cluster.
func (p *pipeline) localDeployments() map[string][]string {
	seen := map[string]map[string]bool{}
	for _, s := range p.m.Spec.Services {
		for _, t := range s.Targets {
			if t.Cluster != nil {
				continue
			}
			if seen[t.Namespace] == nil {
				seen[t.Namespace] = map[string]bool{}
			}
			seen[t.Namespace][t.Deployment] = true
		}
	}
	out := map[string][]string{}
	for ns, names := range seen {
		out[ns] = slices.Sorted(maps.Keys(names))
	}
	return out
}

// kubeconfigSecrets lists the sorted names of the Secrets that hold the
// kubeconfigs of the other clusters.
func (p *pipeline) kubeconfigSecrets() []string {
	seen := map[string]bool{}
	for _, s := range p.m.Spec.Services {
		for _, t := range s.Targets {
			if t.Cluster != nil {
				seen[t.Cluster.KubeconfigSecret.Name] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

func (p *pipeline) role(name, namespace string, rules []rbacv1.PolicyRule) *rbacv1.Role {
	return &rbacv1.Role{TypeMeta: roleType, ObjectMeta: p.meta(name, namespace), Rules: rules}
}

func (p *pipeline) roleBinding(name, namespace, account string) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		TypeMeta:   roleBindingType,
		ObjectMeta: p.meta(name, namespace),
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: account, Namespace: p.ns}},
	}
}
