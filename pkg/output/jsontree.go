package output

import (
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// errUnexpected is what jsonTree returns for input it does not handle;
// its caller then uses encoding/json.
var errUnexpected = errors.New("jsontree: unexpected input")

// jsonTree decodes data, the JSON that encoding/json wrote for one object,
// into what encoding/json's Decoder with UseNumber decodes it to, with
// each JSON object as an object (members sorted by key) instead of a map:
// []any, string, json.Number, bool and nil otherwise. It takes a fraction
// of the time: it neither reflects nor hashes, nor checks the grammar
// beyond what it needs. Strings with escapes are left to encoding/json.
// Input it does not expect, bytes that are not UTF-8 included, is
// errUnexpected.
func jsonTree(data []byte) (object, error) {
	d := treeDecoder{data: data, short: map[string]string{}}
	d.space()
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	d.space()
	m, ok := v.(object)
	if !ok || d.pos != len(d.data) {
		return nil, errUnexpected
	}
	return m, nil
}

type treeDecoder struct {
	data []byte
	pos  int
	// short holds the short strings decoded so far: keys and names repeat
	// in every item of a list, and need not be allocated again.
	short map[string]string
}

// maxShared is the length up to which strings are shared.
const maxShared = 64

func (d *treeDecoder) space() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *treeDecoder) value() (any, error) {
	if d.pos >= len(d.data) {
		return nil, errUnexpected
	}
	switch c := d.data[d.pos]; {
	case c == '{':
		return d.object()
	case c == '[':
		return d.array()
	case c == '"':
		return d.string()
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	case d.literal("true"):
		return true, nil
	case d.literal("false"):
		return false, nil
	case d.literal("null"):
		return nil, nil
	}
	return nil, errUnexpected
}

func (d *treeDecoder) literal(word string) bool {
	if len(d.data)-d.pos >= len(word) && string(d.data[d.pos:d.pos+len(word)]) == word {
		d.pos += len(word)
		return true
	}
	return false
}

func (d *treeDecoder) object() (any, error) {
	d.pos++ // {
	m := object{}
	d.space()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		return m, nil
	}
	for {
		d.space()
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return nil, errUnexpected
		}
		key, err := d.string()
		if err != nil {
			return nil, err
		}
		d.space()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return nil, errUnexpected
		}
		d.pos++
		d.space()
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		m = append(m, member{key.(string), v})
		if done, err := d.separator('}'); done || err != nil {
			return m.sorted(), err
		}
	}
}

func (d *treeDecoder) array() (any, error) {
	d.pos++ // [
	list := []any{}
	d.space()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		return list, nil
	}
	for {
		d.space()
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		list = append(list, v)
		if done, err := d.separator(']'); done || err != nil {
			return list, err
		}
	}
}

// separator reads the comma after a member or item, or the closing
// bracket, and reports whether it was the latter.
func (d *treeDecoder) separator(closing byte) (done bool, err error) {
	d.space()
	switch {
	case d.pos >= len(d.data):
		return false, errUnexpected
	case d.data[d.pos] == ',':
		d.pos++
		return false, nil
	case d.data[d.pos] == closing:
		d.pos++
		return true, nil
	}
	return false, errUnexpected
}

// string decodes a string; one with an escape is decoded by encoding/json.
func (d *treeDecoder) string() (any, error) {
	start := d.pos
	d.pos++ // "
	escaped := false
	for d.pos < len(d.data) {
		switch c := d.data[d.pos]; {
		case c == '"':
			d.pos++
			if !escaped {
				s := d.data[start+1 : d.pos-1]
				if !utf8.Valid(s) {
					return nil, errUnexpected
				}
				if len(s) > maxShared {
					return string(s), nil
				}
				if shared, ok := d.short[string(s)]; ok {
					return shared, nil
				}
				str := string(s)
				d.short[str] = str
				return str, nil
			}
			var s string
			if err := json.Unmarshal(d.data[start:d.pos], &s); err != nil {
				return nil, errUnexpected
			}
			return s, nil
		case c == '\\':
			escaped = true
			d.pos += 2
		case c < 0x20:
			return nil, errUnexpected
		default:
			d.pos++
		}
	}
	return nil, errUnexpected
}

// number takes a number's text as it is, as UseNumber does; it checks
// only that the text is made of number characters.
func (d *treeDecoder) number() (any, error) {
	start := d.pos
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		if !(c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E') {
			break
		}
		d.pos++
	}
	if !json.Valid(d.data[start:d.pos]) {
		return nil, errUnexpected
	}
	return json.Number(d.data[start:d.pos]), nil
}
