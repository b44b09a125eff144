package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
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
	want := problem{File: "testdata/manifests/bad/misspelled_sensor_field.yaml", Line: 648, Column: 3, Kind: "Sensor", Name: "shop"}
	// The schema layer also reports spec.dependencies as missing, and the
	// decode layer notes that the later layers skip the Sensor.
	if rep.Resources != 20 || rep.Invalid != 1 || len(rep.Problems) != 3 {
		t.Fatalf("report %+v", rep)
	}
	got := rep.Problems[2]
	if got.File != want.File || got.Line != want.Line || got.Column != want.Column || got.Kind != want.Kind || got.Name != want.Name || got.Field != "spec.dependencys" || got.Severity != severityError {
		t.Fatalf("problem %+v, want %+v naming spec.dependencys", got, want)
	}
	if _, _, code := run(t, "", "validate", "-o", "xml", "testdata/manifests/bad/misspelled_sensor_field.yaml"); code != exitUsage {
		t.Fatalf("-o xml: exit %d, want %d", code, exitUsage)
	}
}

// TestValidateMappingDrift: --mapping passes on fresh output, and names
// each edited, missing or extra file with a unified diff.
func TestValidateMappingDrift(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pipeline")
	if _, stderr, code := run(t, "", "generate", "-f", "examples/single-service.yaml", "--output-dir", dir); code != 0 {
		t.Fatalf("generate: exit %d: %s", code, stderr)
	}
	stdout, stderr, code := run(t, "", "validate", "--mapping", "examples/single-service.yaml", dir)
	if code != 0 || !strings.Contains(stdout, "Drift: 0 files differ") {
		t.Fatalf("fresh output: exit %d\n%s%s", code, stdout, stderr)
	}
	sensor := filepath.Join(dir, "20-sensor-argo-events-shop.yaml")
	data, err := os.ReadFile(sensor)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sensor, []byte(strings.Replace(string(data), "conditions: push", "conditions: push || push", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code = run(t, "", "validate", "--mapping", "examples/single-service.yaml", dir)
	for _, want := range []string{
		"--- " + sensor + "\n+++ " + sensor + " (generated)\n",
		"-      conditions: push || push\n+      conditions: push\n",
		"Drift: 1 file differs from what examples/single-service.yaml generates",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("edited Sensor: want %q in\n%s", want, stdout)
		}
	}
	if code != exitFailure || !strings.Contains(stderr, "regenerate with: argodeploy generate -f examples/single-service.yaml --output-dir "+dir+"\n") {
		t.Errorf("edited Sensor: exit %d, stderr %q", code, stderr)
	}
	if _, _, code := run(t, "", "validate", "--mapping", "examples/single-service.yaml", dir, dir); code != exitUsage {
		t.Errorf("two paths with --mapping: exit %d, want %d", code, exitUsage)
	}
	if _, stderr, code := run(t, "", "validate", "--mapping", "examples/nope.yaml", dir); code != exitFailure || !strings.Contains(stderr, "nope.yaml") {
		t.Errorf("missing mapping: exit %d, stderr %q", code, stderr)
	}
}

// TestValidateDriftOptions: validate --mapping regenerates with the
// --max-object-bytes the output records, and --diff caps what it prints.
func TestValidateDriftOptions(t *testing.T) {
	const mappingFile = "examples/multi-namespace.yaml"
	dir := filepath.Join(t.TempDir(), "pipeline")
	if _, stderr, code := run(t, "", "generate", "-f", mappingFile, "--max-object-bytes", "20000", "--output-dir", dir); code != 0 {
		t.Fatalf("generate: exit %d: %s", code, stderr)
	}
	cache := filepath.Join(dir, "23-configmap-argo-events-platform-cache.yaml")
	data, err := os.ReadFile(cache)
	if err != nil || !strings.Contains(string(data), "argodeploy.dev/max-object-bytes: \"20000\"") {
		t.Fatalf("cache ConfigMap does not record --max-object-bytes (err %v):\n%s", err, data)
	}
	if stdout, stderr, code := run(t, "", "validate", "--mapping", mappingFile, dir); code != 0 {
		t.Fatalf("recorded option not reused: exit %d\n%s%s", code, stdout, stderr)
	}
	// An explicit flag wins over what is recorded.
	stdout, _, code := run(t, "", "validate", "--mapping", mappingFile, "--max-object-bytes", "204800", "--diff", "stat", dir)
	if want := cache + " | +0 -2\n"; code != exitFailure || !strings.Contains(stdout, want) {
		t.Errorf("--max-object-bytes 204800: exit %d, want %q in\n%s", code, want, stdout)
	}
	if _, _, code := run(t, "", "validate", "--mapping", mappingFile, "--diff", "unified", dir); code != exitUsage {
		t.Errorf("--diff unified: exit %d, want %d", code, exitUsage)
	}

	// Two files that record different options are refused, naming both.
	other := filepath.Join(t.TempDir(), "other")
	if _, stderr, code := run(t, "", "generate", "-f", mappingFile, "--max-object-bytes", "30000", "--output-dir", other); code != 0 {
		t.Fatalf("generate: exit %d: %s", code, stderr)
	}
	data, _ = os.ReadFile(filepath.Join(other, "23-configmap-argo-events-platform-cache.yaml"))
	copied := filepath.Join(dir, "99-copy.yaml")
	if err := os.WriteFile(copied, bytes.Replace(data, []byte("name: platform-cache"), []byte("name: platform-cache-copy"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := run(t, "", "validate", "--mapping", mappingFile, dir); code != exitFailure ||
		!strings.Contains(stderr, copied+":2: ConfigMap/platform-cache-copy records argodeploy.dev/max-object-bytes 30000, but "+cache+":2 records 20000") {
		t.Errorf("conflicting records: exit %d, stderr %q", code, stderr)
	}
	if err := os.Remove(copied); err != nil {
		t.Fatal(err)
	}

	// Every file missing: short prints diffs up to 200 lines, then a line
	// per file; full prints every line; stat one line per file.
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	for _, f := range files {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	lines := map[string]int{}
	for _, mode := range []string{"short", "stat", "full"} {
		stdout, _, code := run(t, "", "validate", "--mapping", mappingFile, "--allow-empty", "--diff", mode, dir)
		if code != exitFailure {
			t.Errorf("--diff %s: exit %d, want %d", mode, code, exitFailure)
		}
		if want := fmt.Sprintf("Drift: %d files differ from what %s generates (+", len(files), mappingFile); !strings.HasPrefix(stdout, "Summary: ") || !strings.Contains(stdout, want) {
			t.Errorf("--diff %s: the summary does not come first with %q:\n%s", mode, want, stdout)
		}
		lines[mode] = strings.Count(stdout, "\n")
		note := strings.Contains(stdout, "shown as one line each, past 200 lines of diff; --diff=full prints every line")
		if note != (mode == "short") {
			t.Errorf("--diff %s: capping note %v", mode, note)
		}
	}
	if lines["stat"] != len(files)+2 || lines["short"] > 200+len(files)+3 || lines["full"] <= lines["short"] {
		t.Errorf("lines printed: %v for %d files", lines, len(files))
	}
}

func TestValidateJUnitReport(t *testing.T) {
	stdout, _, code := run(t, "", "validate", "-o", "junit", "testdata/manifests/bad/role_grants_delete.yaml")
	if code != exitFailure {
		t.Fatalf("exit %d, want %d", code, exitFailure)
	}
	var suites junitSuites
	if err := xml.Unmarshal([]byte(stdout), &suites); err != nil {
		t.Fatalf("not XML: %v\n%s", err, stdout)
	}
	if len(suites.Suites) != 1 {
		t.Fatalf("suites: %+v", suites)
	}
	s := suites.Suites[0]
	if s.Tests != 20 || s.Failures != 1 || len(s.Cases) != 20 {
		t.Fatalf("tests %d failures %d cases %d, want 20, 1, 20", s.Tests, s.Failures, len(s.Cases))
	}
	for _, c := range s.Cases {
		failed := c.Failure != nil
		if want := c.Name == "Role/shop/shop-rollout"; failed != want {
			t.Errorf("%s: failed %v, want %v", c.Name, failed, want)
		}
		if failed && !strings.Contains(c.Failure.Text, "rules[0]: grants ServiceAccount argo-events/shop-rollout more than its objects need: delete deployments.apps web") {
			t.Errorf("%s: failure text %q", c.Name, c.Failure.Text)
		}
	}
}

func TestValidateAllowUnknownFields(t *testing.T) {
	const file = "testdata/manifests/bad/misspelled_sensor_field.yaml"
	if _, _, code := run(t, "", "validate", file); code != exitFailure {
		t.Fatalf("strict: exit %d, want %d", code, exitFailure)
	}
	// Relaxed, the misspelled spec.dependencys is dropped; the Sensor then
	// has no dependencies, which ValidateSensor still rejects.
	stdout, _, code := run(t, "", "validate", "--allow-unknown-fields", file)
	if code != exitFailure || strings.Contains(stdout, "unknown field") || !strings.Contains(stdout, "no event dependencies found") {
		t.Fatalf("relaxed: exit %d\n%s", code, stdout)
	}
}

// TestValidateNothing: inputs without one resource of a pipeline's kinds
// (the mapping file itself, an empty directory, only Deployments) fail,
// saying nothing was validated; --allow-empty passes them.
func TestValidateNothing(t *testing.T) {
	empty := t.TempDir()
	deployments := filepath.Join(t.TempDir(), "deploy.yaml")
	if err := os.WriteFile(deployments, []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"examples/single-service.yaml", empty, deployments} {
		_, stderr, code := run(t, "", "validate", path)
		if code != exitFailure || !strings.Contains(stderr, "Error: nothing validated: ") {
			t.Errorf("%s: exit %d, %q", path, code, stderr)
		}
		if _, stderr, code := run(t, "", "validate", "--allow-empty", path); code != 0 {
			t.Errorf("%s --allow-empty: exit %d, %q", path, code, stderr)
		}
	}
}

// TestValidateExternalEventSource: a Sensor whose EventSource is not among
// the inputs fails, and with --allow-external passes with a note, as a
// missing ServiceAccount does.
func TestValidateExternalEventSource(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pipeline")
	if _, stderr, code := run(t, "", "generate", "-f", "examples/single-service.yaml", "--output-dir", dir); code != 0 {
		t.Fatal(stderr)
	}
	matches, err := filepath.Glob(filepath.Join(dir, "*-eventsource-*.yaml"))
	if err != nil || len(matches) != 1 {
		t.Fatalf("EventSource files %v, %v", matches, err)
	}
	if err := os.Remove(matches[0]); err != nil {
		t.Fatal(err)
	}
	stdout, _, code := run(t, "", "validate", dir)
	if code != exitFailure || !strings.Contains(stdout, `EventSource "shop" not found in namespace "argo-events" [cross]`) {
		t.Errorf("without --allow-external: exit %d\n%s", code, stdout)
	}
	stdout, _, code = run(t, "", "validate", "--allow-external", dir)
	if code != 0 || !strings.Contains(stdout, `note: spec.dependencies[0].eventSourceName: EventSource "shop" is not among the inputs`) {
		t.Errorf("with --allow-external: exit %d\n%s", code, stdout)
	}
}
