package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
	var hooks []precommitHook
	parse(t, ".pre-commit-hooks.yaml", &hooks)
	used := map[string]bool{}
	for _, r := range precommit.Repos {
		for _, h := range r.Hooks {
			i := slices.IndexFunc(hooks, func(d precommitHook) bool { return d.ID == h.ID })
			// The hooks work on directories, never on the files pre-commit
			// would append.
			if i < 0 || hooks[i].PassFilenames == nil || *hooks[i].PassFilenames {
				t.Fatalf("hook %q does not match .pre-commit-hooks.yaml %+v", h.ID, hooks)
			}
			used[h.ID] = true
			commands["pre-commit-config.yaml"] = append(commands["pre-commit-config.yaml"], hooks[i].Entry+" "+strings.Join(h.Args, " "))
		}
	}
	for _, h := range hooks {
		if !used[h.ID] {
			t.Errorf("hook %q of .pre-commit-hooks.yaml is not in examples/ci/pre-commit-config.yaml", h.ID)
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
				// What apply -k would send: the kustomization must build,
				// and --prune must be limited to the pipeline's objects, of
				// every kind it writes (a label every object carries).
				args := strings.Fields(strings.TrimPrefix(line, "kubectl apply -k "))
				out, err := exec.Command("kubectl", "kustomize", filepath.Join(repo, args[0])).CombinedOutput()
				if err != nil || !bytes.Contains(out, []byte("kind: Sensor")) {
					t.Errorf("%s: %s: %v\n%s", file, line, err, out)
				}
				checkPrune(t, file, args[1:], out)
			}
		}
	}
	for _, file := range []string{"github-actions.yaml", "gitlab-ci.yaml", "pre-commit-config.yaml"} {
		if ran[file] == 0 {
			t.Errorf("%s: no argodeploy command found", file)
		}
	}
}

// precommitHook is a hook as .pre-commit-hooks.yaml defines it.
type precommitHook struct {
	ID            string
	Entry         string
	PassFilenames *bool `yaml:"pass_filenames"`
}

// runIn runs one argodeploy command line from dir: words split on spaces,
// an output redirection dropped. It must exit 0. It runs in-process, or
// the binary $ARGODEPLOY_BIN when set (make release-check: the released
// binary).
func runIn(t *testing.T, dir, line string) {
	t.Helper()
	if i := strings.Index(line, " >"); i >= 0 {
		line = line[:i]
	}
	t.Chdir(dir)
	args := strings.Fields(line)[1:]
	if bin := os.Getenv("ARGODEPLOY_BIN"); bin != "" {
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %s: %v\n%s", bin, line, err, out)
		}
		return
	}
	var out, errOut bytes.Buffer
	if code := execute(args, strings.NewReader(""), &out, &errOut); code != 0 {
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

// checkPrune checks the flags of a kubectl apply --prune against what it
// applies: a -l selector that every object matches, with the pipeline's
// name (the variable $PIPELINE stands for it), and an allowlist entry for
// every kind.
func checkPrune(t *testing.T, file string, flags []string, manifests []byte) {
	t.Helper()
	allow := map[string]bool{}
	selector := ""
	prune := false
	for i, f := range flags {
		switch {
		case f == "--prune":
			prune = true
		case f == "-l" && i+1 < len(flags):
			selector = strings.ReplaceAll(flags[i+1], "$PIPELINE", "platform")
		case strings.HasPrefix(f, "--prune-allowlist="):
			allow[strings.TrimPrefix(f, "--prune-allowlist=")] = true
		}
	}
	if !prune || selector != "app.kubernetes.io/part-of=platform" {
		t.Errorf("%s: apply -k without --prune -l app.kubernetes.io/part-of=NAME: %v", file, flags)
		return
	}
	dec := yaml.NewDecoder(bytes.NewReader(manifests))
	for {
		var obj struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string
			Metadata   struct{ Labels map[string]string }
		}
		if err := dec.Decode(&obj); err != nil {
			break
		}
		gv := obj.APIVersion
		if !strings.Contains(gv, "/") {
			gv = "core/" + gv
		}
		if !allow[gv+"/"+obj.Kind] {
			t.Errorf("%s: --prune-allowlist lacks %s/%s", file, gv, obj.Kind)
		}
		if obj.Metadata.Labels["app.kubernetes.io/part-of"] != "platform" {
			t.Errorf("%s: a %s is not labelled app.kubernetes.io/part-of=platform", file, obj.Kind)
		}
	}
}
