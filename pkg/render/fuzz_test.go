package render_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/argodeploy/argodeploy/pkg/check"
	"github.com/argodeploy/argodeploy/pkg/manifest"
	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/output"
	"github.com/argodeploy/argodeploy/pkg/render"
)

// FuzzGenerate: a mapping either fails to load with an error, or renders
// to manifests that are byte-identical when rendered again and that
// validate passes with no problem.
func FuzzGenerate(f *testing.F) {
	for _, pattern := range []string{"../../examples/*.yaml", "../../testdata/mappings/good/*.yaml", "../../testdata/mappings/bad/*.yaml"} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := mapping.Parse("fuzz.yaml", data)
		if err != nil {
			return // the loader's own fuzz target checks its errors
		}
		first, err := generate(m)
		if err != nil {
			return // a clear error, e.g. a service too large for a shard
		}
		if again, err := generate(m); err != nil || !bytes.Equal(first, again) {
			t.Fatalf("rendering twice differs (%v)", err)
		}
		docs, err := manifest.Parse("generated.yaml", first)
		if err != nil {
			t.Fatalf("generated YAML does not parse: %v", err)
		}
		objs := make([]runtime.Object, len(docs))
		for i, d := range docs {
			objs[i] = d.Object
		}
		for _, r := range check.All(context.Background(), objs, check.Options{}) {
			if r.Err != nil {
				t.Errorf("%s %s/%s fails %s: %v", r.Kind, r.Namespace, r.Name, r.Validator, r.Err)
			}
		}
	})
}

// generate renders m and encodes it as generate writes it to stdout.
func generate(m *mapping.ServiceMapping) ([]byte, error) {
	objs, err := render.Render(m, render.Options{})
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	err = output.YAML(&buf, render.Convert[output.Object](objs))
	return buf.Bytes(), err
}
