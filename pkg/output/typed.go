package output

import (
	"encoding"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// errFallback is what typedTree returns for a value it does not build
// itself; its caller then marshals the object with encoding/json and
// decodes that, which gives the same tree or encoding/json's error.
var errFallback = errors.New("typed tree: left to encoding/json")

// maxDepth bounds typedTree's recursion; deeper values (or cycles, which
// encoding/json reports as errors) are left to encoding/json.
const maxDepth = 1000

// typedTree is tree(json.Marshal(v)) built from v by reflection, without
// writing and parsing the JSON: the same members under the same names,
// omitted and ordered as encoding/json's struct and map encoders do, with
// json.Marshaler and encoding.TextMarshaler methods called where
// encoding/json calls them (their JSON decoded with d). It builds no tree
// for what it does not mirror exactly (",string" fields, floats that JSON
// cannot hold, maps with keys that are not strings, strings that are not
// UTF-8, json.Number values, a Marshaler's error or invalid JSON):
// errFallback. Strings point into v, so the tree is valid while v does
// not change. TestTypedTreeMatchesJSON and FuzzTypedTree hold it to
// encoding/json.
func (d *treeDecoder) typedTree(v any) (object, error) {
	t, err := d.typed(reflect.ValueOf(v), 0)
	if err != nil {
		return nil, err
	}
	o, ok := t.(object)
	if !ok {
		return nil, errFallback
	}
	return o, nil
}

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	numberType        = reflect.TypeFor[json.Number]()
)

// typed is the tree of v, following encoding/json's newTypeEncoder.
func (d *treeDecoder) typed(v reflect.Value, depth int) (any, error) {
	if !v.IsValid() {
		return nil, nil
	}
	if depth > maxDepth {
		return nil, errFallback
	}
	p := planOf(v.Type())
	switch {
	case p.addrMarshaler && v.CanAddr():
		return d.marshalJSON(v.Addr())
	case p.marshaler:
		return d.marshalJSON(v)
	case p.addrTextMarshaler && v.CanAddr():
		return marshalText(v.Addr())
	case p.textMarshaler:
		return marshalText(v)
	}
	switch p.kind {
	case reflect.Bool:
		return v.Bool(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return json.Number(strconv.FormatInt(v.Int(), 10)), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return json.Number(strconv.FormatUint(v.Uint(), 10)), nil
	case reflect.Float32, reflect.Float64:
		return float(v.Float(), p.t.Bits())
	case reflect.String:
		if p.t == numberType || !utf8.ValidString(v.String()) {
			return nil, errFallback
		}
		return v.String(), nil
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return nil, nil
		}
		return d.typed(v.Elem(), depth+1)
	case reflect.Struct:
		return d.structTree(v, p, depth)
	case reflect.Map:
		return d.mapTree(v, depth)
	case reflect.Slice:
		if v.IsNil() {
			return nil, nil
		}
		if p.bytes {
			return base64.StdEncoding.EncodeToString(v.Bytes()), nil
		}
		return d.arrayTree(v, depth)
	case reflect.Array:
		return d.arrayTree(v, depth)
	}
	return nil, errFallback // complex, chan, func, unsafe.Pointer: unsupported
}

// marshalJSON is encoding/json's marshalerEncoder, with the JSON decoded.
func (d *treeDecoder) marshalJSON(v reflect.Value) (any, error) {
	if v.Kind() == reflect.Pointer && v.IsNil() {
		return nil, nil
	}
	m, ok := v.Interface().(json.Marshaler)
	if !ok {
		return nil, nil
	}
	data, err := m.MarshalJSON()
	if err != nil || !json.Valid(data) {
		return nil, errFallback
	}
	tree, err := d.whole(data)
	if err != nil {
		return nil, errFallback
	}
	return tree, nil
}

// marshalText is encoding/json's textMarshalerEncoder: the text as a string.
func marshalText(v reflect.Value) (any, error) {
	if v.Kind() == reflect.Pointer && v.IsNil() {
		return nil, nil
	}
	m, ok := v.Interface().(encoding.TextMarshaler)
	if !ok {
		return nil, nil
	}
	text, err := m.MarshalText()
	if err != nil || !utf8.Valid(text) {
		return nil, errFallback
	}
	return string(text), nil
}

