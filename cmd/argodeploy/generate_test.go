package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files from the current output")

// repoRoot is where the tests run the CLI from, so that file names in
// output and errors read as they would for a user at the top of a checkout.
const repoRoot = "../.."

// packageDir is where `go test` started, before any test changed directory.
var packageDir, _ = os.Getwd()

// repoPath turns a path relative to the repository root into an absolute one.
func repoPath(p string) string { return filepath.Join(packageDir, repoRoot, p) }

// run executes the CLI from the repository root and returns its streams.
func run(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	t.Chdir(repoPath("."))
	var out, errOut bytes.Buffer
	code = execute(args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), code
}

// golden compares got with the file at path (relative to the repository
// root), or rewrites the file under -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	path = repoPath(path)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run `make golden` to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run `make golden` and review the diff):\n%s", path, firstDifference(string(want), got))
	}
}

// firstDifference shows the first line where want and got part.
func firstDifference(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + wl + "\n  got:  " + gl
		}
	}
	return "(same lines, different bytes)"
}

// TestGenerateExamples pins the output of every example: the golden files
// under testdata/examples are the review surface of any change to it.
func TestGenerateExamples(t *testing.T) {
	examples, err := filepath.Glob(repoPath("examples/*.yaml"))
	if err != nil || len(examples) < 3 {
		t.Fatalf("want at least 3 examples, found %d (%v)", len(examples), err)
	}
	for _, example := range examples {
		name := strings.TrimSuffix(filepath.Base(example), ".yaml")
		t.Run(name, func(t *testing.T) {
			stdout, stderr, code := run(t, "", "generate", "-f", "examples/"+name+".yaml")
			if code != 0 || stderr != "" {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr)
			}
			golden(t, "testdata/examples/"+name+".yaml", stdout)
			again, _, _ := run(t, "", "generate", "-f", "examples/"+name+".yaml")
			if again != stdout {
				t.Fatal("second run gave different bytes")
			}
		})
	}
}

func TestGenerate(t *testing.T) {
	single, err := os.ReadFile(repoPath("examples/single-service.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		args     []string
		stdin    string
		wantExit int
		golden   string // file holding the expected stdout, or stderr when wantExit != 0
	}{
		{name: "json", args: []string{"generate", "-f", "examples/single-service.yaml", "-o", "json"}, golden: "testdata/output/generate-json.json"},
		{name: "stdin", args: []string{"generate", "-f", "-"}, stdin: string(single), golden: "testdata/examples/single-service.yaml"},
		{name: "bad mapping", args: []string{"generate", "-f", "testdata/mappings/bad/unknown_field.yaml"}, wantExit: 1, golden: "testdata/output/generate-bad-mapping.txt"},
		{name: "missing file", args: []string{"generate", "-f", "examples/nope.yaml"}, wantExit: 1, golden: "testdata/output/generate-missing-file.txt"},
		{name: "no filename", args: []string{"generate"}, wantExit: 2, golden: "testdata/output/generate-no-filename.txt"},
		{name: "bad format", args: []string{"generate", "-f", "examples/single-service.yaml", "-o", "xml"}, wantExit: 2, golden: "testdata/output/generate-bad-format.txt"},
		{name: "unknown flag", args: []string{"generate", "--fillename", "x"}, wantExit: 2, golden: "testdata/output/generate-unknown-flag.txt"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := run(t, tc.stdin, tc.args...)
			if code != tc.wantExit {
				t.Fatalf("exit %d, want %d\nstderr:\n%s", code, tc.wantExit, stderr)
			}
			if tc.wantExit == 0 {
				golden(t, tc.golden, stdout)
				return
			}
			if stdout != "" {
				t.Errorf("a failed run wrote to stdout:\n%s", stdout)
			}
			golden(t, tc.golden, stderr)
		})
	}
}

func TestGenerateOutputDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pipeline")
	_, stderr, code := run(t, "", "generate", "-f", "examples/multi-namespace.yaml", "--output-dir", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	golden(t, "testdata/output/generate-output-dir.txt", strings.Join(names, "\n")+"\n")

	before := snapshot(t, dir)
	_, stderr, code = run(t, "", "generate", "-f", "testdata/mappings/bad/unknown_field.yaml", "--output-dir", dir)
	if code != 1 || stderr == "" {
		t.Fatalf("bad mapping: exit %d, stderr %q", code, stderr)
	}
	if after := snapshot(t, dir); after != before {
		t.Fatal("a failed run changed the output directory")
	}
}

// snapshot is every file name and content of a directory, in one string.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(e.Name() + "\n" + string(data))
	}
	return b.String()
}
