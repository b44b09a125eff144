package output

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	eventsv1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func configMap(name string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "argo-events", Labels: map[string]string{"app.kubernetes.io/managed-by": "argodeploy"}},
		Data: map[string]string{
			"mapping.yaml": "services:\n- name: web\n  image: gcr.io/p/web\n",
			"enabled":      "yes",
			"replicas":     "3",
		},
	}
}

func role() *rbacv1.Role {
	return &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
		ObjectMeta: metav1.ObjectMeta{Name: "argodeploy:deployer", Namespace: "apps"},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{"apps"},
			Resources: []string{"deployments"},
			Verbs:     []string{"get", "patch"},
		}},
	}
}

func sensor() *eventsv1.Sensor {
	wf := wfv1.Workflow{
		TypeMeta:   metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: "Workflow"},
		ObjectMeta: metav1.ObjectMeta{GenerateName: "redeploy-"},
		Spec: wfv1.WorkflowSpec{
			WorkflowTemplateRef: &wfv1.WorkflowTemplateRef{Name: "redeploy"},
			Arguments:           wfv1.Arguments{Parameters: []wfv1.Parameter{{Name: "image"}}},
		},
	}
	resource := eventsv1.NewK8SResource(wf)
	factor := eventsv1.NewAmount("2")
	return &eventsv1.Sensor{
		TypeMeta:   metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: "Sensor"},
		ObjectMeta: metav1.ObjectMeta{Name: "gcr", Namespace: "argo-events"},
		Spec: eventsv1.SensorSpec{
			Dependencies: []eventsv1.EventDependency{{Name: "push", EventSourceName: "gcr", EventName: "push"}},
			Triggers: []eventsv1.Trigger{{
				Template: &eventsv1.TriggerTemplate{
					Name: "redeploy",
					K8s: &eventsv1.StandardK8STrigger{
						Operation: "create",
						Source:    &eventsv1.ArtifactLocation{Resource: &resource},
						Parameters: []eventsv1.TriggerParameter{{
							Src:  &eventsv1.TriggerParameterSource{DependencyName: "push", DataKey: "body.tag"},
							Dest: "spec.arguments.parameters.0.value",
						}},
					},
				},
				Policy: &eventsv1.TriggerPolicy{
					// A nested "status" key and an explicit false: both are data.
					K8s:    &eventsv1.K8SResourcePolicy{Backoff: &eventsv1.Backoff{Factor: &factor, Steps: 3}, ErrorOnBackoffTimeout: false},
					Status: &eventsv1.StatusPolicy{Allow: []int32{200}},
				},
			}},
		},
		Status: eventsv1.SensorStatus{Status: eventsv1.Status{Conditions: []eventsv1.Condition{{Type: "Deployed", Status: corev1.ConditionTrue}}}},
	}
}

func workflowTemplate() *wfv1.WorkflowTemplate {
	return &wfv1.WorkflowTemplate{
		TypeMeta:   metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: "WorkflowTemplate"},
		ObjectMeta: metav1.ObjectMeta{Name: "redeploy", Namespace: "argo-events"},
		Spec: wfv1.WorkflowSpec{
			Entrypoint:         "main",
			ServiceAccountName: "argodeploy",
			Arguments:          wfv1.Arguments{Parameters: []wfv1.Parameter{{Name: "image"}}},
			Templates: []wfv1.Template{{
				Name: "main",
				Script: &wfv1.ScriptTemplate{
					Container: corev1.Container{Image: "docker.io/alpine/k8s:1.33.4", Command: []string{"sh"}},
					Source:    "kubectl rollout restart deploy/web && kubectl rollout status deploy/web --timeout=5m\n",
				},
			}},
		},
	}
}

func objects() []Object {
	return []Object{configMap("argodeploy-mapping"), role(), sensor(), workflowTemplate()}
}

// broken is an Object whose JSON marshalling fails.
type broken struct {
	metav1.TypeMeta
	metav1.ObjectMeta
}

