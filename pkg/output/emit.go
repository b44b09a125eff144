package output

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// emitter writes exactly the YAML that yaml.v3 writes for node(v) with a
// two-space indent and compact sequences, several times faster: it lays
// out mappings and sequences itself and writes directly the scalars that
// are plain in any case (names, paths, quantities) and the multi-line ones
// that are plain literal blocks (scripts, cache entries). Every other
// scalar (quoted, number-like, odd multi-line) is rendered once by yaml.v3
// itself and remembered, so the quoting rules stay yaml.v3's.
type emitter struct {
	buf  bytes.Buffer
	json bytes.Buffer      // the JSON of the object being written
	tree treeDecoder       // decodes it, its strings pointing into it
	memo map[string]string // string → its yaml.v3 rendering as a mapping value at column 0
}

func newEmitter() *emitter {
	return &emitter{memo: map[string]string{}, tree: treeDecoder{alias: true}}
}

// object is a JSON object as the emitter writes it: its members sorted by
// key, each key once. The writers build one per document rather than maps,
// which cost more to fill and must be sorted each time they are written.
type object []member

type member struct {
	key   string
	value any // object, []any, string, json.Number, bool or nil
}

// sorted sorts o's members by key; of members with the same key, the
// last one stays, as when decoding into a map.
func (o object) sorted() object {
	if slices.IsSortedFunc(o, compareMembers) && !hasDuplicateKeys(o) {
		return o
	}
	slices.SortStableFunc(o, compareMembers)
	out := o[:0]
	for i, m := range o {
		if i+1 < len(o) && o[i+1].key == m.key {
			continue
		}
		out = append(out, m)
	}
	return out
}

func compareMembers(a, b member) int { return strings.Compare(a.key, b.key) }

// hasDuplicateKeys reports whether sorted members repeat a key.
func hasDuplicateKeys(o object) bool {
	for i := 1; i < len(o); i++ {
		if o[i].key == o[i-1].key {
			return true
		}
	}
	return false
}

// get returns the value of key in o.
func (o object) get(key string) (any, bool) {
	i, found := slices.BinarySearchFunc(o, key, func(m member, k string) int { return strings.Compare(m.key, k) })
	if !found {
		return nil, false
	}
	return o[i].value, true
}

// fromMap converts a decoded JSON value, maps at any depth, to objects.
func fromMap(v any) any {
	switch v := v.(type) {
	case map[string]any:
		o := make(object, 0, len(v))
		for k, c := range v {
			o = append(o, member{k, fromMap(c)})
		}
		slices.SortFunc(o, compareMembers)
		return o
	case []any:
		out := make([]any, len(v))
		for i, c := range v {
			out[i] = fromMap(c)
		}
		return out
	}
	return v
}

// toMap converts objects at any depth back to maps.
func toMap(v any) any {
	switch v := v.(type) {
	case object:
		m := make(map[string]any, len(v))
		for _, c := range v {
			m[c.key] = toMap(c.value)
		}
		return m
	case []any:
		out := make([]any, len(v))
		for i, c := range v {
			out[i] = toMap(c)
		}
		return out
	}
	return v
}

// document writes one document for the map m. A document with a key
// that YAML cannot write as a simple key (multi-line, or long) is written
// by yaml.v3 whole: such keys take the "? key" form, which the emitter
// does not lay out.
func (e *emitter) document(m object) error {
	if len(m) == 0 {
		e.buf.WriteString("{}\n")
		return nil
	}
	start := e.buf.Len()
	err := e.mapping(m, 0, false)
	if err != errComplexKey {
		return err
	}
	e.buf.Truncate(start)
	out, err := yamlV3(m)
	e.buf.Write(out)
	return err
}

// errComplexKey stops the emitter at a key it does not lay out.
var errComplexKey = errors.New("emitter: complex key")

