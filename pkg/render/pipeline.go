package render

import (
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/argodeploy/argodeploy/pkg/mapping"
)

// pipeline derives names and shared metadata from a mapping.
type pipeline struct {
	m    *mapping.ServiceMapping
	name string
	ns   string
}

func newPipeline(m *mapping.ServiceMapping) *pipeline {
	return &pipeline{m: m, name: m.Metadata.Name, ns: m.Spec.Namespace}
}

func (p *pipeline) eventSourceName() string    { return p.name }
func (p *pipeline) eventSourceAccount() string { return p.name + "-eventsource" }
func (p *pipeline) sensorAccount() string      { return p.name + "-sensor" }
func (p *pipeline) rolloutAccount() string     { return p.name + "-rollout" }
func (p *pipeline) reconcileAccount() string   { return p.name + "-reconcile" }

// templateName names the rollout WorkflowTemplate.
func (p *pipeline) templateName() string { return TemplateName(p.name) }

// TemplateName names the rollout WorkflowTemplate of pipeline NAME.
func TemplateName(pipeline string) string { return pipeline + "-rollout" }

// shardName names the i-th of n shards of a kind of object: no suffix when
// there is only one.
func shardName(base string, i, n int) string {
	if n == 1 {
		return base
	}
	return base + "-" + strconv.Itoa(i+1)
}

func (p *pipeline) labels() map[string]string {
	return map[string]string{LabelManagedBy: ManagerName, LabelPartOf: p.name}
}

func (p *pipeline) meta(name, namespace string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: p.labels()}
}
