package schema_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/argodeploy/argodeploy/pkg/schema"
	"github.com/argodeploy/argodeploy/pkg/testcorpus"
)

// readObjects decodes every document of a multi-document YAML file.
func readObjects(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var objs []map[string]any
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var obj map[string]any
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if obj != nil {
			objs = append(objs, obj)
		}
	}
}

// validateFile validates every object of a file that a schema covers and
// returns one line per problem, "NAME: Kind/name: path: message", and the
// number of objects validated.
func validateFile(t *testing.T, path, name string, opts schema.Options) (findings []string, validated int) {
	t.Helper()
	for _, obj := range readObjects(t, path) {
		problems, err := schema.Validate(obj, opts)
		if errors.Is(err, schema.ErrNoSchema) {
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		validated++
		meta, _ := obj["metadata"].(map[string]any)
		objName, _ := meta["name"].(string)
		if objName == "" {
			objName, _ = meta["generateName"].(string)
		}
		for _, p := range problems {
			findings = append(findings, fmt.Sprintf("%s: %s/%s: %s", name, obj["kind"], objName, p))
		}
	}
	return findings, validated
}

// TestGeneratedExamples validates, strictly, what generate writes for the
// example mappings.
func TestGeneratedExamples(t *testing.T) {
	paths, err := filepath.Glob("../../testdata/examples/*.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no generated examples: %v", err)
	}
	for _, path := range paths {
		findings, validated := validateFile(t, path, filepath.Base(path), schema.Options{})
		if validated == 0 {
			t.Errorf("%s: no object validated", path)
		}
		for _, f := range findings {
			t.Error(f)
		}
	}
}

// TestUpstreamExamples validates, strictly, every object of a kind with a
// schema in the example manifests of the pinned argo-events and
// argo-workflows modules. The problems found must be exactly those in
// testdata/upstream-examples.txt, each a real mistake in an example: a
// false positive (say, from a defect of the upstream schemas) and a
// mistake no longer found both fail.
func TestUpstreamExamples(t *testing.T) {
	var findings []string
	validated := 0
	for _, module := range testcorpus.ArgoModules {
		dir, err := testcorpus.ModuleDir(module)
		if err != nil {
			t.Fatal(err)
		}
		err = filepath.WalkDir(filepath.Join(dir, "examples"), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
				return err
			}
			name := strings.TrimPrefix(module, "github.com/argoproj/") + filepath.ToSlash(strings.TrimPrefix(path, dir))
			f, n := validateFile(t, path, name, schema.Options{})
			findings = append(findings, f...)
			validated += n
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if validated < 300 {
		t.Fatalf("only %d example objects validated", validated)
	}
	sort.Strings(findings)
	const expectedFile = "testdata/upstream-examples.txt"
	data, err := os.ReadFile(expectedFile)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if line != "" {
			want[line] = true
		}
	}
	for _, f := range findings {
		if !want[f] {
			t.Errorf("unexpected problem (a false positive, or a real mistake to add to %s):\n%s", expectedFile, f)
		}
		delete(want, f)
	}
	for _, line := range sortedKeys(want) {
		t.Errorf("expected problem not found:\n%s", line)
	}
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
