package manifest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestParseSplitsDocumentsAndKeepsTheirLines(t *testing.T) {
	data := "# leading comment\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n---\n# empty above\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: b\n"
	docs, err := Parse("in.yaml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range docs {
		got = append(got, d.Object.GetKind()+"/"+d.Object.GetName()+"@"+d.File+":"+strconv.Itoa(d.Line))
	}
	want := "ConfigMap/a@in.yaml:2 ServiceAccount/b@in.yaml:9"
	if strings.Join(got, " ") != want {
		t.Fatalf("got %v, want %s", got, want)
	}
}

func TestParseRejectsWhatIsNotAnObject(t *testing.T) {
	for name, data := range map[string]string{
		"list":       "- a\n- b\n",
		"syntax":     "kind: [\n",
		"scalar":     "just text\n",
		"alias loop": "kind: K\nmetadata: &m {x: [*m]}\n",
		"bad merge":  "kind: K\nmetadata: {<<: [1]}\n",
	} {
		if _, err := Parse("in.yaml", []byte(data)); err == nil || !strings.HasPrefix(err.Error(), "in.yaml") {
			t.Errorf("%s: error %v, want one naming in.yaml", name, err)
		}
	}
}

func TestPositionFindsNestedFields(t *testing.T) {
	data := "apiVersion: argoproj.io/v1alpha1\nkind: Sensor\nmetadata:\n  name: s\nspec:\n  triggers:\n    - template:\n        name: a\n    - retryStrategyy:\n        steps: 3\n"
	docs, err := Parse("s.yaml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		path      string
		line, col int
	}{
		{"spec.triggers[1].retryStrategyy", 9, 7},
		{"spec.triggers[0].template.name", 8, 9},
		{"spec.triggers[0].template.nope", 7, 7},
		{"spec", 5, 1},
		{"nope", 1, 1},
	}
	for _, tc := range cases {
		line, col := docs[0].Position(tc.path)
		if line != tc.line || col != tc.col {
			t.Errorf("Position(%q) = %d:%d, want %d:%d", tc.path, line, col, tc.line, tc.col)
		}
	}
}

func TestSplitPath(t *testing.T) {
	for path, want := range map[string]string{
		"spec.triggers[0].template.name":                 "spec|triggers|0|template|name",
		`metadata.annotations["example.com/wave"]`:       "metadata|annotations|example.com/wave",
		`data["a\"]b"].x`:                                `data|a"]b|x`,
		"spec.templates[0].steps[1][2].name":             "spec|templates|0|steps|1|2|name",
		`spec.pubSub.artifact-registry.credentialSecret`: "spec|pubSub|artifact-registry|credentialSecret",
		"": "",
	} {
		if got := strings.Join(splitPath(path), "|"); got != want {
			t.Errorf("splitPath(%q) = %q, want %q", path, got, want)
		}
	}
}

// TestParseFollowsAliases: anchors, aliases and merge keys read as kubectl
// reads them.
func TestParseFollowsAliases(t *testing.T) {
	data := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels: &l {app: x}\n  annotations:\n    <<: *l\n    note: n1\ndata: {k: v}\n"
	docs, err := Parse("in.yaml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	meta := docs[0].Object
	if meta.GetLabels()["app"] != "x" || meta.GetAnnotations()["app"] != "x" || meta.GetAnnotations()["note"] != "n1" {
		t.Errorf("labels %v, annotations %v", meta.GetLabels(), meta.GetAnnotations())
	}
}

// TestReadInFileOrder: Read reads files on every CPU, and gives their
// documents, and the first error, in the order the files are named; it
// reads stdin when named.
func TestReadInFileOrder(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	a := write("a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n")
	b := write("b.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n")
	bad1 := write("bad1.yaml", "kind: [\n")
	bad2 := write("bad2.yaml", "- not an object\n")
	docs, err := Read([]string{b, a}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range docs {
		got = append(got, d.Object.GetName())
	}
	if strings.Join(got, " ") != "b a" {
		t.Errorf("read %v, want b then a", got)
	}
	if _, err := Read([]string{a, bad2, bad1}, nil); err == nil || !strings.Contains(err.Error(), "bad2.yaml") {
		t.Errorf("error %v, want the one of bad2.yaml, named first", err)
	}
	if docs, err := Read([]string{Stdin}, strings.NewReader("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: in\n")); err != nil || len(docs) != 1 {
		t.Errorf("stdin: %d docs, %v", len(docs), err)
	}
}

// ReadCounted hands each document over as it is parsed: every document it
// returns, once, with its place, from files read on several goroutines.
func TestReadCountedHandsEachDocument(t *testing.T) {
	dir := t.TempDir()
	var want []string
	for f := range 5 {
		var data strings.Builder
		for d := range 20 {
			name := "cm-" + strconv.Itoa(f) + "-" + strconv.Itoa(d)
			data.WriteString("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n")
			want = append(want, name)
		}
		if err := os.WriteFile(filepath.Join(dir, "f"+strconv.Itoa(f)+".yaml"), []byte(data.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	seen := map[string]Doc{}
	docs, err := ReadCounted([]string{dir}, nil, nil, func(d Doc) {
		mu.Lock()
		defer mu.Unlock()
		if _, twice := seen[d.Object.GetName()]; twice {
			t.Errorf("%s handed twice", d.Object.GetName())
		}
		seen[d.Object.GetName()] = d
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range docs {
		got = append(got, d.Object.GetName())
		if h, ok := seen[d.Object.GetName()]; !ok || h.Object != d.Object || h.File != d.File || h.Line != d.Line {
			t.Errorf("%s at %s:%d handed as %+v", d.Object.GetName(), d.File, d.Line, h)
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") || len(seen) != len(want) {
		t.Errorf("read %v, handed %d, want %v", got, len(seen), want)
	}
}
