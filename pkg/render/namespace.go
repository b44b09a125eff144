package render

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psaapi "k8s.io/pod-security-admission/api"
)

// namespace is the pipeline's Namespace (spec.createNamespace). Pod
// Security admission enforces baseline and warns and audits at restricted:
// every pod argodeploy writes meets restricted, but Argo Workflows' init
// and wait containers do only when its controller's executor.securityContext
// says so. It has no part-of label, so pruning by that label never deletes
// it, with everything in it.
func (p *pipeline) namespace() Object {
	return &corev1.Namespace{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{
			Name: p.ns,
			Labels: map[string]string{
				LabelManagedBy:           ManagerName,
				psaapi.EnforceLevelLabel: string(psaapi.LevelBaseline),
				psaapi.WarnLevelLabel:    string(psaapi.LevelRestricted),
				psaapi.AuditLevelLabel:   string(psaapi.LevelRestricted),
			},
		},
	}
}
