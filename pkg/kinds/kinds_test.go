package kinds_test

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/argodeploy/argodeploy/pkg/kinds"
	"k8s.io/apimachinery/pkg/runtime/schema"
	sigsjson "sigs.k8s.io/json"
)

// TestByGroupKind: each entry makes an object of its own kind, from a Go
// package of its own version.
func TestByGroupKind(t *testing.T) {
	for gk, typed := range kinds.ByGroupKind {
		typ := reflect.TypeOf(typed.New()).Elem()
		if typ.Name() != gk.Kind || !strings.HasSuffix(typ.PkgPath(), "/"+typed.Version) {
			t.Errorf("%v at %s makes a %s.%s", gk, typed.Version, typ.PkgPath(), typ.Name())
		}
	}
}

// TestWarmCodecsConcurrently: objects decode the same while WarmCodecs
// runs beside them, in a process where nothing is warm yet.
func TestWarmCodecsConcurrently(t *testing.T) {
	const sensor = `{"apiVersion":"argoproj.io/v1alpha1","kind":"Sensor","metadata":{"name":"s"},
		"spec":{"dependencies":[{"name":"d","eventSourceName":"e","eventName":"n","filters":{"data":[{"path":"body.tag","type":"string","value":["^v1$"]}]}}],
		"triggers":[{"template":{"name":"t","k8s":{"operation":"create","source":{"resource":{"kind":"Workflow"}}}}}]}}`
	done := make(chan struct{})
	go func() { kinds.WarmCodecs(slices.Collect(maps.Keys(kinds.ByGroupKind)), true, true); close(done) }()
	var first any
	for i := 0; ; i++ {
		obj := kinds.ByGroupKind[schema.GroupKind{Group: "argoproj.io", Kind: "Sensor"}].New()
		strict, err := sigsjson.UnmarshalStrict([]byte(sensor), obj)
		if err != nil || len(strict) > 0 {
			t.Fatalf("decode %d: %v, %v", i, err, strict)
		}
		if first == nil {
			first = obj
		} else if !reflect.DeepEqual(obj, first) {
			t.Fatalf("decode %d differs from the first", i)
		}
		select {
		case <-done:
			if i == 0 {
				t.Log("WarmCodecs finished before the first decode")
			}
			return
		default:
		}
	}
}
