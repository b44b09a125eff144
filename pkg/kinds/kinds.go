// Package kinds lists the Kubernetes kinds argodeploy decodes into their Go
// types: the Argo kinds the upstream validators take and the core kinds the
// access check reads. It imports only API types, so that a process can
// start WarmCodecs early, while the heavier packages still initialise.
package kinds

import (
	eventsv1alpha1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Typed is a kind that has a Go type: the version it is decoded at and a
// constructor of its empty object.
type Typed struct {
	Version string
	New     func() runtime.Object
}

// ByGroupKind holds every typed kind.
var ByGroupKind = map[schema.GroupKind]Typed{
	{Group: "argoproj.io", Kind: "EventSource"}:                      {"v1alpha1", func() runtime.Object { return &eventsv1alpha1.EventSource{} }},
	{Group: "argoproj.io", Kind: "EventBus"}:                         {"v1alpha1", func() runtime.Object { return &eventsv1alpha1.EventBus{} }},
	{Group: "argoproj.io", Kind: "Sensor"}:                           {"v1alpha1", func() runtime.Object { return &eventsv1alpha1.Sensor{} }},
	{Group: "argoproj.io", Kind: "WorkflowTemplate"}:                 {"v1alpha1", func() runtime.Object { return &wfv1.WorkflowTemplate{} }},
	{Group: "argoproj.io", Kind: "Workflow"}:                         {"v1alpha1", func() runtime.Object { return &wfv1.Workflow{} }},
	{Group: "argoproj.io", Kind: "ClusterWorkflowTemplate"}:          {"v1alpha1", func() runtime.Object { return &wfv1.ClusterWorkflowTemplate{} }},
	{Group: "argoproj.io", Kind: "CronWorkflow"}:                     {"v1alpha1", func() runtime.Object { return &wfv1.CronWorkflow{} }},
	{Kind: "ServiceAccount"}:                                         {"v1", func() runtime.Object { return &corev1.ServiceAccount{} }},
	{Kind: "ConfigMap"}:                                              {"v1", func() runtime.Object { return &corev1.ConfigMap{} }},
	{Kind: "Namespace"}:                                              {"v1", func() runtime.Object { return &corev1.Namespace{} }},
	{Kind: "Secret"}:                                                 {"v1", func() runtime.Object { return &corev1.Secret{} }},
	{Group: "rbac.authorization.k8s.io", Kind: "Role"}:               {"v1", func() runtime.Object { return &rbacv1.Role{} }},
	{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"}:        {"v1", func() runtime.Object { return &rbacv1.RoleBinding{} }},
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}:        {"v1", func() runtime.Object { return &rbacv1.ClusterRole{} }},
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}: {"v1", func() runtime.Object { return &rbacv1.ClusterRoleBinding{} }},
}
