package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateGeneratedExamples: what generate writes validates clean.
func TestValidateGeneratedExamples(t *testing.T) {
	examples, err := filepath.Glob(repoPath("examples/*.yaml"))
	if err != nil || len(examples) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, example := range examples {
		name := filepath.Base(example)
		t.Run(name, func(t *testing.T) {
			manifests, _, code := run(t, "", "generate", "-f", "examples/"+name)
			if code != 0 {
				t.Fatalf("generate exit %d", code)
			}
			stdout, stderr, code := run(t, manifests, "validate", "-")
			if code != 0 || !strings.Contains(stdout, "invalid 0, skipped 0") {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
			for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
				if !strings.HasPrefix(line, "Summary: ") && !strings.Contains(line, ": note: ") {
					t.Errorf("not a note: %s", line)
				}
			}
		})
	}
}

// TestValidateBadManifests: each manifest under testdata/manifests/bad
// breaks one thing a cluster would accept; the expected report is in the
// sibling .out file.
func TestValidateBadManifests(t *testing.T) {
	cases, err := filepath.Glob(repoPath("testdata/manifests/bad/*.yaml"))
	if err != nil || len(cases) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, c := range cases {
		rel := "testdata/manifests/bad/" + filepath.Base(c)
		t.Run(filepath.Base(c), func(t *testing.T) {
			stdout, stderr, code := run(t, "", "validate", rel)
			if code != exitFailure {
				t.Fatalf("exit %d, want %d\n%s%s", code, exitFailure, stdout, stderr)
			}
			golden(t, strings.TrimSuffix(rel, ".yaml")+".out", stdout)
		})
	}
}

func TestValidateUsage(t *testing.T) {
	if _, _, code := run(t, "", "validate"); code != exitUsage {
		t.Fatalf("no paths: exit %d, want %d", code, exitUsage)
	}
	if _, _, code := run(t, "", "validate", "testdata/nope"); code != exitFailure {
		t.Fatalf("missing path: exit %d, want %d", code, exitFailure)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("kind: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := run(t, "", "validate", dir); code != exitFailure || !strings.Contains(stderr, "a.yaml") {
		t.Fatalf("broken YAML: exit %d, stderr %q", code, stderr)
	}
}

func TestValidateJSONReport(t *testing.T) {
	stdout, _, code := run(t, "", "validate", "-o", "json", "testdata/manifests/bad/misspelled_sensor_field.yaml")
	if code != exitFailure {
		t.Fatalf("exit %d, want %d", code, exitFailure)
	}
	var rep report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	want := problem{File: "testdata/manifests/bad/misspelled_sensor_field.yaml", Line: 495, Column: 3, Kind: "Sensor", Name: "shop"}
	if rep.Resources != 14 || rep.Invalid != 1 || len(rep.Problems) != 1 {
		t.Fatalf("report %+v", rep)
	}
	got := rep.Problems[0]
	if got.File != want.File || got.Line != want.Line || got.Column != want.Column || got.Kind != want.Kind || got.Name != want.Name || got.Field != "spec.dependencys" || got.Severity != severityError {
		t.Fatalf("problem %+v, want %+v naming spec.dependencys", got, want)
	}
	if _, _, code := run(t, "", "validate", "-o", "xml", "testdata/manifests/bad/misspelled_sensor_field.yaml"); code != exitUsage {
		t.Fatalf("-o xml: exit %d, want %d", code, exitUsage)
	}
}
