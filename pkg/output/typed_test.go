package output

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	eventsv1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/randfill"

	"github.com/argodeploy/argodeploy/pkg/kinds"
	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/render"
	"github.com/argodeploy/argodeploy/pkg/testcorpus/synthetic"
)

// marshalReference is what typed must build for v, or false when
// encoding/json refuses v: json.Marshal decoded with UseNumber, objects
// as sorted members.
func marshalReference(t *testing.T, v any) (any, bool) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var decoded any
	if err := dec.Decode(&decoded); err != nil {
		t.Fatalf("%T: encoding/json cannot read its own %s: %v", v, data, err)
	}
	return fromMap(decoded), true
}

// sharedDecoder builds every tree of the tests in turn, as an emitter's
// decoder does the documents of a run, fallbacks included.
var sharedDecoder = treeDecoder{alias: true}

// checkTyped fails t unless typed builds for v what encoding/json writes
// and decodes, or leaves v to encoding/json (errFallback); it never builds
// a tree for what encoding/json refuses. It reports whether typed built v.
func checkTyped(t *testing.T, v any) bool {
	t.Helper()
	got, err := new(treeDecoder).typed(reflect.ValueOf(v), 0)
	again, againErr := sharedDecoder.typed(reflect.ValueOf(v), 0)
	if againErr != err || !reflect.DeepEqual(again, got) {
		t.Errorf("%T: a reused decoder gives %#v (%v), a new one %#v (%v)", v, again, againErr, got, err)
	}
	want, ok := marshalReference(t, v)
	if err != nil {
		if err != errFallback {
			t.Errorf("%T: error %v, want errFallback", v, err)
		}
		return false
	}
	if !ok {
		t.Errorf("%T: typed built %#v where encoding/json fails", v, got)
		return true
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%T:\n got %#v\nwant %#v", v, got, want)
	}
	return true
}

type tagged struct {
	X string `json:"X"`
}

type plain struct {
	X string
	W string
	Z string `json:"z"`
}

type alsoPlain struct {
	W string
}

type inner struct {
	A string `json:"a"`
	B int    `json:"b,omitempty"`
}

type unexportedEmbed struct {
	Promoted string `json:"promoted"`
}

// embedding exercises Go's rules for embedded fields as encoding/json
// modifies them: of the two X at the same depth the tagged one stays, the
// two untagged W disappear, z is promoted, inner's fields come through a
// pointer.
type embedding struct {
	tagged
	plain
	alsoPlain
	*inner
	unexportedEmbed
	Y        string `json:"y"`
	hidden   string
	Skipped  string `json:"-"`
	Dash     string `json:"-,"`
	Spaced   string `json:"with space"`
	BadTag   string `json:"bad\\tag"`
	Untagged string
}

// shadowing has an untagged x at depth 0, which hides the embedded ones.
type shadowing struct {
	embedding
	X int
}

type valueMarshaler struct{ v string }

func (m valueMarshaler) MarshalJSON() ([]byte, error) {
	return []byte(` {"v" : ` + strconv.Quote(m.v) + `, "n": [1, 2.50, -0]} `), nil
}

type pointerMarshaler struct{ N int }

func (m *pointerMarshaler) MarshalJSON() ([]byte, error) {
	return []byte(`["pointer", ` + strconv.Itoa(m.N) + `]`), nil
}

type pointerText struct{ S string }

func (p *pointerText) MarshalText() ([]byte, error) { return []byte("text:" + p.S), nil }

type valueText int

func (v valueText) MarshalText() ([]byte, error) { return []byte(fmt.Sprintf("#%d", int(v))), nil }

type failingMarshaler struct{}

func (failingMarshaler) MarshalJSON() ([]byte, error) { return nil, errors.New("boom") }

type invalidMarshaler struct{}

func (invalidMarshaler) MarshalJSON() ([]byte, error) { return []byte(`{"a":`), nil }

type invalidText struct{}

func (invalidText) MarshalText() ([]byte, error) { return []byte{0xff}, nil }

type zeroer struct{ N int }

func (z zeroer) IsZero() bool { return z.N < 0 }

type pointerZeroer struct{ N int }

func (z *pointerZeroer) IsZero() bool { return z.N == 7 }

type omitZero struct {
	Z  zeroer         `json:"z,omitzero"`
	PZ pointerZeroer  `json:"pz,omitzero"`
	T  time.Time      `json:"t,omitzero"`
	P  *int           `json:"p,omitzero"`
	I  any            `json:"i,omitzero"`
	S  []string       `json:"s,omitzero"`
	E  []string       `json:"e,omitempty"`
	M  map[string]int `json:"m,omitempty"`
	F  float64        `json:"f,omitempty"`
	A0 [0]int         `json:"a0,omitempty"`
	A2 [2]int         `json:"a2,omitempty"`
}

type quoted struct {
	N int `json:"n,string"`
}

type quotedStruct struct {
	In inner `json:"in,string"` // not quoted: only scalars are
}

