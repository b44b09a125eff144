package schema_test

import (
	"errors"
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/argodeploy/argodeploy/pkg/schema"
	"github.com/argodeploy/argodeploy/schemas"
)

// object decodes a YAML manifest.
func object(t *testing.T, manifest string) map[string]any {
	t.Helper()
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(manifest), &obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

func validate(t *testing.T, manifest string, opts schema.Options) []schema.Problem {
	t.Helper()
	problems, err := schema.Validate(object(t, manifest), opts)
	if err != nil {
		t.Fatal(err)
	}
	return problems
}

// workflowTemplate is a WorkflowTemplate whose one template has FIELD, the
// line to test, as its last line.
func workflowTemplate(field string) string {
	return `
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: rollout
spec:
  entrypoint: main
  arguments:
    parameters:
    - name: replicas
      value: 3
    - name: dryRun
      value: false
  templates:
  - name: main
    container:
      image: bitnami/kubectl:1.33
      resources:
        limits: {memory: 1Gi, cpu: 0.5}
        requests: {memory: 536870912, cpu: "250m"}
      readinessProbe:
        httpGet: {path: /healthz, port: 8080}
      livenessProbe:
        httpGet: {path: /healthz, port: http}
` + field
}

const sensor = `
apiVersion: argoproj.io/v1alpha1
kind: Sensor
metadata:
  name: shop
  creationTimestamp: null
spec:
  loggingFields: null
  dependencies:
  - name: push
    eventSourceName: registry
    eventName: push
  triggers:
  - template:
      name: rollout
      argoWorkflow:
        operation: submit
`

func TestAcceptsWhatUpstreamSchemasReject(t *testing.T) {
	for name, manifest := range map[string]string{
		"IntOrString as int":    workflowTemplate("    retryStrategy: {limit: 3, backoff: {factor: 2}}"),
		"IntOrString as string": workflowTemplate(`    retryStrategy: {limit: "3", backoff: {factor: "2"}}`),
		"activeDeadlineSeconds": workflowTemplate("    activeDeadlineSeconds: 300"),
		"image from defaults":   strings.Replace(workflowTemplate(""), "      image: bitnami/kubectl:1.33\n", "", 1),
		"null and defaults":     sensor,
	} {
		t.Run(name, func(t *testing.T) {
			if problems := validate(t, manifest, schema.Options{}); len(problems) > 0 {
				t.Errorf("problems in a valid manifest: %v", problems)
			}
		})
	}
}

func TestProblems(t *testing.T) {
	withUnknown := strings.Replace(sensor, "      name: rollout\n", "      name: rollout\n      atLeastOnce: true\n", 1)
	for _, c := range []struct {
		name     string
		manifest string
		opts     schema.Options
		want     []schema.Problem
	}{{
		name:     "unknown field",
		manifest: withUnknown,
		want:     []schema.Problem{{Path: "spec.triggers[0].template.atLeastOnce", Message: "unknown field"}},
	}, {
		name:     "unknown field, relaxed",
		manifest: withUnknown,
		opts:     schema.Options{Relaxed: true},
	}, {
		name:     "wrong type, relaxed",
		manifest: strings.Replace(withUnknown, "name: rollout", "name: 7", 1),
		opts:     schema.Options{Relaxed: true},
		want:     []schema.Problem{{Path: "spec.triggers[0].template.name", Message: "invalid type: expected string, got integer"}},
	}, {
		name:     "missing field",
		manifest: strings.Replace(sensor, "    eventName: push\n", "", 1),
		want:     []schema.Problem{{Path: "spec.dependencies[0].eventName", Message: "required field is missing"}},
	}, {
		name:     "null where a value is required",
		manifest: strings.Replace(sensor, "    eventName: push\n", "    eventName: null\n", 1),
		want:     []schema.Problem{{Path: "spec.dependencies[0].eventName", Message: "invalid type: expected string, got null"}},
	}, {
		name:     "malformed quantity",
		manifest: strings.Replace(workflowTemplate(""), "memory: 1Gi", "memory: 1 Gi", 1),
		want:     []schema.Problem{{Path: "spec.templates[0].container.resources.limits.memory", Message: "does not match pattern"}},
	}, {
		name:     "list of steps that is not a list",
		manifest: workflowTemplate("    steps: [{name: a, template: b}]"),
		want:     []schema.Problem{{Path: "spec.templates[0].steps[0]", Message: "invalid type: expected array, got object"}},
	}, {
		name: "keys that look like indices or paths",
		manifest: strings.Replace(sensor, "  creationTimestamp: null\n",
			"  annotations: {\"0\": zero, \"example.com/wave\": 1}\n", 1),
		want: []schema.Problem{{Path: `metadata.annotations["example.com/wave"]`, Message: "invalid type: expected string, got integer"}},
	}, {
		name: "wrong kind of object for the file's kind",
		manifest: `
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
data: {a: "1"}
rules: []
`,
		want: []schema.Problem{{Path: "rules", Message: "unknown field"}},
	}} {
		t.Run(c.name, func(t *testing.T) {
			got := validate(t, c.manifest, c.opts)
			for i := range got {
				// The pattern itself is long; its start is enough.
				if strings.HasPrefix(got[i].Message, "does not match pattern") {
					got[i].Message = "does not match pattern"
				}
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestProblemOrder(t *testing.T) {
	manifest := strings.NewReplacer("name: push", "name: 1", "eventName: push", "eventName: 2", "operation: submit", "operation: submit\n        bogus: x").Replace(sensor)
	first := validate(t, manifest, schema.Options{})
	want := []schema.Problem{
		{Path: "spec.dependencies[0].eventName", Message: "invalid type: expected string, got integer"},
		{Path: "spec.dependencies[0].name", Message: "invalid type: expected string, got integer"},
		{Path: "spec.triggers[0].template.argoWorkflow.bogus", Message: "unknown field"},
	}
	if !reflect.DeepEqual(first, want) {
		t.Fatalf("got %v, want %v", first, want)
	}
	for range 5 {
		if again := validate(t, manifest, schema.Options{}); !reflect.DeepEqual(again, first) {
			t.Fatalf("order changed: %v, then %v", first, again)
		}
	}
}

func TestNoSchema(t *testing.T) {
	for _, manifest := range []string{
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}",
		"apiVersion: v1\nkind: Role\nmetadata: {name: r}",
		"apiVersion: argoproj.io/v1alpha2\nkind: Sensor\nmetadata: {name: s}",
		"metadata: {name: nothing}",
	} {
		_, err := schema.Validate(object(t, manifest), schema.Options{})
		if !errors.Is(err, schema.ErrNoSchema) {
			t.Errorf("%q: got %v, want ErrNoSchema", manifest, err)
		}
	}
}

// TestEveryKind compiles each embedded schema, checks that its file name is
// the one of the apiVersion and kind it fixes, and logs what the first
// validation of the kind costs (the compilation of its schema).
func TestEveryKind(t *testing.T) {
	files, err := fs.Glob(schemas.Kinds, "kinds/*.json")
	if err != nil || len(files) < 10 {
		t.Fatalf("embedded schemas: %v, %v", files, err)
	}
	for _, file := range files {
		data, err := schemas.Kinds.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var fixed struct {
			Properties struct{ APIVersion, Kind struct{ Const string } }
		}
		if err := yaml.Unmarshal(data, &fixed); err != nil {
			t.Fatal(err)
		}
		apiVersion, kind := fixed.Properties.APIVersion.Const, fixed.Properties.Kind.Const
		if got := "kinds/" + schema.FileName(apiVersion, kind); got != file {
			t.Errorf("%s fixes apiVersion %q and kind %q, whose file is %s", file, apiVersion, kind, got)
		}
		obj := map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": map[string]any{"name": "x"}}
		start := time.Now()
		if _, err := schema.Validate(obj, schema.Options{}); err != nil {
			t.Errorf("%s: %v", file, err)
		}
		t.Logf("%-30s first validation %v", kind, time.Since(start).Round(time.Millisecond))
	}
}
