package main

import (
	"strings"
	"testing"
)

// TestGraphExamples pins the Mermaid and DOT drawings of every example in
// testdata/graph, and checks that manifests give the same drawing as
// their mapping.
func TestGraphExamples(t *testing.T) {
	for _, example := range []string{"single-service", "multi-namespace", "multi-cluster"} {
		for format, ext := range map[string]string{"mermaid": ".mmd", "dot": ".dot"} {
			stdout, stderr, code := run(t, "", "graph", "-f", "examples/"+example+".yaml", "-o", format)
			if code != 0 {
				t.Fatalf("%s %s: exit %d: %s", example, format, code, stderr)
			}
			golden(t, "testdata/graph/"+example+ext, stdout)
			fromManifests, _, code := run(t, "", "graph", "--manifests", "testdata/examples/"+example+".yaml", "-o", format)
			if code != 0 || fromManifests != stdout {
				t.Errorf("%s %s: the manifests draw differently from the mapping:\n%s", example, format, fromManifests)
			}
		}
	}
	// Every service of the multi-namespace example is one labelled edge
	// from the WorkflowTemplate, prefix-sharing images apart, and the one
	// Sensor has one edge to it.
	out, _, _ := run(t, "", "graph", "-f", "examples/multi-namespace.yaml")
	for _, service := range []string{"api", "api-worker", "api-worker-batch", "api-staging", "docs"} {
		if !strings.Contains(out, `wt_argo_events__platform_rollout -- "`+service+" (") {
			t.Errorf("no edge for %s:\n%s", service, out)
		}
	}
	if n := strings.Count(out, "sensor_argo_events__platform -- "); n != 1 {
		t.Errorf("%d edges from the Sensor, want 1:\n%s", n, out)
	}
	if _, _, code := run(t, "", "graph", "-f", "examples/single-service.yaml", "-o", "png"); code != exitUsage {
		t.Errorf("-o png: exit %d, want %d", code, exitUsage)
	}
	if _, _, code := run(t, "", "graph"); code != exitUsage {
		t.Errorf("no pipeline: exit %d, want %d", code, exitUsage)
	}
}
