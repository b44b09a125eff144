// Package randjson makes random JSON-able values for tests that hold a
// fast JSON path to encoding/json: maps, lists, int64s, floats of every
// magnitude, booleans, nulls, and keys and strings built from pieces that
// JSON escapes or that scanners trip on (quotes, backslashes, brackets,
// commas, colons, line separators, invalid UTF-8).
package randjson

import (
	"math"
	"math/rand/v2"
	"strings"
)

// pieces are what keys and strings are made of.
var pieces = []string{"a", "Z", "9", " ", "-", ".", "é", "😀", "\n", "\t", `"`, `\`, "<", "&", "\u2028",
	"\x00", "\xff", "{", "}", "[", "]", ",", ":", "{{", "$(", "status", "metadata", "creationTimestamp"}

// Object returns a random map of nesting depth at most depth.
func Object(rng *rand.Rand, depth int) map[string]any {
	m := map[string]any{}
	for range rng.IntN(6) {
		m[String(rng)] = Value(rng, depth-1)
	}
	return m
}

// Value returns a random value of nesting depth at most depth.
func Value(rng *rand.Rand, depth int) any {
	switch n := rng.IntN(9); {
	case n == 0 && depth > 0:
		return Object(rng, depth)
	case n == 1 && depth > 0:
		list := []any{}
		for range rng.IntN(4) {
			list = append(list, Value(rng, depth-1))
		}
		return list
	case n == 2:
		return rng.Int64() - math.MaxInt64/2
	case n == 3:
		return rng.NormFloat64() * math.Pow(10, float64(rng.IntN(60)-30))
	case n == 4:
		return rng.IntN(2) == 0
	case n == 5:
		return nil
	default:
		return String(rng)
	}
}

// String returns a random string of up to seven pieces.
func String(rng *rand.Rand) string {
	var b strings.Builder
	for range rng.IntN(8) {
		b.WriteString(pieces[rng.IntN(len(pieces))])
	}
	return b.String()
}
