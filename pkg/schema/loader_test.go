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
