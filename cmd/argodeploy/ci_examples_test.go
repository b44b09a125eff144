package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

// TestCIExamples parses examples/ci (a GitHub Actions workflow, a GitLab CI
// file, a pre-commit config), runs every argodeploy command in them against
// a repository laid out as they expect, and builds what their kubectl
// apply -k would apply.
func TestCIExamples(t *testing.T) {
	repo := t.TempDir()
	if err := os.MkdirAll(filepath.Join(repo, "deploy"), 0o755); err != nil {
		t.Fatal(err)
	}
	mappingYAML, err := os.ReadFile(repoPath("examples/multi-namespace.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "deploy/mapping.yaml"), mappingYAML, 0o644); err != nil {
		t.Fatal(err)
	}
	runIn(t, repo, "argodeploy generate -f deploy/mapping.yaml --output-dir deploy/pipeline")

	commands := map[string][]string{}
	var workflow struct {
		Jobs map[string]struct {
			Steps []struct{ Run string }
		}
	}
	parse(t, "examples/ci/github-actions.yaml", &workflow)
	for _, job := range workflow.Jobs {
		for _, step := range job.Steps {
			commands["github-actions.yaml"] = append(commands["github-actions.yaml"], strings.Split(step.Run, "\n")...)
		}
	}
	var gitlab map[string]any
	parse(t, "examples/ci/gitlab-ci.yaml", &gitlab)
	for _, job := range gitlab {
		if m, ok := job.(map[string]any); ok {
			for _, line := range asList(m["script"]) {
				commands["gitlab-ci.yaml"] = append(commands["gitlab-ci.yaml"], line.(string))
			}
		}
	}
	var precommit struct {
		Repos []struct {
			Hooks []struct {
				ID   string
				Args []string
			}
		}
	}
	parse(t, "examples/ci/pre-commit-config.yaml", &precommit)
	var hooks []struct {
		ID            string
		Entry         string
		PassFilenames *bool `yaml:"pass_filenames"`
	}
	parse(t, ".pre-commit-hooks.yaml", &hooks)
	for _, r := range precommit.Repos {
		for _, h := range r.Hooks {
			if len(hooks) != 1 || h.ID != hooks[0].ID || hooks[0].PassFilenames == nil || *hooks[0].PassFilenames {
				t.Fatalf("hook %q does not match .pre-commit-hooks.yaml %+v", h.ID, hooks)
			}
			commands["pre-commit-config.yaml"] = append(commands["pre-commit-config.yaml"], hooks[0].Entry+" "+strings.Join(h.Args, " "))
		}
	}

	ran := map[string]int{}
	for file, lines := range commands {
		for _, line := range lines {
			line = strings.TrimSpace(line)
			switch {
			case strings.HasPrefix(line, "argodeploy "):
				runIn(t, repo, line)
				ran[file]++
			case strings.HasPrefix(line, "kubectl apply -k "):
				// What apply -k would send: the kustomization must build.
				out, err := exec.Command("kubectl", "kustomize", filepath.Join(repo, strings.TrimPrefix(line, "kubectl apply -k "))).CombinedOutput()
				if err != nil || !bytes.Contains(out, []byte("kind: Sensor")) {
					t.Errorf("%s: %s: %v\n%s", file, line, err, out)
				}
			}
		}
	}
	for _, file := range []string{"github-actions.yaml", "gitlab-ci.yaml", "pre-commit-config.yaml"} {
		if ran[file] == 0 {
			t.Errorf("%s: no argodeploy command found", file)
		}
	}
}

// runIn runs one argodeploy command line from dir: words split on spaces,
// an output redirection dropped. It must exit 0.
func runIn(t *testing.T, dir, line string) {
	t.Helper()
	if i := strings.Index(line, " >"); i >= 0 {
		line = line[:i]
	}
	t.Chdir(dir)
	var out, errOut bytes.Buffer
	if code := execute(strings.Fields(line)[1:], strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("%s: exit %d\n%s%s", line, code, out.String(), errOut.String())
	}
}

func parse(t *testing.T, file string, into any) {
	t.Helper()
	data, err := os.ReadFile(repoPath(file))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, into); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}