func (broken) MarshalJSON() ([]byte, error) { return nil, errors.New("boom") }

func newBroken() *broken {
	return &broken{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Broken"}, ObjectMeta: metav1.ObjectMeta{Name: "bad"}}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run go test -update if intended):\n%s", path, got)
	}
}

func TestWritersMatchGoldenAndAreDeterministic(t *testing.T) {
	tests := []struct {
		name   string
		write  func(*bytes.Buffer, []Object) error
		golden string
	}{
		{"YAML", func(b *bytes.Buffer, o []Object) error { return YAML(b, o) }, "objects.yaml"},
		{"JSON", func(b *bytes.Buffer, o []Object) error { return JSON(b, o) }, "objects.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var first, second bytes.Buffer
			if err := tt.write(&first, objects()); err != nil {
				t.Fatal(err)
			}
			if err := tt.write(&second, objects()); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(first.Bytes(), second.Bytes()) {
				t.Errorf("two runs differ:\n%s\n----\n%s", first.Bytes(), second.Bytes())
			}
			for _, noise := range []string{"creationTimestamp", "Deployed"} {
				if bytes.Contains(first.Bytes(), []byte(noise)) {
					t.Errorf("output contains %q", noise)
				}
			}
			golden(t, tt.golden, first.Bytes())
		})
	}
}

func TestEmptyList(t *testing.T) {
	tests := []struct {
		name  string
		write func(*bytes.Buffer) error
		want  string
	}{
		{"YAML writes nothing", func(b *bytes.Buffer) error { return YAML(b, nil) }, ""},
		{"JSON writes an empty List", func(b *bytes.Buffer) error { return JSON(b, nil) },
			"{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"List\",\n  \"items\": []\n}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tt.write(&b); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("got %q, want %q", b.String(), tt.want)
			}
		})
	}
}

// find returns the values of every key named key anywhere below v.
func find(v any, key string) []any {
	var out []any
	switch v := v.(type) {
	case map[string]any:
		for k, c := range v {
			if k == key {
				out = append(out, c)
			}
			out = append(out, find(c, key)...)
		}
	case []any:
		for _, c := range v {
			out = append(out, find(c, key)...)
		}
	}
	return out
}

// at walks m along path.
func at(m map[string]any, path ...any) (any, bool) {
	var v any = m
	for _, p := range path {
		switch p := p.(type) {
		case string:
			mm, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			if v, ok = mm[p]; !ok {
				return nil, false
			}
		case int:
			s, ok := v.([]any)
			if !ok || p >= len(s) {
				return nil, false
			}
			v = s[p]
		}
	}
	return v, true
}

func TestEncodeRemovesOnlyNoise(t *testing.T) {
	bare := &corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}}
	tests := []struct {
		name    string
		obj     Object
		present [][]any // paths that must stay
		absent  [][]any // paths that must go
	}{
		{"top-level status goes, nested policy status stays", sensor(),
			[][]any{{"spec", "triggers", 0, "policy", "status", "allow"}},
			[][]any{{"status"}}},
		{"explicit zero values stay", sensor(),
			[][]any{{"spec", "triggers", 0, "policy", "k8s", "errorOnBackoffTimeout"}},
			nil},
		{"creationTimestamp: null goes from embedded resources too", sensor(),
			[][]any{{"spec", "triggers", 0, "template", "k8s", "source", "resource", "metadata", "generateName"}},
			[][]any{{"metadata", "creationTimestamp"}}},
		{"empty template metadata, inputs and outputs go, other empty maps stay", workflowTemplate(),
			[][]any{{"spec", "templates", 0, "script", "resources"}, {"spec", "arguments"}},
			[][]any{{"spec", "templates", 0, "metadata"}, {"spec", "templates", 0, "inputs"}, {"spec", "templates", 0, "outputs"}}},
		{"nulls go (a Sensor's loggingFields)", sensor(),
			[][]any{{"spec", "triggers"}},
			[][]any{{"spec", "loggingFields"}}},
		{"empty top-level metadata stays", bare,
			[][]any{{"metadata"}},
			[][]any{{"metadata", "creationTimestamp"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Encode(tt.obj)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range find(m, "creationTimestamp") {
				if v == nil {
					t.Errorf("creationTimestamp: null left in %v", m)
				}
			}
			for _, p := range tt.present {
				if _, ok := at(m, p...); !ok {
					t.Errorf("%v missing from %v", p, m)
				}
			}
			for _, p := range tt.absent {
				if _, ok := at(m, p...); ok {
					t.Errorf("%v still in %v", p, m)
				}
			}
		})
	}
}

