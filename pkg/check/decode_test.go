package check_test

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/argodeploy/argodeploy/pkg/check"
	"github.com/argodeploy/argodeploy/pkg/testcorpus"
)

// TestDecodeTypesSuitJSON checks what makes decoding through JSON give
// the converter's object, on every type the typed kinds reach: each field
// is named by its json tag (the converter lower-cases an untagged field's
// Go name, encoding/json keeps it), an empty name only inlines an embedded
// struct, no field is hidden with "-", map keys are strings, and no type
// unmarshals from text without also unmarshalling from JSON (the converter
// knows json.Unmarshaler only).
func TestDecodeTypesSuitJSON(t *testing.T) {
	unmarshaler := reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler := reflect.TypeFor[encoding.TextUnmarshaler]()
	seen := map[reflect.Type]bool{}
	var problems []string
	var walk func(reflect.Type, string)
	walk = func(t reflect.Type, path string) {
		if seen[t] {
			return
		}
		seen[t] = true
		pt := reflect.PointerTo(t)
		if pt.Implements(unmarshaler) {
			return // both decoders hand it its JSON
		}
		if pt.Implements(textUnmarshaler) {
			problems = append(problems, path+": "+t.String()+" unmarshals from text only")
		}
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array:
			walk(t.Elem(), path+"[]")
		case reflect.Map:
			if t.Key().Kind() != reflect.String {
				problems = append(problems, path+": map key "+t.Key().String())
			}
			walk(t.Elem(), path+"{}")
		case reflect.Struct:
			for i := range t.NumField() {
				f := t.Field(i)
				if !f.IsExported() {
					continue
				}
				tag, ok := f.Tag.Lookup("json")
				name, _, _ := strings.Cut(tag, ",")
				switch {
				case !ok:
					problems = append(problems, fmt.Sprintf("%s.%s (%s): no json tag", path, f.Name, t))
				case name == "-":
					problems = append(problems, fmt.Sprintf("%s.%s (%s): json:\"-\"", path, f.Name, t))
				case name == "" && !f.Anonymous:
					problems = append(problems, fmt.Sprintf("%s.%s (%s): empty name on a named field", path, f.Name, t))
				}
				walk(f.Type, path+"."+name)
			}
		}
	}
	for _, obj := range check.TypedObjects() {
		walk(reflect.TypeOf(obj).Elem(), reflect.TypeOf(obj).Elem().Name())
	}
	sort.Strings(problems)
	for _, p := range problems {
		t.Error(p)
	}
	if len(seen) < 500 {
		t.Errorf("walked %d types; the Argo kinds alone have more", len(seen))
	}
}

// TestFastDecodeMatchesConverter decodes every object of a typed kind in
// the test corpus (the repository's manifests, the upstream Argo examples,
// a generated pipeline) and its variants with one mistake each, strictly
// and not: Decode must give exactly the converter's error, or the
// converter's object. Where the converter and encoding/json disagree (on
// types with their own UnmarshalJSON, such as Argo's AnyString, which
// takes a number, and Item, which keeps a null), Decode must give what
// encoding/json gives: that is how the Argo controllers read the object.
func TestFastDecodeMatchesConverter(t *testing.T) {
	corpus, err := testcorpus.Objects("../..")
	if err != nil {
		t.Fatal(err)
	}
	var objs []*unstructured.Unstructured
	for _, u := range corpus {
		if check.IsTyped(u) {
			objs = append(objs, u)
		}
	}
	base := len(objs)
	for _, u := range objs[:base] {
		objs = append(objs, testcorpus.Variants(u)...)
	}
	fast, errs, asJSON := 0, 0, 0
	for _, u := range objs {
		for _, strict := range []bool{true, false} {
			want, wantErr := check.ConvertSlow(u.DeepCopy(), strict)
			got, gotErr := check.Decode(u.DeepCopy(), strict)
			name := fmt.Sprintf("%s %s/%s strict=%v", u.GetKind(), u.GetNamespace(), u.GetName(), strict)
			if gotErr == nil && (wantErr != nil || !reflect.DeepEqual(got, want)) {
				ref, refErr := decodeStdlib(u, strict)
				if refErr != nil || !reflect.DeepEqual(got, ref) {
					t.Errorf("%s: decoded, but the converter says %v and encoding/json %v", name, wantErr, refErr)
				}
				asJSON++
				continue
			}
			if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
				t.Errorf("%s: error %v, converter says %v", name, gotErr, wantErr)
				continue
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: object differs from the converter's:\n got %#v\nwant %#v", name, got, want)
			}
			if wantErr != nil {
				errs++
			} else {
				fast++
			}
		}
	}
	t.Logf("%d objects (%d variants): %d decoded, %d failing, %d as encoding/json rather than the converter decodes them",
		len(objs), len(objs)-base, fast, errs, asJSON)
	if base < 300 || errs < 100 {
		t.Errorf("corpus too small: %d objects, %d failing decodes", base, errs)
	}
	if asJSON > (fast+errs)/50 {
		t.Errorf("%d objects decoded as encoding/json rather than the converter decodes them: more than the odd custom type", asJSON)
	}
}

// decodeStdlib decodes u into its Go type with encoding/json, as the Argo
// controllers do; strict fails on unknown fields.
func decodeStdlib(u *unstructured.Unstructured, strict bool) (any, error) {
	data, err := json.Marshal(u.Object)
	if err != nil {
		return nil, err
	}
	obj := check.NewTyped(u)
	dec := json.NewDecoder(bytes.NewReader(data))
	if strict {
		dec.DisallowUnknownFields()
	}
	return obj, dec.Decode(obj)
}
