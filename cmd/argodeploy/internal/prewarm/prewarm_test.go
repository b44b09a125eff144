package prewarm

import (
	"reflect"
	"testing"

	"github.com/argodeploy/argodeploy/pkg/kinds"
	"github.com/argodeploy/argodeploy/pkg/schema"
	k8sschema "k8s.io/apimachinery/pkg/runtime/schema"
)

func TestPlan(t *testing.T) {
	validate := plan([]string{"validate", "pipeline.yaml"})
	if len(validate.decode) == 0 || len(validate.encode) == 0 || len(validate.schemas) == 0 {
		t.Errorf("validate warms %+v", validate)
	}
	for _, tc := range []struct {
		args []string
		want work
	}{
		{[]string{"--allow-external", "validate", "-"}, validate},
		{[]string{"generate", "-f", "validate"}, work{encode: append([]k8sschema.GroupKind{workflow}, pipeline...)}},
		{[]string{"simulate", "-f", "m.yaml", "push.json"}, work{decode: []k8sschema.GroupKind{sensor, workflowTemplate, workflow}}},
		{[]string{"help", "validate"}, work{}},
		{[]string{"--help"}, work{}},
		{[]string{"version"}, work{}},
		{nil, work{}},
	} {
		if got := plan(tc.args); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("plan(%q) = %+v, want %+v", tc.args, got, tc.want)
		}
	}
}

// TestPipelineKinds: every kind prewarm warms has a Go type, and every
// schema it preloads exists.
func TestPipelineKinds(t *testing.T) {
	for _, gk := range append([]k8sschema.GroupKind{workflow}, pipeline...) {
		if _, ok := kinds.ByGroupKind[gk]; !ok {
			t.Errorf("%v has no Go type", gk)
		}
	}
	for _, gk := range plan([]string{"validate"}).schemas {
		if err := schema.Preload(gk.Group+"/v1alpha1", gk.Kind); err != nil {
			t.Error(err)
		}
	}
}
