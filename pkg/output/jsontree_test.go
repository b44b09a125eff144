package output

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/argodeploy/argodeploy/pkg/mapping/synthetic"
	"github.com/argodeploy/argodeploy/pkg/render"
)

// decodeReference is what jsonTree must return: encoding/json's Decoder
// with UseNumber.
func decodeReference(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	err := dec.Decode(&m)
	return m, err
}

// checkTree fails t if jsonTree decodes data to anything but what
// encoding/json does; it may refuse (errUnexpected) and leave it to
// encoding/json. It reports whether jsonTree decoded data.
func checkTree(t *testing.T, data []byte) bool {
	t.Helper()
	got, err := jsonTree(data)
	if err != nil {
		if err != errUnexpected {
			t.Errorf("%s: error %v", data, err)
		}
		return false
	}
	want, wantErr := decodeReference(data)
	if wantErr != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %#v\nwant %#v (%v)", data, got, want, wantErr)
	}
	return true
}

// TestJSONTreeMatchesEncodingJSON: on every object the examples and 30
// synthetic services render to, on 3,000 random JSON objects written by
// encoding/json and on odd input, jsonTree gives encoding/json's value or
// refuses.
func TestJSONTreeMatchesEncodingJSON(t *testing.T) {
	decoded := 0
	objs, err := synthetic.Objects(30)
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range render.Convert[Object](objs) {
		data, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		if !checkTree(t, data) {
			t.Errorf("rendered %s not decoded by jsonTree", describe(obj))
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 3000 {
		data, err := json.Marshal(randomObject(rng, 4))
		if err != nil {
			t.Fatal(err)
		}
		if checkTree(t, data) {
			decoded++
		}
	}
	if decoded < 1500 {
		t.Errorf("jsonTree decoded only %d of 3,000 random objects", decoded)
	}
	for _, odd := range []string{
		`{}`, ` { "a" : [ 1 , 2.5e-3 , -0 , true , false , null ] } `, `{"a":{}}`, `{"a":[]}`,
		`{"a":1,"a":2}`, `{"\u00e9\ud83d\ude00":"\/\b\f\n\r\t\"\\"}`, `{"bad":"\ud800"}`,
		`[]`, `null`, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":01}`, `{"a":1.}`, `{"a":-}`,
		`{"a":tru}`, `{"a":"x}`, "{\"a\":\"\x01\"}", "{\"a\":\"\xff\"}", `{"a":1} x`, `{"a":[1,]}`,
		`{"a":1e}`, `{"a":+1}`,
	} {
		checkTree(t, []byte(odd))
	}
}

// randomObject returns a random JSON-able map of depth at most depth.
func randomObject(rng *rand.Rand, depth int) map[string]any {
	m := map[string]any{}
	for range rng.IntN(5) {
		m[randomString(rng)] = randomValue(rng, depth-1)
	}
	return m
}

func randomValue(rng *rand.Rand, depth int) any {
	switch n := rng.IntN(9); {
	case n == 0 && depth > 0:
		return randomObject(rng, depth)
	case n == 1 && depth > 0:
		list := []any{}
		for range rng.IntN(4) {
			list = append(list, randomValue(rng, depth-1))
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
		return randomString(rng)
	}
}

func randomString(rng *rand.Rand) string {
	pieces := []string{"a", "Z", "9", " ", "-", ".", "é", "😀", "\n", "\t", "\"", "\\", "<", "&", "\u2028", "\x00", "\xff", "{{", "$("}
	var b strings.Builder
	for range rng.IntN(8) {
		b.WriteString(pieces[rng.IntN(len(pieces))])
	}
	return b.String()
}
