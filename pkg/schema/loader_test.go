package schema_test

import (
	"math"
	"reflect"
	"testing"

	"github.com/argodeploy/argodeploy/pkg/schema"
	"github.com/argodeploy/argodeploy/pkg/testcorpus"
)

// TestLoaderMatchesGoLoader: what Validate hands gojsonschema is what
// gojsonschema's NewGoLoader makes of the object, for every object of the
// test corpus and for values whose JSON form differs from the Go one.
func TestLoaderMatchesGoLoader(t *testing.T) {
	corpus, err := testcorpus.Objects("../..")
	if err != nil {
		t.Fatal(err)
	}
	objs := []map[string]any{
		{"numbers": []any{int64(-3), int64(math.MaxInt64), 2, int32(7), 1.0, 1.5, 1e21, 1e-7, float32(0.1), -0.0}},
		{"text": "<&> \u2028 é", "nested": map[string]any{"list": []any{nil, true, map[string]any{}}}},
		{"invalid UTF-8": "a\xffb"},
		{"a\xffkey": "x"},
		{"typed slice": []string{"a"}, "typed map": map[string]string{"k": "v"}},
		{"nil map": map[string]any(nil), "nil list": []any(nil), "in a list": []any{map[string]any(nil), []any(nil)}},
	}
	for _, u := range corpus {
		objs = append(objs, u.Object)
	}
	for _, obj := range objs {
		mine, theirs, err := schema.Loaded(obj)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(mine, theirs) {
			t.Errorf("loaded differently:\n mine %#v\ntheirs %#v", mine, theirs)
		}
	}
}

// TestLoaderCopiesOnlyWhatChanges: a document JSON holds as it is goes to
// gojsonschema as it is, and one with a number copies only the maps and
// lists on the way to it (a 10,000-service cache ConfigMap, or mapping,
// would otherwise be copied whole on every validation).
func TestLoaderCopiesOnlyWhatChanges(t *testing.T) {
	same := func(a, b any) bool { return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer() }
	data := map[string]any{"svc-1": "{}", "svc-2": "{}"}
	cm := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "data": data, "list": []any{"a", true, nil}}
	loaded, _, err := schema.Loaded(cm)
	if err != nil {
		t.Fatal(err)
	}
	if !same(loaded, cm) {
		t.Error("a document without numbers was copied")
	}
	spec := map[string]any{"replicas": int64(2)}
	deploy := map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": data, "spec": spec}
	loaded, _, err = schema.Loaded(deploy)
	if err != nil {
		t.Fatal(err)
	}
	m := loaded.(map[string]any)
	switch {
	case same(m, deploy) || same(m["spec"], spec):
		t.Error("the maps on the way to a number were not copied")
	case !same(m["metadata"], data):
		t.Error("a map without numbers beside one with a number was copied")
	case spec["replicas"] != int64(2):
		t.Errorf("the document itself changed: replicas %#v", spec["replicas"])
	}
}
