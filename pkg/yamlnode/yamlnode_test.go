package yamlnode

import (
	"reflect"
	"testing"

	yaml "go.yaml.in/yaml/v3"
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
