package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestHelpExamplesWork pastes every argodeploy command of every command's
// --help examples into a scratch repository, in a user's order (init
// first, then generate, then the rest), and asks each to exit 0. A pipe
// into kubectl or dot checks the argodeploy side; a redirection is dropped.
func TestHelpExamplesWork(t *testing.T) {
	repo := t.TempDir()
	for from, to := range map[string]string{
		"examples/single-service.yaml":                 "examples/single-service.yaml",
		"examples/multi-namespace.yaml":                "examples/multi-namespace.yaml",
		"examples/multi-cluster.yaml":                  "examples/multi-cluster.yaml",
		"examples/multi-namespace.yaml#big":            "big.yaml",
		"testdata/simulate/single-service.jsonl":       "messages.json",
		"testdata/simulate/single-service.jsonl#lines": "messages.jsonl",
		"testdata/simulate/gcloud-pull.json":           "pulled.json",
	} {
		data, err := os.ReadFile(repoPath(strings.Split(from, "#")[0]))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(repo, filepath.Dir(to)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(repo, to), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root := newRootCommand(streams{})
	ran := 0
	for _, name := range []string{"init", "generate", "validate", "simulate", "graph", "version", "schema"} {
		cmd, _, err := root.Find([]string{name})
		if err != nil {
			t.Fatal(err)
		}
		lines := exampleLines(cmd)
		if len(lines) == 0 {
			t.Errorf("%s --help has no example", name)
		}
		for _, line := range lines {
			runPipeline(t, repo, line)
			ran++
		}
	}
	t.Logf("%d examples ran", ran)
}

// exampleLines are the command lines of a command's examples, continuation
// lines joined, comments dropped.
func exampleLines(cmd *cobra.Command) []string {
	var lines []string
	joined := strings.ReplaceAll(cmd.Example, "\\\n", " ")
	for _, line := range strings.Split(joined, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") && strings.Contains(line, "argodeploy ") {
			lines = append(lines, line)
		}
	}
	return lines
}

// runPipeline runs the argodeploy stages of a shell pipeline from dir.
func runPipeline(t *testing.T, dir, line string) {
	t.Helper()
	t.Chdir(dir)
	var stdin []byte
	for _, stage := range strings.Split(line, " | ") {
		if i := strings.Index(stage, " >"); i >= 0 {
			stage = stage[:i]
		}
		words := shellWords(stage)
		switch words[0] {
		case "cat":
			data, err := os.ReadFile(words[1])
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			stdin = data
			continue
		case "argodeploy":
		default:
			return // kubectl, dot, gcloud: not ours to run
		}
		var out, errOut bytes.Buffer
		if code := execute(words[1:], bytes.NewReader(stdin), &out, &errOut); code != 0 {
			t.Fatalf("%s: exit %d\n%s", line, code, errOut.String())
		}
		stdin = out.Bytes()
	}
}

// shellWords splits a command line into words as a POSIX shell would for
// the examples' needs: blanks separate, single and double quotes group.
func shellWords(s string) []string {
	var words []string
	var word strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			word.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		default:
			word.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, word.String())
	}
	return words
}
