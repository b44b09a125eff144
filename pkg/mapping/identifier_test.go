package mapping

import (
	"math/rand/v2"
	"regexp"
	"testing"
)

// TestIsIdentifierMatchesItsRegexp: isIdentifier is the regexp in its doc
// comment, on chosen keys and 100,000 random ones.
func TestIsIdentifierMatchesItsRegexp(t *testing.T) {
	re := regexp.MustCompile(`^[A-Za-z_][-A-Za-z0-9_]*$`)
	keys := []string{"", "a", "_", "-", "0", "a0", "a-b", "a.b", "A_Z-9", "é", "a\n", "a b", `a"`}
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "aZ_-09.é \"["
	for range 100000 {
		b := make([]byte, rng.IntN(5))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		keys = append(keys, string(b))
	}
	for _, k := range keys {
		if got, want := isIdentifier(k), re.MatchString(k); got != want {
			t.Errorf("isIdentifier(%q) = %v, regexp says %v", k, got, want)
		}
	}
}