// float is the number encoding/json's floatEncoder writes for f.
func float(f float64, bits int) (any, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, errFallback
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	b := strconv.AppendFloat(nil, f, format, -1, bits)
	if format == 'e' { // e-09 → e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return json.Number(b), nil
}

// structTree is encoding/json's structEncoder: the fields in name order.
func (d *treeDecoder) structTree(v reflect.Value, p *plan, depth int) (any, error) {
	if p.unsupported {
		return nil, errFallback
	}
	base := len(d.members)
	defer func() { d.members = d.members[:base] }()
fields:
	for i := range p.fields {
		f := &p.fields[i]
		fv := v
		for _, j := range f.index {
			if fv.Kind() == reflect.Pointer {
				if fv.IsNil() {
					continue fields
				}
				fv = fv.Elem()
			}
			fv = fv.Field(j)
		}
		if f.omitEmpty && isEmptyValue(fv) ||
			f.omitZero && (f.isZero == nil && fv.IsZero() || f.isZero != nil && f.isZero(fv)) {
			continue
		}
		value, err := d.typed(fv, depth+1)
		if err != nil {
			return nil, err
		}
		d.members = append(d.members, member{f.name, value})
	}
	return d.takeMembers(base), nil
}

// mapTree is encoding/json's mapEncoder for string keys, sorted by key.
func (d *treeDecoder) mapTree(v reflect.Value, depth int) (any, error) {
	if v.IsNil() {
		return nil, nil
	}
	if v.Type().Key().Kind() != reflect.String {
		return nil, errFallback
	}
	base := len(d.members)
	defer func() { d.members = d.members[:base] }()
	for it := v.MapRange(); it.Next(); {
		key := it.Key().String()
		if !utf8.ValidString(key) {
			return nil, errFallback
		}
		value, err := d.typed(it.Value(), depth+1)
		if err != nil {
			return nil, err
		}
		d.members = append(d.members, member{key, value})
	}
	members := d.takeMembers(base)
	slices.SortFunc(members, compareMembers)
	return members, nil
}

// takeMembers copies the members gathered from base into an object of
// their size, empty but not nil when there are none.
func (d *treeDecoder) takeMembers(base int) object {
	o := make(object, len(d.members)-base)
	copy(o, d.members[base:])
	return o
}

// arrayTree is encoding/json's arrayEncoder.
func (d *treeDecoder) arrayTree(v reflect.Value, depth int) (any, error) {
	n := v.Len()
	items := make([]any, n)
	for i := range n {
		item, err := d.typed(v.Index(i), depth+1)
		if err != nil {
			return nil, err
		}
		items[i] = item
	}
	return items, nil
}

// isEmptyValue is encoding/json's test for omitempty.
func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64,
		reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

// A plan is what typed needs to know of a type, worked out once.
type plan struct {
	t    reflect.Type
	kind reflect.Kind
	// Which of encoding/json's marshaler encoders applies, in its order.
	addrMarshaler, marshaler, addrTextMarshaler, textMarshaler bool
	// bytes marks a slice that encoding/json writes as base64.
	bytes bool
	// fields are a struct's encoded fields, sorted by name.
	fields []field
	// unsupported marks a struct with a ",string" field.
	unsupported bool
}

// A field is one encoded field of a struct, as encoding/json's typeFields
// finds it.
type field struct {
	name      string
	tag       bool
	index     []int
	omitEmpty bool
	omitZero  bool
	isZero    func(reflect.Value) bool
	quoted    bool
}

var plans sync.Map // reflect.Type → *plan

func planOf(t reflect.Type) *plan {
	if p, ok := plans.Load(t); ok {
		return p.(*plan)
	}
	p := newPlan(t)
	actual, _ := plans.LoadOrStore(t, p)
	return actual.(*plan)
}

func newPlan(t reflect.Type) *plan {
	pointer := t.Kind() == reflect.Pointer
	p := &plan{
		t:                 t,
		kind:              t.Kind(),
		addrMarshaler:     !pointer && reflect.PointerTo(t).Implements(marshalerType),
		marshaler:         t.Implements(marshalerType),
		addrTextMarshaler: !pointer && reflect.PointerTo(t).Implements(textMarshalerType),
		textMarshaler:     t.Implements(textMarshalerType),
	}
	switch p.kind {
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			e := reflect.PointerTo(t.Elem())
			p.bytes = !e.Implements(marshalerType) && !e.Implements(textMarshalerType)
		}
	case reflect.Struct:
		p.fields = typeFields(t)
		for _, f := range p.fields {
			p.unsupported = p.unsupported || f.quoted
		}
		slices.SortFunc(p.fields, func(a, b field) int { return strings.Compare(a.name, b.name) })
	}
	return p
}

type isZeroer interface{ IsZero() bool }

var isZeroerType = reflect.TypeFor[isZeroer]()

