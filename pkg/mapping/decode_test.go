package mapping

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// decodeJSON is how Parse decoded a mapping before decode: through its
// JSON, unknown fields refused. It is the reference decode is held to.
func decodeJSON(value any) (*ServiceMapping, error) {
	data, err := json.Marshal(value)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m ServiceMapping
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return &m, nil
}

// TestDecodeMatchesJSON decodes random values shaped like a mapping, in
// every form the YAML reader gives (integers as int, int64, uint64 or an
// integral float64; absent, null, empty and full lists and maps), and
// holds decode to encoding/json: the same mapping, nil and empty lists
// told apart, or both refusing an unknown field or a value of the wrong
// type. Integers stay within int32: the schema bounds every one far
// lower, and Parse decodes only what the schema accepted.
func TestDecodeMatchesJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	typ := reflect.TypeFor[ServiceMapping]()
	refused := 0
	for i := range 3000 {
		// One in ten carries something encoding/json refuses.
		v := randomValue(rng, typ, 0, i%10 == 0)
		want, wantErr := decodeJSON(v)
		got, gotErr := decode(v)
		switch {
		case (wantErr == nil) != (gotErr == nil):
			t.Fatalf("value %d: decode error %v, encoding/json %v\n%#v", i, gotErr, wantErr, v)
		case wantErr != nil:
			refused++
		case !reflect.DeepEqual(got, want):
			t.Fatalf("value %d: decode\n%#v\nencoding/json\n%#v\nfrom %#v", i, got, want, v)
		}
	}
	if refused < 100 {
		t.Fatalf("only %d of the values were refused: the wrong values are not being made", refused)
	}
}

// randomValue makes a value that decodes into typ, as yamlnode.Plain
// gives it; with wrong, possibly a field of a wrong type or an unknown
// field somewhere.
func randomValue(rng *rand.Rand, typ reflect.Type, depth int, wrong bool) any {
	if wrong && rng.IntN(8) == 0 {
		return []any{"not", 1, "this"}
	}
	switch typ.Kind() {
	case reflect.Pointer:
		if rng.IntN(4) == 0 {
			return nil
		}
		return randomValue(rng, typ.Elem(), depth, wrong)
	case reflect.Struct:
		m := map[string]any{}
		for f := range typ.Fields() {
			name := jsonName(f)
			if name == "-" || rng.IntN(3) == 0 {
				continue
			}
			m[name] = randomValue(rng, f.Type, depth+1, wrong && rng.IntN(3) == 0)
		}
		if wrong && rng.IntN(4) == 0 {
			m[fmt.Sprintf("bogus%d", rng.IntN(9))] = "x"
		}
		return m
	case reflect.Slice:
		switch n := rng.IntN(4); {
		case n == 0 || depth > 6:
			return []any{}
		default:
			s := make([]any, n)
			for i := range s {
				s[i] = randomValue(rng, typ.Elem(), depth+1, wrong)
			}
			return s
		}
	case reflect.Map:
		m := map[string]any{}
		for range rng.IntN(3) {
			m[randomString(rng)] = randomValue(rng, typ.Elem(), depth+1, wrong)
		}
		return m
	case reflect.String:
		if rng.IntN(20) == 0 {
			return nil
		}
		return randomString(rng)
	case reflect.Bool:
		return rng.IntN(2) == 0
	case reflect.Int32:
		n := rng.Int32N(1 << 20)
		switch rng.IntN(4) {
		case 0:
			return int(n)
		case 1:
			return int64(n)
		case 2:
			return uint64(n)
		default:
			return float64(n)
		}
	case reflect.Float64:
		switch rng.IntN(3) {
		case 0:
			return rng.IntN(100)
		default:
			return rng.Float64() * 10
		}
	}
	panic("randomValue: no values for " + typ.String())
}

// randomString makes valid UTF-8, as YAML only holds that, with
// characters JSON escapes.
func randomString(rng *rand.Rand) string {
	tail := []rune("ü\"\\<&>\u2028")
	return strings.Repeat(string(rune('a'+rng.IntN(26))), rng.IntN(5)) + string(tail[rng.IntN(len(tail)):])
}
