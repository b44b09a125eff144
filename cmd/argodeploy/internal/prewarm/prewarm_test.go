package prewarm

import (
	"reflect"
	"testing"

	"github.com/argodeploy/argodeploy/pkg/schema"
)

func TestPlan(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want work
	}{
		{[]string{"validate", "pipeline.yaml"}, work{encoders: true, decoders: true, schemas: pipelineSchemas}},
		{[]string{"--allow-external", "validate", "-"}, work{encoders: true, decoders: true, schemas: pipelineSchemas}},
		{[]string{"generate", "-f", "validate"}, work{encoders: true}},
		{[]string{"simulate", "-f", "m.yaml", "push.json"}, work{encoders: true, decoders: true}},
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

// TestPipelineSchemas: every kind prewarm preloads has a schema.
func TestPipelineSchemas(t *testing.T) {
	for _, s := range pipelineSchemas {
		if err := schema.Preload(s[0], s[1]); err != nil {
			t.Error(err)
		}
	}
}
