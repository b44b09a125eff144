package yamlnode

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"
)

func parse(t *testing.T, src string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Content[0]
}

func TestPlainKeepsYAMLTypes(t *testing.T) {
	got := Plain(parse(t, "a: 1\nb: \"1\"\nc: [true, null, 1.5]\nd: .inf\ne: 2026-01-01\n"))
	want := map[string]any{"a": 1, "b": "1", "c": []any{true, nil, 1.5}, "d": ".inf", "e": "2026-01-01"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Plain = %#v, want %#v", got, want)
	}
}

func TestFollowStopsAtTheDeepestExistingNode(t *testing.T) {
	root := parse(t, "spec:\n  items:\n    - name: a\n    - name: b\n")
	cases := []struct {
		segs             []string
		line, col, count int
		hasKey           bool
	}{
		{[]string{"spec", "items", "1", "name"}, 4, 7, 4, true},
		{[]string{"spec", "items", "1"}, 4, 7, 3, false},
		{[]string{"spec", "items", "7", "name"}, 2, 3, 2, true},
		{[]string{"spec", "nope"}, 1, 1, 1, true},
		{[]string{"nope"}, 1, 1, 0, false},
	}
	for _, tc := range cases {
		n, key, followed := Follow(root, tc.segs)
		at := n
		if key != nil {
			at = key
		}
		if followed != tc.count || (key != nil) != tc.hasKey || at.Line != tc.line || at.Column != tc.col {
			t.Errorf("Follow(%v) = %d:%d after %d segments (key %v), want %d:%d after %d (key %v)",
				tc.segs, at.Line, at.Column, followed, key != nil, tc.line, tc.col, tc.count, tc.hasKey)
		}
	}
}

// TestValueFollowsAliasesAsKubectl: aliases and merge keys give the JSON
// that kubectl's YAML library (sigs.k8s.io/yaml, on yaml.v2) gives. (Keys
// such as y and n are left out: YAML 1.1, which yaml.v2 reads, makes them
// booleans.)
func TestValueFollowsAliasesAsKubectl(t *testing.T) {
	for _, src := range []string{
		"a: &x {b: 1}\nc: *x\n",
		"base: &b {x: 1, yy: 2}\nm: {<<: *b, yy: 3}\n",
		"base: &b {x: 1, yy: 2}\nm: {yy: 3, <<: *b}\n",
		"a: &a {x: 1}\nb: &b {x: 2, z: 3}\nm: {<<: [*a, *b], w: 4}\n",
		"s: &s hi\nl: &l [1, 2]\nx: [*s, *l, *s]\n",
		"a: &a {k: 1}\nb: &b {a: *a, nn: [*a]}\nc: *b\n",
		"m: {<<: {x: 1}, yy: 2}\n",
		"m: {<<: [{x: 1}, {x: 2, yy: 2}]}\n",
		"a: &a {<<: {p: 1}, q: 2}\nb: {<<: *a, r: 3}\n",
		"\"<<\": {x: 1}\n",
	} {
		got, err := Value(parse(t, src))
		if err != nil {
			t.Errorf("%q: %v", src, err)
			continue
		}
		gotJSON, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		want, err := sigsyaml.YAMLToJSON([]byte(src))
		if err != nil {
			t.Fatal(err)
		}
		if string(gotJSON) != string(want) {
			t.Errorf("%q:\n got %s\nwant %s (kubectl)", src, gotJSON, want)
		}
	}
}

// TestValueRejectsAliasLoopsAndBombs: an alias inside what it names, a
// merge of what is not a mapping, and a document whose aliases expand
// past MaxAliasValues are errors, found quickly.
func TestValueRejectsAliasLoopsAndBombs(t *testing.T) {
	bomb := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	for i := range 8 { // 10^9 values
		prev := string(rune('a' + i))
		next := string(rune('a' + i + 1))
		bomb += fmt.Sprintf("%s: &%s [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n", next, next,
			prev, prev, prev, prev, prev, prev, prev, prev, prev, prev)
	}
	for src, want := range map[string]string{
		"a: &x [*x]\n":              "contains itself",
		"a: &x {b: [1, {c: *x}]}\n": "contains itself",
		"m: {<<: 5}\n":              "merge key",
		"l: &l [1]\nm: {<<: *l}\n":  "merge key",
		"m: {<<: [{x: 1}, 2]}\n":    "merge key",
		bomb:                        "more than",
	} {
		start := time.Now()
		_, err := Value(parse(t, src))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%.40q: error %v, want one saying %q", src, err, want)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%.40q: took %v", src, d)
		}
	}
}
