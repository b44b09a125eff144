package output

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// reference is what the emitter must write: yaml.v3's encoding of node(m)
// with a two-space indent and compact sequences.
func reference(t testing.TB, m map[string]any) string {
	t.Helper()
	out, err := yamlV3(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func emit(t testing.TB, m map[string]any) string {
	t.Helper()
	e := newEmitter()
	if err := e.document(fromMap(m).(object)); err != nil {
		t.Fatal(err)
	}
	return e.buf.String()
}

// TestEmitterMatchesYAMLv3 compares the emitter with yaml.v3 on values
// that exercise every layout and quoting rule.
func TestEmitterMatchesYAMLv3(t *testing.T) {
	strs := []string{"", "plain", "a b", "a: b", "a #b", "#x", "-x", "- x", "x-", "?x", ":x", "x:", "{{workflow.parameters.tag}}",
		"'quoted'", `"double"`, "it's", "3", "3.0", "0x1F", "1e3", "+1", "-1", ".5", "1_000", "2026-01-01", "2026-01-01T00:00:00Z",
		"true", "True", "yes", "No", "on", "OFF", "y", "n", "null", "Null", "~", ".inf", ".NaN", "<<",
		"line\n", "two\nlines", "two\nlines\n", "trailing\n\n", "  leading", "trailing ", "\tTab", "back\\slash", "unicode ✓", "\u00e9t\u00e9",
		"ctrl\x01", "cr\r", "a,b", "[x]", "{x}", "x]", "@x", "`x`", "!x", "&x", "*x", "%x", "|x", ">x", "a|b", "2.10.29", "500m", "256Mi", "v1.2.3",
		strings.Repeat("long", 40), "  indented\nblock\n", "a:b", "a::b", "^x$", "^", "/", "/path/x", "x#y", "a{b}", "x|y", "x>y", "x&y", "x!y",
		"x%y", "x@y", "a'b", `a"b`, "x`y", "^-", "/-", "^:", "x;y", "x,y", "x=y", "x~y", "^(?:v[0-9]+)$", `x\y`, "a[0]", "x*", "x?", "^[a-z]+$", "us-east1-docker.pkg.dev/acme/app@sha256:" + strings.Repeat("ab", 32),
		// multi-line: the literal blocks the emitter writes itself, and their edges
		"a\nb", "a\n\nb\n", "a \nb", "a\n b\n", "a\nb ", "x\n\n", "script\n  indented\n", "#!/bin/sh\nset -eu\n", "a\n\tb\n",
		"\u00fc\nx\n", "a\r\nb", "- x\n- y\n", "key: v\nk2: v\n", "---\nx\n", "...\n", "a\n---\nb\n", "\n", "\nx", "x\n\n\n", "'q'\n\"d\"\n",
		"{{x}}\n", "a\n\n\nb", "x\u0085y\n", "  \n", "a\n \n"}
	for _, s := range strs {
		m := map[string]any{
			s:       s,
			"value": s,
			"list":  []any{s, map[string]any{"k": s, "n": map[string]any{s: []any{s}}}, []any{s, []any{}}},
			"deep":  map[string]any{"a": map[string]any{"b": []any{map[string]any{"c": s, "d": []any{s, s}}}}},
		}
		if got, want := emit(t, m), reference(t, m); got != want {
			t.Errorf("%q:\ngot:\n%s\nwant:\n%s", s, got, want)
		}
	}
	m := map[string]any{"empty": map[string]any{}, "none": []any{}, "null": nil, "t": true, "n": json.Number("42"), "f": json.Number("1.5"),
		"items": []any{map[string]any{}, []any{}, nil, json.Number("1"), false}}
	if got, want := emit(t, m), reference(t, m); got != want {
		t.Errorf("non-strings:\ngot:\n%s\nwant:\n%s", got, want)
	}
}

// FuzzEmitter: for any string, in any place, the emitter writes what
// yaml.v3 writes.
func FuzzEmitter(f *testing.F) {
	for _, s := range []string{"x", "a: b", "3", "two\nlines\n", " x", "{{x}}", "yes", "set -eu\nexit 0", "a\n\n b \n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return // Encode's JSON never holds invalid UTF-8
		}
		m := map[string]any{"k": s, s: []any{s, map[string]any{"v": s}}, "n": map[string]any{"m": []any{[]any{s}}}}
		if got, want := emit(t, m), reference(t, m); got != want {
			t.Fatalf("%q:\ngot:\n%s\nwant:\n%s", s, got, want)
		}
	})
}

// TestIsComplexKeyMatchesContainsAny: the byte scan finds line breaks
// where strings.ContainsAny finds them, in valid and invalid UTF-8.
func TestIsComplexKeyMatchesContainsAny(t *testing.T) {
	want := func(k string) bool { return len(k) > 100 || strings.ContainsAny(k, "\n\r\u0085\u2028\u2029") }
	keys := []string{"", "name", "a\nb", "\r", "\u0085", "x\u2028", "\u2029y", "\u2027", "\u202a", "\u0084", "\xc2",
		"\xe2\x80", "\xe2\x80\xa8", "\xf0\xe2\x80\xa8", "\xe0\xc2\x85", "\xc2\xc2\x85", "\xe2\xe2\x80\xa9", "é\u2028",
		strings.Repeat("k", 100), strings.Repeat("k", 101)}
	pieces := []string{"a", "\n", "\xc2", "\x85", "\xe2", "\x80", "\xa8", "\xa9", "é", "\u2028", "\xff"}
	seed := uint32(1)
	for range 20000 {
		var b strings.Builder
		for range 1 + seed%6 {
			seed = seed*1664525 + 1013904223
			b.WriteString(pieces[seed>>16%uint32(len(pieces))])
		}
		keys = append(keys, b.String())
	}
	for _, k := range keys {
		if got := isComplexKey(k); got != want(k) {
			t.Errorf("isComplexKey(%q) = %t, want %t", k, got, want(k))
		}
	}
}
