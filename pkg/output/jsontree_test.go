package output

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/argodeploy/argodeploy/pkg/render"
	"github.com/argodeploy/argodeploy/pkg/testcorpus/randjson"
	"github.com/argodeploy/argodeploy/pkg/testcorpus/synthetic"
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

// jsonTree is tree on a new decoder.
func jsonTree(data []byte) (object, error) {
	return new(treeDecoder).tree(data)
}

// reused decodes every tree of the tests in turn, as an emitter's
// decoder does the documents of a run, refusals included.
var reused treeDecoder

// checkTree fails t if jsonTree decodes data to anything but what
// encoding/json does; it may refuse (errUnexpected) and leave it to
// encoding/json. A decoder that decoded other trees before must say the
// same as a new one. It reports whether jsonTree decoded data.
func checkTree(t *testing.T, data []byte) bool {
	t.Helper()
	got, err := jsonTree(data)
	if again, againErr := reused.tree(data); againErr != err || !reflect.DeepEqual(again, got) {
		t.Errorf("%s: a reused decoder gives %#v (%v), a new one %#v (%v)", data, again, againErr, got, err)
	}
	if aliased, aliasedErr := (&treeDecoder{alias: true}).tree(data); aliasedErr != err || !reflect.DeepEqual(aliased, got) {
		t.Errorf("%s: an aliasing decoder gives %#v (%v), a copying one %#v (%v)", data, aliased, aliasedErr, got, err)
	}
	if err != nil {
		if err != errUnexpected {
			t.Errorf("%s: error %v", data, err)
		}
		return false
	}
	want, wantErr := decodeReference(data)
	if wantErr != nil || !reflect.DeepEqual(toMap(got), want) {
		t.Errorf("%s:\n got %#v\nwant %#v (%v)", data, got, want, wantErr)
	}
	if !sortedOnce(got) {
		t.Errorf("%s: members not sorted, or a key repeats: %#v", data, got)
	}
	return true
}

// sortedOnce reports whether every object in v has its members sorted
// by key, each key once.
func sortedOnce(v any) bool {
	switch v := v.(type) {
	case object:
		for i, m := range v {
			if i > 0 && v[i-1].key >= m.key || !sortedOnce(m.value) {
				return false
			}
		}
	case []any:
		for _, c := range v {
			if !sortedOnce(c) {
				return false
			}
		}
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
		data, err := json.Marshal(randjson.Object(rng, 4))
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
	for _, escaped := range []string{
		`{"\u00e9\u003c\u0026":"\/\b\f\n\r\t\"\\"}`, `{"a":"x\u00E9\u2028y"}`, `{"a":["\n","\u0000",{"\t":"\u001f"}]}`,
	} {
		if !checkTree(t, []byte(escaped)) {
			t.Errorf("%s not decoded by jsonTree", escaped)
		}
	}
}
