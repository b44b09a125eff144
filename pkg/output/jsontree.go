package output

import (
	"encoding/json"
	"errors"
	"slices"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// errUnexpected is what tree returns for input it does not handle; its
// caller then uses encoding/json.
var errUnexpected = errors.New("jsontree: unexpected input")

// tree decodes data, the JSON that encoding/json wrote for one object,
// into what encoding/json's Decoder with UseNumber decodes it to, with
// each JSON object as an object (members sorted by key) instead of a map:
// []any, string, json.Number, bool and nil otherwise. It takes a fraction
// of the time: it neither reflects nor hashes, nor checks the grammar
// beyond what it needs, and it reuses what d allocated for the previous
// trees. Input it does not expect (bytes that are not UTF-8, escaped UTF-16
// surrogates, which encoding/json never writes) is errUnexpected.
func (d *treeDecoder) tree(data []byte) (object, error) {
	v, err := d.whole(data)
	if err != nil {
		return nil, err
	}
	m, ok := v.(object)
	if !ok {
		return nil, errUnexpected
	}
	return m, nil
}

// whole decodes data, one JSON value with nothing but space around it.
func (d *treeDecoder) whole(data []byte) (any, error) {
	if d.short == nil {
		d.short = map[string]string{}
	}
	d.data, d.pos = data, 0
	d.space()
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	d.space()
	if d.pos != len(d.data) {
		return nil, errUnexpected
	}
	return v, nil
}

type treeDecoder struct {
	data []byte
	pos  int
	// short holds the short strings decoded so far: keys and names repeat
	// in every item of a list, and need not be allocated again.
	short map[string]string
	// members and items hold the members of the objects and the items of
	// the arrays being decoded (members also those typedTree is building),
	// each allocated once at its own size when complete.
	members []member
	items   []any
	// unescaped holds the last string unescape decoded.
	unescaped []byte
	// alias makes strings without escapes point into the data instead of
	// copying them: for a tree that is used up before its data changes
	// (encodeYAML), and whose strings nothing keeps.
	alias bool
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
	d.space()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		return object{}, nil
	}
	base := len(d.members)
	defer func() { d.members = d.members[:base] }()
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
		d.members = append(d.members, member{key.(string), v})
		if done, err := d.separator('}'); done || err != nil {
			return d.takeMembers(base).sorted(), err
		}
	}
}

func (d *treeDecoder) array() (any, error) {
	d.pos++ // [
	d.space()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		return []any{}, nil
	}
	base := len(d.items)
	defer func() { d.items = d.items[:base] }()
	for {
		d.space()
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		d.items = append(d.items, v)
		if done, err := d.separator(']'); done || err != nil {
			return slices.Clone(d.items[base:]), err
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

// string decodes a string.
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
				if d.alias {
					return unsafe.String(unsafe.SliceData(s), len(s)), nil
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
			return d.unescape(d.data[start+1 : d.pos-1])
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

// unescape decodes s, the body of a JSON string with escapes, as
// encoding/json does. Escaped UTF-16 surrogates, which encoding/json never
// writes, are errUnexpected.
func (d *treeDecoder) unescape(s []byte) (string, error) {
	if !utf8.Valid(s) {
		return "", errUnexpected
	}
	b := d.unescaped[:0]
	for i := 0; i < len(s); {
		if s[i] != '\\' {
			b = append(b, s[i])
			i++
			continue
		}
		if i+1 == len(s) {
			return "", errUnexpected
		}
		switch c := s[i+1]; c {
		case '"', '\\', '/':
			b = append(b, c)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := hex4(s[i+2:])
			if !ok || utf16.IsSurrogate(r) {
				return "", errUnexpected
			}
			b = utf8.AppendRune(b, r)
			i += 6
			continue
		default:
			return "", errUnexpected
		}
		i += 2
	}
	d.unescaped = b
	return string(b), nil
}

// hex4 decodes the four hexadecimal digits s starts with.
func hex4(s []byte) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
