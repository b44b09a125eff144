package preload

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/argodeploy/argodeploy/pkg/manifest"
	"github.com/argodeploy/argodeploy/pkg/mapping"
)

func TestPlanFor(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want Plan
	}{
		{nil, Plan{}},
		{[]string{"--help"}, Plan{}},
		{[]string{"version"}, Plan{}},
		{[]string{"generate", "-f", "m.yaml"}, Plan{Mappings: []string{"m.yaml"}}},
		{[]string{"generate", "--filename", "m.yaml", "-o", "json"}, Plan{Mappings: []string{"m.yaml"}}},
		{[]string{"generate", "--filename=m.yaml"}, Plan{Mappings: []string{"m.yaml"}}},
		{[]string{"generate", "-fm.yaml"}, Plan{Mappings: []string{"m.yaml"}}},
		{[]string{"generate", "-f=m.yaml"}, Plan{Mappings: []string{"m.yaml"}}},
		{[]string{"generate", "-f"}, Plan{}},
		{[]string{"generate", "--", "-f", "m.yaml"}, Plan{}},
		{[]string{"simulate", "-f", "m.yaml", "push.json"}, Plan{Mappings: []string{"m.yaml"}}},
		{[]string{"graph", "-f", "m.yaml"}, Plan{}},
		{[]string{"validate", "a.yaml", "dir"}, Plan{Manifests: []string{"a.yaml", "dir"}}},
		{
			[]string{"validate", "-o", "json", "a.yaml", "--mapping", "m.yaml", "--allow-external", "b.yaml", "--max-object-bytes", "90000", "--output=junit", "--", "-c.yaml"},
			Plan{Manifests: []string{"a.yaml", "b.yaml", "-c.yaml"}},
		},
	} {
		if got := PlanFor(tt.args); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("PlanFor(%q) = %+v, want %+v", tt.args, got, tt.want)
		}
	}
}

// TestTakeMatchesLoad: what start and take give is what the command's own
// reading gives, errors included, once; a changed file and a file start
// did not read are not given.
func TestTakeMatchesLoad(t *testing.T) {
	for _, path := range []string{
		"../../../../testdata/mappings/good/full.yaml",
		"../../../../testdata/mappings/bad/alias.yaml",
		"../../../../testdata/mappings/bad/backoff_over_max.yaml",
	} {
		want, wantErr := mapping.Load(path)
		p := start(path, mapping.Parse)
		got, err, ok := p.take(path)
		if !ok || !reflect.DeepEqual(got, want) || errString(err) != errString(wantErr) {
			t.Errorf("%s: take = %v, %v, %v; mapping.Load = %v, %v", path, got, err, ok, want, wantErr)
		}
		if wantErr == nil && want == nil {
			t.Errorf("%s: mapping.Load gave nothing", path)
		}
		if _, _, ok := p.take(path); ok {
			t.Errorf("%s: taken twice", path)
		}
	}

	const example = "../../../../testdata/examples/single-service.yaml"
	want, err := manifest.Read([]string{example}, nil)
	if err != nil || len(want) == 0 {
		t.Fatalf("manifest.Read: %d docs, %v", len(want), err)
	}
	got, err, ok := start(example, manifest.Parse).take(example)
	if !ok || err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("manifests: take = %d docs, %v, %v; manifest.Read = %d docs", len(got), err, ok, len(want))
	}

	changed := filepath.Join(t.TempDir(), "changed.yaml")
	data, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(changed, data, 0o644); err != nil {
		t.Fatal(err)
	}
	p := start(changed, manifest.Parse)
	<-p.done
	if err := os.WriteFile(changed, append(data, "\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := p.take(changed); ok {
		t.Error("a file that changed after it was read was taken")
	}

	var none *parsed[[]manifest.Doc]
	if _, _, ok := none.take(example); ok {
		t.Error("a file never read was taken")
	}
}

// TestStartReadsOnlyRegularFiles: a pipe's bytes belong to the command.
func TestStartReadsOnlyRegularFiles(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	if p := start(fifo, manifest.Parse); p != nil {
		t.Error("start read a FIFO")
	}
	if p := start(t.TempDir(), manifest.Parse); p != nil {
		t.Error("start read a directory")
	}
	if p := start(filepath.Join(t.TempDir(), "missing.yaml"), manifest.Parse); p != nil {
		t.Error("start read a missing file")
	}
}

// childEnv holds, in a child process of TestInit, the file it was given.
const childEnv = "PRELOAD_TEST_CHILD"

// TestInit runs this package's init in a child process, as the binary runs
// it: the child's arguments name a command and its files, as a user's do.
func TestInit(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		return // a child: TestInitChild does the work
	}
	mappingFile, _ := filepath.Abs("../../../../testdata/mappings/good/full.yaml")
	example, _ := filepath.Abs("../../../../testdata/examples/single-service.yaml")
	for _, args := range [][]string{
		{"generate", "-f", mappingFile},
		{"validate", "-o", "json", example},
	} {
		cmd := exec.Command(os.Args[0], append([]string{"-test.run=^TestInitChild$", "-test.v", "-test.cpu=2"}, args...)...)
		cmd.Env = append(os.Environ(), childEnv+"="+args[len(args)-1], "GOMAXPROCS=2")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestInitChild") {
			t.Errorf("child with %q: %v\n%s", args, err, out)
		}
	}
}

// TestInitChild checks, in a child process TestInit started, that init
// read the file its arguments named, and nothing else.
func TestInitChild(t *testing.T) {
	file := os.Getenv(childEnv)
	if file == "" {
		t.Skip("run by TestInit in a child process")
	}
	if len(mappings)+len(manifests) != 1 {
		t.Fatalf("init read %d mappings and %d manifests, want one file", len(mappings), len(manifests))
	}
	deadline := time.After(time.Minute)
	for _, done := range []chan struct{}{doneOf(mappings[file]), doneOf(manifests[file])} {
		select {
		case <-done:
		case <-deadline:
			t.Fatal("init's read did not finish")
		}
	}
	if m, err, ok := mappings[file].take(file); mappings[file] != nil && (!ok || err != nil || m == nil) {
		t.Errorf("mapping: %v, %v, %v", m, err, ok)
	}
	if docs, err, ok := manifests[file].take(file); manifests[file] != nil && (!ok || err != nil || len(docs) == 0) {
		t.Errorf("manifests: %d docs, %v, %v", len(docs), err, ok)
	}
}

// doneOf is p's done channel, or a closed one when p is nil.
func doneOf[T any](p *parsed[T]) chan struct{} {
	if p == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return p.done
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