type cycle struct {
	Next *cycle `json:"next,omitempty"`
}

type name string

// typedCases are values that reach each branch of typed, with whether it
// builds them (true) or leaves them to encoding/json.
func typedCases() []struct {
	v     any
	build bool
} {
	seven := 7
	loop := &cycle{}
	loop.Next = loop
	deep := &cycle{}
	for range 1200 {
		deep = &cycle{Next: deep}
	}
	return []struct {
		v     any
		build bool
	}{
		{embedding{tagged: tagged{"a"}, plain: plain{"b", "w", "z"}, alsoPlain: alsoPlain{"w2"}, inner: &inner{A: "in"}, Y: "y", hidden: "h", Dash: "d", Spaced: "s", BadTag: "t", Untagged: "u", unexportedEmbed: unexportedEmbed{"p"}}, true},
		{embedding{}, true},
		{&shadowing{X: 3}, true},
		{map[string]any{"v": valueMarshaler{"q\"<&"}, "p": &pointerMarshaler{2}, "nilp": (*pointerMarshaler)(nil)}, true},
		{map[string]pointerMarshaler{"not addressable": {3}}, true},
		{[]pointerMarshaler{{4}, {5}}, true},
		{&struct{ P pointerMarshaler }{pointerMarshaler{6}}, true},
		{struct{ P pointerMarshaler }{pointerMarshaler{6}}, true},
		{[]pointerText{{"a"}}, true},
		{map[string]pointerText{"k": {"b"}}, true},
		{[]valueText{1, 2}, true},
		{map[string]any{"t": valueText(3), "tp": (*valueText)(nil)}, true},
		{omitZero{}, true},
		{omitZero{Z: zeroer{-1}, PZ: pointerZeroer{7}, P: &seven, I: 0, S: []string{}, E: []string{}, M: map[string]int{}}, true},
		{&omitZero{Z: zeroer{1}, PZ: pointerZeroer{1}, T: time.Unix(1e9, 0).UTC(), I: (*int)(nil), S: []string{"s"}, F: -0.5}, true},
		{[]omitZero{{Z: zeroer{-1}, PZ: pointerZeroer{7}}}, true},
		{map[string]any{"bytes": []byte("\x00\xffbytes"), "nil bytes": []byte(nil), "array": [3]byte{1, 2, 3}, "raw": json.RawMessage(`{"b":1,"a":[true,null]}`), "nil raw": json.RawMessage(nil)}, true},
		{map[string]any{"f64": []float64{0, -0.0, 1, 1.5, 1e20, 1e21, 1e-6, 1e-7, -1e-7, 123456789.125, math.MaxFloat64, math.SmallestNonzeroFloat64}}, true},
		{map[string]any{"f32": []float32{0, 1.1, 1e20, 1e21, 1e-6, 1e-7, math.MaxFloat32}}, true},
		{map[string]any{"i": []int64{math.MinInt64, -1, 0, math.MaxInt64}, "u": []uint64{0, math.MaxUint64}, "i8": int8(-8), "u8": uint8(8), "b": []bool{true, false}}, true},
		{map[name]int{"b": 2, "a": 1}, true},
		{map[string]any{"nil map": map[string]int(nil), "empty map": map[string]int{}, "nil slice": []int(nil), "empty slice": []int{}, "nil": nil, "nested": []any{map[string]any{}, []any{}, "x"}}, true},
		{map[string]string{"é\u2028": "\u0000\t\"\\<>&\u2029"}, true},
		{[]string{"a"}, true},
		{"string", true},
		{nil, true},
		{quotedStruct{In: inner{A: "x"}}, true},
		{quoted{N: 1}, false},
		{map[int]string{1: "a"}, false},
		{map[string]string{"k": "\xff"}, false},
		{map[string]string{"\xfe": "v"}, false},
		{[]any{math.NaN()}, false},
		{[]any{math.Inf(-1)}, false},
		{[]any{failingMarshaler{}}, false},
		{[]any{invalidMarshaler{}}, false},
		{[]any{invalidText{}}, false},
		{[]any{json.Number("12")}, false},
		{[]any{func() {}}, false},
		{[]any{complex(1, 2)}, false},
		{loop, false},
		{deep, false},
		{eventsv1.K8SResource{}, false},
		{map[string]any{"time": metav1.NewTime(time.Unix(1e9, 0)), "zero time": metav1.Time{}, "quantity": resource.MustParse("1500m"), "int": intstr.FromInt32(3), "str": intstr.FromString("50%"), "duration": metav1.Duration{Duration: time.Minute}, "raw": runtime.RawExtension{Raw: []byte(`{"a":1}`)}}, true},
	}
}

