package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommittedSchemasAreCurrent regenerates the schemas and fails when
// schemas/kinds differs in any byte: run `make schemas` after changing the
// generator or the upstream versions in go.mod.
func TestCommittedSchemasAreCurrent(t *testing.T) {
	dir := t.TempDir()
	if err := generate(dir); err != nil {
		t.Fatal(err)
	}
	fresh, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadDir("../kinds")
	if err != nil {
		t.Fatal(err)
	}
	if len(committed) != len(fresh) {
		t.Errorf("schemas/kinds has %d files, the generator writes %d; run make schemas", len(committed), len(fresh))
	}
	for _, f := range fresh {
		want, err := os.ReadFile(filepath.Join(dir, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join("../kinds", f.Name()))
		if err != nil {
			t.Errorf("%v; run make schemas", err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("schemas/kinds/%s is not what the generator writes; run make schemas", f.Name())
		}
	}
}

// TestRecordedVersionsAreGoMod checks that schemas/kinds/VERSIONS names the
// versions go.mod requires.
func TestRecordedVersionsAreGoMod(t *testing.T) {
	required, err := goModRequirements()
	if err != nil {
		t.Fatal(err)
	}
	kubernetes, err := kubernetesVersion(required[kubernetesAPIModule])
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		argoEventsModule:    required[argoEventsModule],
		argoWorkflowsModule: required[argoWorkflowsModule],
		kubernetesModule:    kubernetes,
	}
	data, err := os.ReadFile(filepath.Join("../kinds", versionsName))
	if err != nil {
		t.Fatal(err)
	}
	recorded := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if fields := strings.Fields(line); len(fields) >= 2 && !strings.HasPrefix(line, "#") {
			recorded[fields[0]] = fields[1]
		}
	}
	for module, version := range want {
		if recorded[module] != version {
			t.Errorf("%s records %s %q, go.mod pins %q; run make schemas", versionsName, module, recorded[module], version)
		}
	}
	if len(recorded) != len(want) {
		t.Errorf("%s records %v, want %v", versionsName, recorded, want)
	}
}

func TestKubernetesVersion(t *testing.T) {
	for api, want := range map[string]string{"v0.33.1": "v1.33.1", "v0.34.0": "v1.34.0", "v0.33.0-rc.1": "", "v1.0.0": ""} {
		got, err := kubernetesVersion(api)
		if got != want || (err != nil) != (want == "") {
			t.Errorf("kubernetesVersion(%s) = %q, %v; want %q", api, got, err, want)
		}
	}
}

// TestStaleFixesFail checks that a fix which no longer finds its defect
// stops the generator rather than passing silently.
func TestStaleFixesFail(t *testing.T) {
	defs := map[string]any{
		"Thing": map[string]any{"properties": map[string]any{"a": map[string]any{"type": "string"}}, "required": []any{"a"}},
	}
	if err := makeOptional(defs, "Thing", "a"); err != nil {
		t.Fatal(err)
	}
	if err := makeOptional(defs, "Thing", "a"); err == nil {
		t.Error("making an optional field optional did not fail")
	}
	if err := replaceDefinition(defs, "Missing", map[string]any{}); err == nil {
		t.Error("replacing a missing definition did not fail")
	}
	if err := replaceProperty(defs, "Thing", "b", map[string]any{}); err == nil {
		t.Error("replacing a missing property did not fail")
	}
}

func TestNullable(t *testing.T) {
	def := map[string]any{
		"properties": map[string]any{
			"name":   map[string]any{"type": "string"},
			"labels": map[string]any{"type": "object"},
			"port":   map[string]any{"type": []any{"integer", "string"}},
			"meta":   map[string]any{"$ref": "#/definitions/Meta"},
			"any":    map[string]any{},
		},
		"required": []any{"name"},
	}
	acceptNullWhenOptional(def)
	props := def["properties"].(map[string]any)
	for field, want := range map[string]string{
		"name":   "map[type:string]",
		"labels": "map[type:[object null]]",
		"port":   "map[type:[integer string null]]",
		"meta":   "map[else:map[$ref:#/definitions/Meta] if:map[type:null]]",
		"any":    "map[]",
	} {
		if got := fmt.Sprint(props[field]); got != want {
			t.Errorf("%s: got %s, want %s", field, got, want)
		}
	}
}
