package jsonscan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/argodeploy/argodeploy/pkg/testcorpus/randjson"
)

// decodeMembers is what Members must agree with: encoding/json decoding
// the object into raw members.
func decodeMembers(data []byte) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	err := json.Unmarshal(data, &m)
	return m, err
}

// TestMembersMatchDecoding: on odd objects, and on 3,000 random ones
// written compact and indented, Members finds the members encoding/json
// decodes, with their values as written.
func TestMembersMatchDecoding(t *testing.T) {
	inputs := []string{
		`{}`, ` { } `, `{"a":1}`, `{"a" : 1 , "b":[1,{"c":"}"}],"d":"x\"y\\"}`, `{"a":1,"a":true}`,
		`{"\u00e9":null,"q\"":-1.5e3}`, `{"a":"x\\","b":"\\\"","c":"\\\\\"\\"}`, `{"\\":"\"\"","\"\\":["\\",{"\\\\":"}"}]}`, "{\n  \"a\": {\n    \"b\": [\n      1\n    ]\n  },\n  \"c\": false\n}\n",
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for range 3000 {
		obj := randjson.Object(rng, 4)
		compact, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		var indented bytes.Buffer
		if err := json.Indent(&indented, compact, "", strings.Repeat(" ", rng.IntN(3))); err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, string(compact), indented.String())
	}
	for _, in := range inputs {
		members, err := Members([]byte(in))
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		want, err := decodeMembers([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]json.RawMessage{}
		for _, m := range members {
			got[m.Key] = m.Value
			var key string
			if err := json.Unmarshal(m.RawKey, &key); err != nil || key != m.Key {
				t.Errorf("%s: raw key %s is not %q", in, m.RawKey, m.Key)
			}
		}
		if len(got) != len(members) {
			t.Errorf("%s: a key repeats among %d members", in, len(members))
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %q\nwant %q", in, got, want)
		}
	}
	for _, bad := range []string{``, `[]`, `{`, `{"a"}`, `{"a":}`, `{"a":1,,"b":2}`, `{"a":1 "b":2}`, `{1:2}`, `{"a":"x}`} {
		if _, err := Members([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestMembersRepeatedKeys: in objects small and large (past
// linearSearchMax), a repeated key keeps its first place and takes its
// last value.
func TestMembersRepeatedKeys(t *testing.T) {
	for _, n := range []int{3, linearSearchMax, linearSearchMax + 1, 50} {
		var b strings.Builder
		var wantKeys []string
		b.WriteString("{")
		for i := range n {
			key := string(rune('a'+i%26)) + strings.Repeat("x", i/26)
			wantKeys = append(wantKeys, key)
			fmt.Fprintf(&b, "%q:%d,", key, i)
		}
		for i := 0; i < n; i += 2 { // every other key again, last value wins
			fmt.Fprintf(&b, "%q:%d,", wantKeys[i], -i)
		}
		fmt.Fprintf(&b, "%q:true}", wantKeys[n-1])
		members, err := Members([]byte(b.String()))
		if err != nil {
			t.Fatal(err)
		}
		if len(members) != n {
			t.Fatalf("%d keys: %d members", n, len(members))
		}
		for i, m := range members {
			want := fmt.Sprint(i)
			switch {
			case i == n-1:
				want = "true"
			case i%2 == 0:
				want = fmt.Sprint(-i)
			}
			if m.Key != wantKeys[i] || string(m.Value) != want {
				t.Errorf("%d keys: member %d is %s:%s, want %s:%s", n, i, m.Key, m.Value, wantKeys[i], want)
			}
		}
	}
}