// TestTypedTreeMatchesJSON: on values that reach each of encoding/json's
// encoders, on every object the examples and 100 synthetic services
// render to, and on 500 random objects of every typed kind, typed builds
// what encoding/json writes or leaves the value to it; it builds every
// rendered and random object itself.
func TestTypedTreeMatchesJSON(t *testing.T) {
	for i, c := range typedCases() {
		if built := checkTyped(t, c.v); built != c.build {
			t.Errorf("case %d (%T): built %v, want %v", i, c.v, built, c.build)
		}
	}
	for _, obj := range renderedObjects(t) {
		if !checkTyped(t, obj) {
			t.Errorf("rendered %s left to encoding/json", describe(obj))
		}
		if _, err := sharedDecoder.typedTree(obj); err != nil {
			t.Errorf("rendered %s: typedTree: %v", describe(obj), err)
		}
	}
	built, all := 0, 0
	for _, gk := range typedKinds() {
		for seed := range 500 {
			all++
			if checkTyped(t, randomObject(gk, uint64(seed))) {
				built++
			}
		}
	}
	if built != all {
		t.Errorf("typed built only %d of %d random objects", built, all)
	}
}

// FuzzTypedTree fills a random object of a typed kind from the seed and
// checks typed against encoding/json.
func FuzzTypedTree(f *testing.F) {
	for i := range 8 {
		f.Add(uint64(i), uint8(i))
	}
	gks := typedKinds()
	f.Fuzz(func(t *testing.T, seed uint64, kind uint8) {
		checkTyped(t, randomObject(gks[int(kind)%len(gks)], seed))
	})
}

// TestEncodeFallsBackToJSON: an object typed leaves to encoding/json is
// still written, and one encoding/json refuses still fails.
func TestEncodeFallsBackToJSON(t *testing.T) {
	cm := configMap("fallback")
	cm.Data["bad"] = "\xff"
	if _, err := sharedDecoder.typedTree(cm); err != errFallback {
		t.Fatalf("typedTree: %v, want errFallback", err)
	}
	var buf bytes.Buffer
	if err := YAML(&buf, []Object{cm}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "bad: \uFFFD\n") {
		t.Errorf("want encoding/json's replacement character, got\n%s", buf.String())
	}
	trigger := sensor()
	trigger.Spec.Triggers[0].Template.K8s.Source.Resource = &eventsv1.K8SResource{}
	if err := YAML(&buf, []Object{trigger}); err == nil || !strings.Contains(err.Error(), "MarshalJSON") {
		t.Errorf("want encoding/json's error for an empty resource, got %v", err)
	}
}

// renderedObjects are the objects the examples and 100 synthetic services
// render to.
func renderedObjects(t *testing.T) []Object {
	t.Helper()
	objs, err := synthetic.Objects(100)
	if err != nil {
		t.Fatal(err)
	}
	examples, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(examples) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, file := range examples {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		m, err := mapping.Parse(file, data)
		if err != nil {
			t.Fatal(err)
		}
		rendered, err := render.Render(m, render.Options{ShardBytes: render.DefaultShardBytes})
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, rendered...)
	}
	return render.Convert[Object](objs)
}

// typedKinds are the kinds with a Go type, in a fixed order.
func typedKinds() []string {
	var out []string
	for gk := range kinds.ByGroupKind {
		out = append(out, gk.String())
	}
	slices.Sort(out)
	return out
}

// randomObject is an object of the kind named gk filled at random from
// seed; resources and raw extensions hold JSON, as they do when decoded.
func randomObject(gk string, seed uint64) any {
	for k, typed := range kinds.ByGroupKind {
		if k.String() != gk {
			continue
		}
		obj := typed.New()
		rng := rand.New(rand.NewPCG(seed, 7))
		randfill.New().RandSource(rngSource{rng}).NilChance(0.3).NumElements(0, 2).MaxDepth(8).Funcs(
			func(r *eventsv1.K8SResource, c randfill.Continue) {
				r.Value = []byte(fmt.Sprintf(`{"kind":"Workflow","n":%d,"s":%q}`, c.Int63(), c.String(0)))
			},
			func(r *runtime.RawExtension, c randfill.Continue) {
				r.Raw = []byte(fmt.Sprintf(`{"n":%d}`, c.Int63()))
			},
			func(q *resource.Quantity, c randfill.Continue) {
				*q = *resource.NewMilliQuantity(c.Int63n(1e9), resource.DecimalSI)
			},
			func(a *eventsv1.Amount, c randfill.Continue) {
				a.Value = []byte(strconv.FormatFloat(c.Float64(), 'g', -1, 64))
			},
			func(f *metav1.FieldsV1, c randfill.Continue) {
				f.Raw = []byte(fmt.Sprintf(`{"f:n":%d}`, c.Int63()))
			},
			func(v *json.RawMessage, c randfill.Continue) {
				*v = json.RawMessage(strconv.Itoa(int(c.Int31())))
			},
			func(v *any, c randfill.Continue) {
				*v = c.String(0)
			},
		).Fill(obj)
		return obj
	}
	panic("unknown kind " + gk)
}

// rngSource adapts math/rand/v2 to the math/rand Source randfill takes.
type rngSource struct{ r *rand.Rand }

func (s rngSource) Int63() int64 { return s.r.Int64() & math.MaxInt64 }
func (s rngSource) Seed(int64)   {}
