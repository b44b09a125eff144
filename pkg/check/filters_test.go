package check

import "testing"

func TestPermutation(t *testing.T) {
	alts := map[string]bool{"a|b": true, "a": true, "c": true}
	for s, want := range map[string]bool{"a|b|a|c": true, "c|a|a|b": true, "a|a|b|c": true, "a|b|c": false, "a|b|a|c|c": false, "": false, "c|a|b": false} {
		if got := permutation(s, alts); got != want {
			t.Errorf("%q: got %v, want %v", s, got, want)
		}
	}
}
