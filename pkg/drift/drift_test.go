package drift

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/argodeploy/argodeploy/pkg/output"
)

func objects() []output.Object {
	cm := func(name, value string) output.Object {
		return &corev1.ConfigMap{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"},
			Data:       map[string]string{"key": value},
		}
	}
	return []output.Object{cm("a", "1"), cm("b", "2")}
}

func TestCompareDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	if err := output.Dir(dir, objects()); err != nil {
		t.Fatal(err)
	}
	if diffs, err := Compare(dir, objects()); err != nil || len(diffs) != 0 {
		t.Fatalf("fresh output: diffs %v, err %v", diffs, err)
	}

	file := filepath.Join(dir, "01-configmap-ns-a.yaml")
	data, _ := os.ReadFile(file)
	if err := os.WriteFile(file, bytes.Replace(data, []byte(`key: "1"`), []byte(`key: "9"`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "02-configmap-ns-b.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "extra.yml"), []byte("kind: ConfigMap\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	diffs, err := Compare(dir, objects())
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		file, diff, stat string
	}{
		{"01-configmap-ns-a.yaml", "-  key: \"9\"\n+  key: \"1\"\n", " | +1 -1"},
		{"02-configmap-ns-b.yaml", "--- /dev/null\n+++ " + filepath.Join(dir, "02-configmap-ns-b.yaml") + " (generated)\n@@ -0,0 +1,8 @@\n", " | +8 -0"},
		{"extra.yml", "+++ /dev/null\n@@ -1 +0,0 @@\n-kind: ConfigMap\n", " | +0 -1"},
	}
	if len(diffs) != len(want) {
		t.Fatalf("got %d diffs, want %d: %+v", len(diffs), len(want), diffs)
	}
	for i, w := range want {
		if filepath.Base(diffs[i].File) != w.file || !strings.Contains(diffs[i].Diff, w.diff) {
			t.Errorf("diff %d: got %s\n%s\nwant %s containing\n%s", i, diffs[i].File, diffs[i].Diff, w.file, w.diff)
		}
		if got := diffs[i].Stat(); got != diffs[i].File+w.stat {
			t.Errorf("diff %d: stat %q, want %q", i, got, diffs[i].File+w.stat)
		}
	}
}

func TestCompareFile(t *testing.T) {
	for _, name := range []string{"all.yaml", "all.json"} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			var err error
			if strings.HasSuffix(name, ".json") {
				err = output.JSON(&buf, objects())
			} else {
				err = output.YAML(&buf, objects())
			}
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), name)
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			if diffs, err := Compare(path, objects()); err != nil || len(diffs) != 0 {
				t.Fatalf("same stream: diffs %v, err %v", diffs, err)
			}
			changed := objects()
			changed[1].(*corev1.ConfigMap).Data["key"] = "3"
			diffs, err := Compare(path, changed)
			if err != nil || len(diffs) != 1 || !strings.Contains(diffs[0].Diff, "3") {
				t.Fatalf("changed object: diffs %+v, err %v", diffs, err)
			}
		})
	}
}

func TestCompareMissingPath(t *testing.T) {
	if _, err := Compare(filepath.Join(t.TempDir(), "nope"), objects()); err == nil {
		t.Fatal("want an error for a missing path")
	}
}
