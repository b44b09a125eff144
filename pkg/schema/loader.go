package schema

import (
	"encoding/json"
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
// nil and numbers.
func asJSON(v any) (any, bool) {
	switch v := v.(type) {
	case nil, bool:
		return v, true
	case string:
		return v, utf8.ValidString(v)
	case int64:
		return json.Number(strconv.FormatInt(v, 10)), true
	case int:
		return json.Number(strconv.Itoa(v)), true
	case int32, float64, float32:
		text, err := json.Marshal(v) // the number as JSON writes it
		return json.Number(text), err == nil
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			if !utf8.ValidString(k) {
				return nil, false
			}
			var ok bool
			if out[k], ok = asJSON(x); !ok {
				return nil, false
			}
		}
		return out, true
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			var ok bool
			if out[i], ok = asJSON(x); !ok {
				return nil, false
			}
		}
		return out, true
	}
	return nil, false
}
