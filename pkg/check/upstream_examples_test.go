package check_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/argodeploy/argodeploy/pkg/check"
	"github.com/argodeploy/argodeploy/pkg/manifest"
	"github.com/argodeploy/argodeploy/pkg/testcorpus"
)

var update = flag.Bool("update", false, "rewrite testdata/upstream-examples.txt")

// exampleFiles is testcorpus.ExampleFiles, failing t on an error.
func exampleFiles(t *testing.T, module string) map[string][]manifest.Doc {
	t.Helper()
	files, err := testcorpus.ExampleFiles(module)
	if err != nil {
		t.Error(err)
	}
	return files
}

func isTemplate(kind string) bool {
	return kind == "WorkflowTemplate" || kind == "ClusterWorkflowTemplate"
}

// TestUpstreamExamples runs the decode, upstream and local checks on every
// example manifest shipped in the pinned argo-events and argo-workflows
// modules, each file on its own, with the module's WorkflowTemplates and
// ClusterWorkflowTemplates from other files at hand for templateRefs (the
// examples are meant to be applied together with those). The cross-resource
// and access checks, which need a whole pipeline, are not run. The findings
// must be exactly those in testdata/upstream-examples.txt, each a real
// mistake in the example: a new false positive and a mistake no longer
// found both fail.
func TestUpstreamExamples(t *testing.T) {
	var findings []string
	files := 0
	for _, module := range testcorpus.ArgoModules {
		examples := exampleFiles(t, module)
		for _, name := range sortedNames(examples) {
			files++
			var objs []runtime.Object
			own := map[string]bool{}
			for _, d := range examples[name] {
				objs = append(objs, d.Object)
				own[d.Object.GetKind()+"/"+d.Object.GetName()] = true
			}
			borrowed := map[string]bool{}
			for _, other := range sortedNames(examples) {
				for _, d := range examples[other] {
					k := d.Object.GetKind() + "/" + d.Object.GetName()
					if other != name && isTemplate(d.Object.GetKind()) && !own[k] && !borrowed[k] {
						objs = append(objs, d.Object)
						borrowed[k] = true
					}
				}
			}
			results := check.Upstream(context.Background(), objs)
			results = append(results, check.Local(objs)...)
			for _, r := range results {
				if r.Err == nil || borrowed[r.Kind+"/"+r.Name] {
					continue
				}
				for _, line := range strings.Split(r.Err.Error(), "\n") {
					findings = append(findings, fmt.Sprintf("%s: %s/%s: %s: %s", name, r.Kind, r.Name, r.Validator, line))
				}
			}
		}
	}
	sort.Strings(findings)
	if files < 300 {
		t.Fatalf("only %d example files found", files)
	}
	got := strings.Join(findings, "\n") + "\n"
	const golden = "testdata/upstream-examples.txt"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("findings on the upstream examples differ from %s:\n%s", golden, got)
	}
}

func sortedNames(m map[string][]manifest.Doc) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