// isComplexKey reports whether yaml.v3 writes k as a complex key: it has a
// line break or more than 100 bytes (yaml.v3 writes keys over 128 as
// complex keys, counting quotes and escapes).
func isComplexKey(k string) bool {
	if len(k) > 100 {
		return true
	}
	// Byte by byte: the lead bytes 0xC2 and 0xE2 never occur inside
	// another character, so this finds what strings.ContainsAny(k,
	// "\n\r\u0085\u2028\u2029") finds, without decoding runes.
	for i := 0; i < len(k); i++ {
		switch k[i] {
		case '\n', '\r':
			return true
		case 0xC2: // U+0085
			if i+1 < len(k) && k[i+1] == 0x85 {
				return true
			}
		case 0xE2: // U+2028, U+2029
			if i+2 < len(k) && k[i+1] == 0x80 && (k[i+2] == 0xA8 || k[i+2] == 0xA9) {
				return true
			}
		}
	}
	return false
}

// yamlV3 is yaml.v3's encoding of node(v), two-space indent, compact
// sequences: the output the emitter reproduces.
func yamlV3(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	enc.CompactSeqIndent()
	if err := enc.Encode(node(v)); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// node builds the YAML node of a value from Encode, with sorted keys.
// Strings stay strings (the encoder quotes those that would read as another
// type); json.Number stays a number.
func node(v any) *yaml.Node {
	switch v := v.(type) {
	case map[string]any:
		return node(fromMap(v))
	case object:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for _, m := range v {
			n.Content = append(n.Content, str(m.key), node(m.value))
		}
		return n
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, c := range v {
			n.Content = append(n.Content, node(c))
		}
		return n
	case string:
		n := str(v)
		if strings.Contains(v, "\n") {
			n.Style = yaml.LiteralStyle
		}
		return n
	case json.Number:
		tag := "!!int"
		if strings.ContainsAny(string(v), ".eE") {
			tag = "!!float"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: string(v)}
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v)}
	default: // nil: Encode's JSON has no other types
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
	}
}

// mapping writes the entries of m at column indent. first says the first
// entry continues a line already started ("- " of a sequence item).
func (e *emitter) mapping(m object, indent int, first bool) error {
	for i, entry := range m {
		k := entry.key
		if isComplexKey(k) {
			return errComplexKey
		}
		if i > 0 || !first {
			e.pad(indent)
		}
		if err := e.scalar(k, indent, true); err != nil {
			return err
		}
		e.buf.WriteByte(':')
		if err := e.value(entry.value, indent); err != nil {
			return err
		}
	}
	return nil
}

// value writes v after "key:" whose key is at column indent.
func (e *emitter) value(v any, indent int) error {
	switch v := v.(type) {
	case object:
		if len(v) == 0 {
			e.buf.WriteString(" {}\n")
			return nil
		}
		e.buf.WriteByte('\n')
		return e.mapping(v, indent+2, false)
	case []any:
		if len(v) == 0 {
			e.buf.WriteString(" []\n")
			return nil
		}
		e.buf.WriteByte('\n')
		return e.sequence(v, indent)
	}
	e.buf.WriteByte(' ')
	return e.leaf(v, indent)
}

// sequence writes the items of s, their dashes at column indent.
func (e *emitter) sequence(s []any, indent int) error {
	for _, item := range s {
		e.pad(indent)
		if err := e.item(item, indent); err != nil {
			return err
		}
	}
	return nil
}

// item writes one sequence item after its "- " at column indent.
func (e *emitter) item(v any, indent int) error {
	e.buf.WriteString("- ")
	switch v := v.(type) {
	case object:
		if len(v) == 0 {
			e.buf.WriteString("{}\n")
			return nil
		}
		return e.mapping(v, indent+2, true)
	case []any:
		if len(v) == 0 {
			e.buf.WriteString("[]\n")
			return nil
		}
		for i, inner := range v {
			if i > 0 {
				e.pad(indent + 2)
			}
			if err := e.item(inner, indent+2); err != nil {
				return err
			}
		}
		return nil
	}
	return e.leaf(v, indent)
}

// leaf writes a scalar value and ends its line.
func (e *emitter) leaf(v any, indent int) error {
	switch v := v.(type) {
	case string:
		if err := e.scalar(v, indent, false); err != nil {
			return err
		}
	case json.Number:
		e.buf.WriteString(string(v))
	case bool:
		e.buf.WriteString(strconv.FormatBool(v))
	default: // nil: Encode's JSON has no other types
		e.buf.WriteString("null")
	}
	e.buf.WriteByte('\n')
	return nil
}