func TestEncodeKeepsIntegersIntegers(t *testing.T) {
	m, err := Encode(sensor())
	if err != nil {
		t.Fatal(err)
	}
	v, _ := at(m, "spec", "triggers", 0, "policy", "k8s", "backoff", "steps")
	if v != json.Number("3") {
		t.Errorf("steps = %#v, want json.Number(\"3\")", v)
	}
}

func TestEncodeRejects(t *testing.T) {
	var nilMap *corev1.ConfigMap
	tests := []struct {
		name string
		obj  Object
		want string
	}{
		{"nil object", nil, "nil object"},
		{"nil pointer", nilMap, "nil *v1.ConfigMap"},
		{"missing TypeMeta", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, "no apiVersion"},
		{"missing kind", &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1"}}, "no kind"},
		{"failing MarshalJSON", newBroken(), `Broken "bad"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Encode(tt.obj)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error %v, want one containing %q", err, tt.want)
			}
			var b bytes.Buffer
			if err := YAML(&b, []Object{configMap("ok"), tt.obj}); err == nil || b.Len() > 0 {
				t.Errorf("YAML: err %v, wrote %d bytes; want error and nothing written", err, b.Len())
			}
			if err := JSON(&b, []Object{configMap("ok"), tt.obj}); err == nil || b.Len() > 0 {
				t.Errorf("JSON: err %v, wrote %d bytes; want error and nothing written", err, b.Len())
			}
		})
	}
}

// newLike returns a new zero object of obj's type.
func newLike(obj Object) Object {
	return reflect.New(reflect.TypeOf(obj).Elem()).Interface().(Object)
}

func TestOutputRoundTrips(t *testing.T) {
	objs := objects()
	var js, ys bytes.Buffer
	if err := JSON(&js, objs); err != nil {
		t.Fatal(err)
	}
	if err := YAML(&ys, objs); err != nil {
		t.Fatal(err)
	}
	var list struct {
		APIVersion, Kind string
		Items            []json.RawMessage
	}
	if err := json.Unmarshal(js.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	if list.APIVersion != "v1" || list.Kind != "List" {
		t.Errorf("got %s %s, want v1 List", list.APIVersion, list.Kind)
	}
	docs := strings.Split(ys.String(), "\n---\n")
	if len(list.Items) != len(objs) || len(docs) != len(objs) {
		t.Fatalf("got %d JSON items and %d YAML docs, want %d", len(list.Items), len(docs), len(objs))
	}
	for i, obj := range objs {
		want, err := Encode(obj)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			format    string
			unmarshal func(Object) error
		}{
			{"JSON", func(o Object) error { return json.Unmarshal(list.Items[i], o) }},
			{"YAML", func(o Object) error { return yaml.Unmarshal([]byte(docs[i]), o) }},
		} {
			back := newLike(obj)
			if err := tc.unmarshal(back); err != nil {
				t.Fatalf("%s item %d: %v", tc.format, i, err)
			}
			got, err := Encode(back)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s item %d does not round-trip:\ngot  %v\nwant %v", tc.format, i, got, want)
			}
		}
	}
}

// snapshot returns every file and directory below root with its contents.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			out[rel+"/"] = ""
			return nil
		}
		b, err := os.ReadFile(path)
		out[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestDirWritesOneFilePerObjectAndKustomization(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "out")
	if err := Dir(dir, objects()); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"01-configmap-argo-events-argodeploy-mapping.yaml",
		"02-role-apps-argodeploy_deployer.yaml",
		"03-sensor-argo-events-gcr.yaml",
		"04-workflowtemplate-argo-events-redeploy.yaml",
		"kustomization.yaml",
	}
	if got := names(t, dir); !reflect.DeepEqual(got, want) {
		t.Errorf("files = %v, want %v", got, want)
	}
	if got := names(t, parent); !reflect.DeepEqual(got, []string{"out"}) {
		t.Errorf("parent holds %v, want only out", got)
	}
	for i, obj := range objects() {
		var doc bytes.Buffer
		if err := YAML(&doc, []Object{obj}); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(dir, want[i]))
		if err != nil {
			t.Fatal(err)
		}
		if w := marker + "\n" + doc.String(); string(got) != w {
			t.Errorf("%s:\n%s\nwant\n%s", want[i], got, w)
		}
	}
	golden(t, "kustomization.yaml", []byte(snapshot(t, dir)["kustomization.yaml"]))
}

func TestDirFileNamesSortInApplyOrder(t *testing.T) {
	tests := []struct {
		n           int
		first, last string
	}{
		{1, "01-configmap-argo-events-cm-0.yaml", "01-configmap-argo-events-cm-0.yaml"},
		{99, "01-configmap-argo-events-cm-0.yaml", "99-configmap-argo-events-cm-98.yaml"},
		{100, "001-configmap-argo-events-cm-0.yaml", "100-configmap-argo-events-cm-99.yaml"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.n), func(t *testing.T) {
			objs := make([]Object, tt.n)
			for i := range objs {
				objs[i] = configMap(fmt.Sprintf("cm-%d", i))
			}
			dir := filepath.Join(t.TempDir(), "out")
			if err := Dir(dir, objs); err != nil {
				t.Fatal(err)
			}
			got := names(t, dir) // sorted by name
			if len(got) != tt.n+1 || got[0] != tt.first || got[tt.n-1] != tt.last {
				t.Errorf("got %d files %s … %s, want %d %s … %s", len(got)-1, got[0], got[len(got)-2], tt.n, tt.first, tt.last)
			}
		})
	}
}

func TestDirReplacesPreviousOutput(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "out")
	if err := Dir(dir, objects()); err != nil {
		t.Fatal(err)
	}
	if err := Dir(dir, []Object{role()}); err != nil {
		t.Fatal(err)
	}
	want := []string{"01-role-apps-argodeploy_deployer.yaml", "kustomization.yaml"}
	if got := names(t, dir); !reflect.DeepEqual(got, want) {
		t.Errorf("files = %v, want %v (stale files must go)", got, want)
	}
	if got := names(t, parent); !reflect.DeepEqual(got, []string{"out"}) {
		t.Errorf("parent holds %v, want only out", got)
	}
}

func TestDirRefusesForeignContent(t *testing.T) {
	tests := []struct {
		name    string
		foreign string // path below dir; a trailing / makes a directory
		content string
	}{
		{"hand-written manifest", "extra.yaml", "apiVersion: v1\nkind: ConfigMap\n"},
		{"non-yaml file", "README.md", marker + "\n"},
		{"hand-written kustomization", "kustomization.yaml", "resources: []\n"},
		{"marker not on first line", "late.yaml", "\n" + marker + "\n"},
		{"subdirectory", "base/", ""},
		{"symlink to a generated-looking file", "link.yaml", "->"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "out")
			if err := Dir(dir, objects()); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, tt.foreign)
			var err error
			switch {
			case strings.HasSuffix(tt.foreign, "/"):
				err = os.Mkdir(path, 0o755)
			case tt.content == "->":
				target := filepath.Join(t.TempDir(), "target.yaml")
				if err := os.WriteFile(target, []byte(marker+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				err = os.Symlink(target, path)
			default:
				err = os.WriteFile(path, []byte(tt.content), 0o644)
			}
			if err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, parent)

			err = Dir(dir, []Object{role()})
			if err == nil || !strings.Contains(err.Error(), filepath.Clean(path)) {
				t.Fatalf("got error %v, want one naming %s", err, path)
			}
			if after := snapshot(t, parent); !reflect.DeepEqual(after, before) {
				t.Errorf("directory changed:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}

func TestDirErrorMidwayLeavesDirUnchanged(t *testing.T) {
	tests := []struct {
		name     string
		existing bool
	}{
		{"over previous output", true},
		{"into a new directory", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "out")
			if tt.existing {
				if err := Dir(dir, objects()); err != nil {
					t.Fatal(err)
				}
			}
			before := snapshot(t, parent)

			err := Dir(dir, []Object{configMap("first"), newBroken(), role()})
			if err == nil || !strings.Contains(err.Error(), "boom") {
				t.Fatalf("got error %v, want the marshalling error", err)
			}
			if after := snapshot(t, parent); !reflect.DeepEqual(after, before) {
				t.Errorf("parent changed (temp dir left behind or dir touched):\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}

// TestDirCreatesParents: like mkdir -p, and a failed write takes the
// parents it made away again.
func TestDirCreatesParents(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "deploy", "envs", "pipeline")
	if err := Dir(dir, objects()); err != nil {
		t.Fatal(err)
	}
	if got := names(t, dir); len(got) != len(objects())+1 {
		t.Fatalf("wrote %v", got)
	}
	other := filepath.Join(parent, "other", "pipeline")
	if err := Dir(other, []Object{newBroken()}); err == nil {
		t.Fatal("a broken object was written")
	}
	if got := names(t, parent); !reflect.DeepEqual(got, []string{"deploy"}) {
		t.Fatalf("after a failed write the parent holds %v", got)
	}
}

func TestDirRejectsBadPaths(t *testing.T) {
	parent := t.TempDir()
	file := filepath.Join(parent, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	elsewhere := t.TempDir()
	link := filepath.Join(parent, "link")
	if err := os.Symlink(elsewhere, link); err != nil {
		t.Fatal(err)
	}
	t.Chdir(parent)
	tests := []struct {
		name, dir, want string
	}{
		{"empty", "", "not a directory name"},
		{"stdout dash", "-", "not a directory name"},
		{"current directory", ".", "name a subdirectory"},
		{"parent is a file", filepath.Join(file, "out"), "not a directory"},
		{"dir is a file", file, "not a directory"},
		{"dir is a symlink", link, "is a symbolic link"},
		{"relative path climbing out", "../" + filepath.Base(parent) + "/out", "climbs out of the current directory"},
		{"dotdot in the middle", "a/../../out", "climbs out of the current directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Dir(tt.dir, objects())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
	if got := names(t, parent); !reflect.DeepEqual(got, []string{"file", "link"}) {
		t.Errorf("parent holds %v, want only file and link", got)
	}
	if got := names(t, elsewhere); len(got) != 0 {
		t.Errorf("the symlink's target holds %v", got)
	}
}

// TestDirUnwritableParent: a parent nobody may write, even root (/proc),
// fails with the system's reason and leaves nothing behind.
func TestDirUnwritableParent(t *testing.T) {
	err := Dir("/proc/argodeploy-out", objects())
	if err == nil || !strings.Contains(err.Error(), "/proc") {
		t.Fatalf("got %v, want an error naming /proc", err)
	}
	if _, statErr := os.Lstat("/proc/argodeploy-out"); !os.IsNotExist(statErr) {
		t.Fatalf("/proc/argodeploy-out: %v", statErr)
	}
}
