package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeFirstRun runs the README's "First run" commands in order in an
// empty directory: each argodeploy command in-process, a pipe from one
// argodeploy command into the next, and kubectl apply -k as the kustomize
// build it sends. A pipe into kubectl apply -f - runs its argodeploy side
// (the e2e suite applies generated manifests to a real apiserver).
func TestReadmeFirstRun(t *testing.T) {
	lines := readmeBlock(t, "## First run")
	if len(lines) < 4 {
		t.Fatalf("README's First run has %d commands: %q", len(lines), lines)
	}
	dir := t.TempDir()
	t.Chdir(dir)
	ran := 0
	for _, line := range lines {
		var in []byte
		for i, stage := range strings.Split(line, " | ") {
			words := strings.Fields(stage)
			switch {
			case words[0] == "argodeploy":
				var out, errOut bytes.Buffer
				if code := execute(words[1:], bytes.NewReader(in), &out, &errOut); code != 0 {
					t.Fatalf("%s: stage %d exit %d\n%s%s", line, i, code, out.String(), errOut.String())
				}
				in = out.Bytes()
				ran++
			case strings.HasPrefix(stage, "kubectl apply -f -"):
				if !bytes.Contains(in, []byte("kind: Sensor")) {
					t.Errorf("%s: kubectl would be given no Sensor:\n%s", line, in)
				}
			case strings.HasPrefix(stage, "kubectl apply -k "):
				out, err := exec.Command("kubectl", "kustomize", words[3]).CombinedOutput()
				if err != nil || !bytes.Contains(out, []byte("kind: Sensor")) {
					t.Errorf("%s: kubectl kustomize %s: %v\n%s", line, words[3], err, out)
				}
			default:
				t.Fatalf("%s: the test does not know how to run %q", line, stage)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "mapping.yaml")); err != nil || ran < 4 {
		t.Errorf("ran %d argodeploy commands; mapping.yaml: %v", ran, err)
	}
}

// readmeBlock returns the commands of the first indented code block after
// heading in README.md: comments dropped, continuation lines joined.
func readmeBlock(t *testing.T, heading string) []string {
	t.Helper()
	data, err := os.ReadFile(repoPath("README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(data), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("README.md has no %q", heading)
	}
	var cmds []string
	var current string
	inBlock := false
	for _, line := range strings.Split(after, "\n") {
		code, isCode := strings.CutPrefix(line, "    ")
		if !isCode {
			if inBlock && line == "" {
				continue
			}
			if inBlock {
				break
			}
			continue
		}
		inBlock = true
		if strings.HasPrefix(strings.TrimSpace(code), "#") {
			continue
		}
		if i := strings.Index(code, "   #"); i >= 0 {
			code = code[:i]
		}
		code = strings.TrimSpace(code)
		if cont, ok := strings.CutSuffix(code, "\\"); ok {
			current += cont
			continue
		}
		cmds = append(cmds, current+code)
		current = ""
	}
	return cmds
}