// scalar writes the string s: directly when yaml.v3 writes it plain in any
// case, else as yaml.v3 renders it, the lines of a block scalar indented
// below the key or dash at column indent. A key never ends its line here.
func (e *emitter) scalar(s string, indent int, key bool) error {
	if alwaysPlain(s) {
		e.buf.WriteString(s)
		return nil
	}
	if !key && simpleLiteral(s) {
		e.literal(s, indent)
		return nil
	}
	rendered, ok := e.memo[s]
	if !ok {
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		value := str(s)
		if strings.Contains(s, "\n") {
			value.Style = yaml.LiteralStyle
		}
		doc := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{str("k"), value}}
		if err := enc.Encode(doc); err != nil {
			return err
		}
		if err := enc.Close(); err != nil {
			return err
		}
		rendered = strings.TrimSuffix(strings.TrimPrefix(buf.String(), "k: "), "\n")
		e.memo[strings.Clone(s)] = rendered // s may point into the JSON being written
	}
	if key || !strings.Contains(rendered, "\n") {
		e.buf.WriteString(rendered)
		return nil
	}
	// A block scalar: its header, then its lines, indented two more than
	// the key at column 0 in the rendering, so shifted by indent here.
	lines := strings.Split(rendered, "\n")
	e.buf.WriteString(lines[0])
	for _, line := range lines[1:] {
		e.buf.WriteByte('\n')
		if line != "" {
			e.pad(indent)
		}
		e.buf.WriteString(line)
	}
	return nil
}

// simpleLiteral reports whether yaml.v3 writes the multi-line string s
// as a plain literal block: "|" or "|-", then its lines. That is so when
// s is printable ASCII and line breaks, does not start with a space or a
// break (which need an indentation hint), has no space before a break or
// at its end (which yaml.v3 double-quotes), and does not end with two
// breaks (which need the "|+" hint). Most multi-line values are such
// (scripts, cache entries); the others go through yaml.v3.
// TestEmitterMatchesYAMLv3 and FuzzEmitter hold it to yaml.v3's choices.
func simpleLiteral(s string) bool {
	if !strings.Contains(s, "\n") || s[0] == ' ' || s[0] == '\n' || s[len(s)-1] == ' ' || strings.HasSuffix(s, "\n\n") {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\n':
			if s[i-1] == ' ' {
				return false
			}
		case c < 0x20 || c > 0x7e:
			return false
		}
	}
	return true
}

// literal writes s, for which simpleLiteral holds, as a literal block
// whose lines are indented two more than the key or dash at column indent.
func (e *emitter) literal(s string, indent int) {
	if s[len(s)-1] == '\n' {
		e.buf.WriteString("|")
		s = s[:len(s)-1]
	} else {
		e.buf.WriteString("|-")
	}
	for line := range strings.SplitSeq(s, "\n") {
		e.buf.WriteByte('\n')
		if line != "" {
			e.pad(indent + 2)
			e.buf.WriteString(line)
		}
	}
}

func (e *emitter) pad(n int) {
	for n > len(spaces) {
		e.buf.WriteString(spaces)
		n -= len(spaces)
	}
	e.buf.WriteString(spaces[:n])
}

const spaces = "                                                                "

// alwaysPlain reports whether yaml.v3 writes s as a plain scalar whatever
// its place: a letter, '^' or '/' first, no spaces or control characters,
// ':' only inside and not before a space, and not a word YAML reads as a
// bool or null (YAML 1.1's included, which str quotes).
// TestEmitterMatchesYAMLv3 and FuzzEmitter hold it to yaml.v3's choices.
func alwaysPlain(s string) bool {
	if s == "" || len(s) > 128 || !isLetter(s[0]) && s[0] != '^' && s[0] != '/' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case isLetter(c) || c >= '0' && c <= '9':
		case c == ':':
			if i == len(s)-1 {
				return false
			}
		case plainPunctuation[c]:
		default:
			return false
		}
	}
	if len(s) <= len("false") { // the longest of the words below
		switch strings.ToLower(s) {
		case "true", "false", "null", "y", "yes", "n", "no", "on", "off":
			return false
		}
	}
	return true
}

// plainPunctuation marks the punctuation alwaysPlain allows after the
// first character.
var plainPunctuation = func() (set [256]bool) {
	for _, c := range []byte("-_./^$\\[]{}()*+?|,=~%@!&<>;\"'`#") {
		set[c] = true
	}
	return set
}()

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
