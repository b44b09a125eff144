package schema_test

import (
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/argodeploy/argodeploy/pkg/schema"
	"github.com/argodeploy/argodeploy/pkg/testcorpus"
)

// TestPrunedSchemaMatchesWhole validates every object of the test corpus
// (the repository's manifests, the upstream Argo examples, a generated
// pipeline) that a schema covers, and its variants with one mistake each,
// against the schema pruned to the object and against the whole schema,
// strict and relaxed: the problems must be the same. Every object must be
// prunable, or Validate would be slow without saying so.
func TestPrunedSchemaMatchesWhole(t *testing.T) {
	corpus, err := testcorpus.Objects("../..")
	if err != nil {
		t.Fatal(err)
	}
	var objs []*unstructured.Unstructured
	kinds := map[string]bool{}
	for _, base := range corpus {
		if _, err := schema.Validate(base.Object, schema.Options{}); !errors.Is(err, schema.ErrNoSchema) {
			objs = append(append(objs, base), testcorpus.Variants(base)...)
			kinds[base.GetKind()] = true
		}
	}
	// failing[i] counts the problems of objs[i], strict and relaxed.
	failing := make([]int, len(objs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				failing[i] = comparePruned(t, objs[i])
			}
		})
	}
	for i := range objs {
		next <- i
	}
	close(next)
	wg.Wait()
	objects, failed, problems := len(objs), 0, 0
	for _, n := range failing {
		if n > 0 {
			failed++
			problems += n
		}
	}
	t.Logf("%d objects of %d kinds, %d with %d problems", objects, len(kinds), failed, problems)
	if objects < 5000 || failed < 2000 || len(kinds) < 10 {
		t.Errorf("corpus too small: %d objects of %d kinds, %d failing", objects, len(kinds), failed)
	}
}

// comparePruned validates u with the pruned and the whole schema, strict
// and relaxed, reports any difference and returns the number of problems.
func comparePruned(t *testing.T, u *unstructured.Unstructured) int {
	name := fmt.Sprintf("%s %s/%s", u.GetKind(), u.GetNamespace(), u.GetName())
	if _, err := schema.Prune(u.Object); err != nil {
		t.Errorf("%s: not pruned: %v", name, err)
	}
	found := 0
	for _, opts := range []schema.Options{{}, {Relaxed: true}} {
		got, err := schema.Validate(u.Object, opts)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			return found
		}
		want, err := schema.ValidateWhole(u.Object, opts)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			return found
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s (relaxed=%v): pruned schema finds\n%q\nthe whole one\n%q", name, opts.Relaxed, got, want)
		}
		found += len(want)
	}
	return found
}

// TestPruneDropsUnusedSubschemas: a ConfigMap's pruned schema is a small
// part of the whole, and objects of one shape share it.
func TestPruneDropsUnusedSubschemas(t *testing.T) {
	cm := func(name, key string) map[string]any {
		return map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": name}, "data": map[string]any{key: "v"}}
	}
	a, err := schema.Prune(cm("a", "x"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := schema.Prune(cm("b", "y"))
	if err != nil {
		t.Fatal(err)
	}
	if string(a) != string(b) {
		t.Errorf("two ConfigMaps of one shape pruned differently:\n%s\n%s", a, b)
	}
	if len(a) > 1500 {
		t.Errorf("pruned ConfigMap schema is %d bytes: %s", len(a), a)
	}
	if _, err := schema.Prune(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "data": map[string]string{"k": "v"}}); err == nil {
		t.Error("a map[string]string was pruned as if it held nothing")
	}
}
