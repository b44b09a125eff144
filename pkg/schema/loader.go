package schema

import (
	"encoding/json"
	"iter"
	"maps"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/xeipuuv/gojsonreference"
	"github.com/xeipuuv/gojsonschema"
)

// documentLoader hands gojsonschema a document as it is. gojsonschema's
// own NewGoLoader marshals the object to JSON and decodes it again, with
// numbers as json.Number, to validate what JSON would hold; that costs
// as much as the validation.
type documentLoader struct{ doc any }

func (l documentLoader) JsonSource() any        { return l.doc }
func (l documentLoader) LoadJSON() (any, error) { return l.doc, nil }
func (l documentLoader) LoaderFactory() gojsonschema.JSONLoaderFactory {
	return &gojsonschema.DefaultJSONLoaderFactory{}
}
func (l documentLoader) JsonReference() (gojsonreference.JsonReference, error) {
	return gojsonreference.NewJsonReference("#")
}

// Loader returns a gojsonschema loader of obj that gives what
// gojsonschema.NewGoLoader gives, faster: a documentLoader of what
// NewGoLoader's round trip through JSON would give, or NewGoLoader itself
// when obj holds a value asJSON does not convert.
func Loader(obj any) gojsonschema.JSONLoader {
	if doc, ok := asJSON(obj); ok {
		return documentLoader{doc}
	}
	return gojsonschema.NewGoLoader(obj)
}

// asJSON returns v as encoding/json would decode its JSON with UseNumber,
// and whether it knows how: it converts maps with string keys, slices of
// any, valid UTF-8 strings (JSON would replace invalid bytes), booleans,
// nil and numbers. What JSON would hold as it is, it returns as it is: a
// map or slice is copied only when something in it is converted, so a
// document without numbers (a cache ConfigMap, most of a mapping) is not
// copied at all. gojsonschema only reads what it validates.
func asJSON(v any) (any, bool) {
	out, _, ok := convert(v)
	return out, ok
}

// convert is asJSON, and whether the result is v itself.
func convert(v any) (out any, same, ok bool) {
	switch v := v.(type) {
	case nil, bool:
		return v, true, true
	case string:
		return v, true, utf8.ValidString(v)
	case int64:
		return json.Number(strconv.FormatInt(v, 10)), false, true
	case int:
		return json.Number(strconv.Itoa(v)), false, true
	case int32, float64, float32:
		text, err := json.Marshal(v) // the number as JSON writes it
		return json.Number(text), false, err == nil
	case map[string]any:
		if v == nil {
			return nil, false, true // JSON's null
		}
		return convertAll(v, maps.All(v), utf8.ValidString, maps.Clone, func(m map[string]any, k string, y any) { m[k] = y })
	case []any:
		if v == nil {
			return nil, false, true
		}
		return convertAll(v, slices.All(v), func(int) bool { return true }, slices.Clone, func(l []any, i int, y any) { l[i] = y })
	}
	return nil, false, false
}

// convertAll is convert of a map or list v, whose keys and values all
// yields: v itself when no value converts to something else, else a clone
// of v with set to each value that does; not ok when a key is not valid or
// a value does not convert.
func convertAll[C, K any](v C, all iter.Seq2[K, any], valid func(K) bool, clone func(C) C, set func(C, K, any)) (out any, same, ok bool) {
	var copied C
	changed := false
	for k, x := range all {
		y, same, ok := convert(x)
		if !ok || !valid(k) {
			return nil, false, false
		}
		if !same {
			if !changed {
				copied, changed = clone(v), true
			}
			set(copied, k, y)
		}
	}
	if !changed {
		return v, true, true
	}
	return copied, false, true
}
