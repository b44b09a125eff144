package render_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/pod-security-admission/api"

	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/render"
)

// TestCreateNamespace: spec.createNamespace writes the pipeline's
// Namespace first, enforcing baseline and warning at restricted, without
// the part-of label that kubectl apply --prune selects by; without it no
// Namespace is written.
func TestCreateNamespace(t *testing.T) {
	m, err := mapping.Load("../../examples/multi-cluster.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := render.Render(m, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ns, ok := objs[0].(*corev1.Namespace)
	if !ok || ns.Name != m.Spec.Namespace {
		t.Fatalf("first object %T %s, want Namespace %s", objs[0], objs[0].GetName(), m.Spec.Namespace)
	}
	want := map[string]string{
		render.LabelManagedBy: render.ManagerName,
		api.EnforceLevelLabel: "baseline",
		api.WarnLevelLabel:    "restricted",
		api.AuditLevelLabel:   "restricted",
	}
	if len(ns.Labels) != len(want) {
		t.Errorf("labels %v, want %v", ns.Labels, want)
	}
	for k, v := range want {
		if ns.Labels[k] != v {
			t.Errorf("label %s=%q, want %q", k, ns.Labels[k], v)
		}
	}
	for _, level := range []string{ns.Labels[api.EnforceLevelLabel], ns.Labels[api.WarnLevelLabel]} {
		if _, err := api.ParseLevel(level); err != nil {
			t.Errorf("label value %q: %v", level, err)
		}
	}

	m.Spec.CreateNamespace = false
	if objs, err = render.Render(m, render.Options{}); err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if _, ok := o.(*corev1.Namespace); ok {
			t.Errorf("Namespace %s written without createNamespace", o.GetName())
		}
	}
}