// typeFields is encoding/json's typeFields (Go 1.26, BSD licence), less
// what only the encoder and decoder need: the fields encoding/json encodes
// for t, in index order, with Go's rules for embedded fields as modified
// by JSON tags.
func typeFields(t reflect.Type) []field {
	current := []field{}
	next := []field{{index: nil}}
	nextTypes := []reflect.Type{t}
	var count, nextCount map[reflect.Type]int
	visited := map[reflect.Type]bool{}
	var fields []field

	for len(next) > 0 {
		currentTypes := nextTypes
		current, next = next, current[:0]
		nextTypes = nil
		count, nextCount = nextCount, map[reflect.Type]int{}

		for k, f := range current {
			ft0 := currentTypes[k]
			if visited[ft0] {
				continue
			}
			visited[ft0] = true
			for i := 0; i < ft0.NumField(); i++ {
				sf := ft0.Field(i)
				if sf.Anonymous {
					t := sf.Type
					if t.Kind() == reflect.Pointer {
						t = t.Elem()
					}
					if !sf.IsExported() && t.Kind() != reflect.Struct {
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				if !isValidTag(name) {
					name = ""
				}
				index := make([]int, len(f.index)+1)
				copy(index, f.index)
				index[len(f.index)] = i

				ft := sf.Type
				if ft.Name() == "" && ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				quoted := false
				if hasOption(opts, "string") {
					switch ft.Kind() {
					case reflect.Bool,
						reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
						reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
						reflect.Float32, reflect.Float64,
						reflect.String:
						quoted = true
					}
				}
				if name != "" || !sf.Anonymous || ft.Kind() != reflect.Struct {
					tagged := name != ""
					if name == "" {
						name = sf.Name
					}
					field := field{
						name:      name,
						tag:       tagged,
						index:     index,
						omitEmpty: hasOption(opts, "omitempty"),
						omitZero:  hasOption(opts, "omitzero"),
						quoted:    quoted,
					}
					if field.omitZero {
						field.isZero = isZeroFunc(sf.Type)
					}
					fields = append(fields, field)
					if count[ft0] > 1 {
						fields = append(fields, fields[len(fields)-1])
					}
					continue
				}
				nextCount[ft]++
				if nextCount[ft] == 1 {
					next = append(next, field{index: index})
					nextTypes = append(nextTypes, ft)
				}
			}
		}
	}

	slices.SortFunc(fields, func(a, b field) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		if c := len(a.index) - len(b.index); c != 0 {
			return c
		}
		if a.tag != b.tag {
			if a.tag {
				return -1
			}
			return +1
		}
		return slices.Compare(a.index, b.index)
	})
	out := fields[:0]
	for advance, i := 0, 0; i < len(fields); i += advance {
		fi := fields[i]
		for advance = 1; i+advance < len(fields); advance++ {
			if fields[i+advance].name != fi.name {
				break
			}
		}
		if advance == 1 {
			out = append(out, fi)
			continue
		}
		// The first dominates, unless the next is as shallow and as tagged.
		if fj := fields[i+1]; len(fi.index) != len(fj.index) || fi.tag != fj.tag {
			out = append(out, fi)
		}
	}
	slices.SortFunc(out, func(a, b field) int { return slices.Compare(a.index, b.index) })
	return out
}

// isZeroFunc is encoding/json's IsZero-method test for an omitzero field
// of type t; nil means reflect's IsZero.
func isZeroFunc(t reflect.Type) func(reflect.Value) bool {
	switch {
	case t.Kind() == reflect.Interface && t.Implements(isZeroerType):
		return func(v reflect.Value) bool {
			return v.IsNil() ||
				(v.Elem().Kind() == reflect.Pointer && v.Elem().IsNil()) ||
				v.Interface().(isZeroer).IsZero()
		}
	case t.Kind() == reflect.Pointer && t.Implements(isZeroerType):
		return func(v reflect.Value) bool {
			return v.IsNil() || v.Interface().(isZeroer).IsZero()
		}
	case t.Implements(isZeroerType):
		return func(v reflect.Value) bool {
			return v.Interface().(isZeroer).IsZero()
		}
	case reflect.PointerTo(t).Implements(isZeroerType):
		return func(v reflect.Value) bool {
			if !v.CanAddr() {
				v2 := reflect.New(v.Type()).Elem()
				v2.Set(v)
				v = v2
			}
			return v.Addr().Interface().(isZeroer).IsZero()
		}
	}
	return nil
}

// hasOption reports whether the comma-separated opts hold name.
func hasOption(opts, name string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == name {
			return true
		}
	}
	return false
}

// isValidTag is encoding/json's test of a tag's name.
func isValidTag(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}
