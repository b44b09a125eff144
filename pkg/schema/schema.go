// Package schema checks Kubernetes objects against the strict JSON Schemas
// embedded from schemas/kinds (see schemas/README.md). A kind's schema is
// read the first time an object of that kind is validated, and compiled
// pruned to the fields objects have, once per shape (prune.go).
package schema

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/tidwall/gjson"
	"github.com/xeipuuv/gojsonschema"

	"github.com/argodeploy/argodeploy/schemas"
)

// ErrNoSchema is wrapped by the error Validate returns for an object whose
// apiVersion and kind no embedded schema covers; such an object is skipped,
// not invalid.
var ErrNoSchema = errors.New("no schema")

// Options tune validation.
type Options struct {
	// Relaxed accepts fields the schema does not know; every other
	// problem is still reported.
	Relaxed bool
}

// Problem is one way an object does not match its schema.
type Problem struct {
	// Path is the field at fault, dotted with [i] for list items, e.g.
	// spec.triggers[0].template.name; for a missing or unknown field it is
	// that field's own path. Keys that contain '.', brackets, quotes or
	// spaces are written ["key"]. It is empty for the object itself.
	Path    string
	Message string
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// Validate checks obj, a decoded Kubernetes object, against the schema of
// its apiVersion and kind. The problems come sorted by path, then message.
// The error wraps ErrNoSchema when no schema covers obj.
func Validate(obj map[string]any, opts Options) ([]Problem, error) {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	c, err := lookup(apiVersion, kind)
	if err != nil {
		return nil, err
	}
	s, err := c.forObject(obj, false)
	if err != nil {
		return nil, err
	}
	return problems(s, Loader(obj), obj, opts)
}

// problems validates obj, loaded by l, against s.
func problems(s *gojsonschema.Schema, l gojsonschema.JSONLoader, obj map[string]any, opts Options) ([]Problem, error) {
	result, err := s.Validate(l)
	if err != nil {
		return nil, fmt.Errorf("%v %v: %w", obj["apiVersion"], obj["kind"], err)
	}
	var problems []Problem
	seen := map[Problem]bool{}
	for _, e := range result.Errors() {
		switch e.Type() {
		case "condition_then", "condition_else":
			// Said again by the errors of the branch that failed.
			continue
		case "additional_property_not_allowed":
			if opts.Relaxed {
				continue
			}
		}
		p := Problem{Path: fieldPath(obj, e), Message: message(e)}
		if !seen[p] {
			seen[p] = true
			problems = append(problems, p)
		}
	}
	sort.Slice(problems, func(i, j int) bool {
		if problems[i].Path != problems[j].Path {
			return problems[i].Path < problems[j].Path
		}
		return problems[i].Message < problems[j].Message
	})
	return problems, nil
}

// FileName is the name of the schema file of a kind under schemas/kinds.
func FileName(apiVersion, kind string) string {
	version := apiVersion[strings.LastIndex(apiVersion, "/")+1:]
	return strings.ToLower(kind) + "-" + version + ".json"
}

// compiled is one kind's schema, read on first use and compiled pruned
// to the shape of each object (see prune.go).
type compiled struct {
	once       sync.Once
	apiVersion string
	kind       string
	root       map[string]any             // the schema file without definitions, numbers as json.Number
	rawDefs    map[string]json.RawMessage // its definitions
	err        error

	mu      sync.Mutex
	defs    map[string]any                     // the definitions decoded so far
	byShape map[[sha256.Size]byte]*compilation // by pruned schema
	whole   compilation                        // for objects prune cannot see into
}

// compilation is one schema, compiled once.
type compilation struct {
	once   sync.Once
	schema *gojsonschema.Schema
	err    error
}

// compile compiles the schema data of kind name, once.
func (c *compilation) compile(name string, data func() ([]byte, error)) (*gojsonschema.Schema, error) {
	c.once.Do(func() {
		var doc []byte
		if doc, c.err = data(); c.err == nil {
			c.schema, c.err = gojsonschema.NewSchema(gojsonschema.NewBytesLoader(doc))
		}
		if c.err != nil {
			c.err = fmt.Errorf("schema %s: %w", name, c.err)
		}
	})
	return c.schema, c.err
}

var (
	cacheMu sync.Mutex
	cache   = map[string]*compiled{}
)

// lookup returns the schema for apiVersion and kind.
func lookup(apiVersion, kind string) (*compiled, error) {
	noSchema := func() error {
		return fmt.Errorf("%w for apiVersion %q, kind %q", ErrNoSchema, apiVersion, kind)
	}
	if apiVersion == "" || kind == "" {
		return nil, noSchema()
	}
	name := FileName(apiVersion, kind)
	cacheMu.Lock()
	c, ok := cache[name]
	if !ok {
		c = &compiled{defs: map[string]any{}, byShape: map[[sha256.Size]byte]*compilation{}}
		cache[name] = c
	}
	cacheMu.Unlock()
	c.once.Do(func() { c.load(name) })
	if errors.Is(c.err, fs.ErrNotExist) || c.err == nil && (c.apiVersion != apiVersion || c.kind != kind) {
		return nil, noSchema()
	}
	if c.err != nil {
		return nil, c.err
	}
	return c, nil
}

// load reads the schema file name. Its definitions are decoded when
// first used: most objects use few of them.
func (c *compiled) load(name string) {
	data, err := schemas.Kinds.ReadFile("kinds/" + name)
	if err != nil {
		c.err = err
		return
	}
	top := gjson.ParseBytes(data)
	if !top.IsObject() {
		c.err = fmt.Errorf("schema %s: not a JSON object", name)
		return
	}
	c.root = map[string]any{}
	c.rawDefs = map[string]json.RawMessage{}
	top.ForEach(func(k, v gjson.Result) bool {
		if k.Str == "definitions" {
			v.ForEach(func(d, def gjson.Result) bool {
				c.rawDefs[d.Str] = json.RawMessage(def.Raw)
				return true
			})
		} else if c.root[k.Str], err = decodeJSON([]byte(v.Raw)); err != nil {
			c.err = fmt.Errorf("schema %s: %s: %w", name, k.Str, err)
		}
		return c.err == nil
	})
	if c.err != nil {
		return
	}
	// The file names only the version and the lower-cased kind; the exact
	// apiVersion and kind are the values the schema fixes them to.
	props, _ := c.root["properties"].(map[string]any)
	constOf := func(field string) string {
		p, _ := props[field].(map[string]any)
		s, _ := p["const"].(string)
		return s
	}
	c.apiVersion, c.kind = constOf("apiVersion"), constOf("kind")
}

// definition returns the definition name, decoded, and whether there is
// one.
func (c *compiled) definition(name string) (any, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if def, ok := c.defs[name]; ok {
		return def, true, nil
	}
	raw, ok := c.rawDefs[name]
	if !ok {
		return nil, false, nil
	}
	def, err := decodeJSON(raw)
	if err != nil {
		return nil, false, fmt.Errorf("definition %s: %w", name, err)
	}
	c.defs[name] = def
	return def, true, nil
}

// wholeSchema is the schema file with every definition, as JSON.
func (c *compiled) wholeSchema() ([]byte, error) {
	doc := maps.Clone(c.root)
	if len(c.rawDefs) > 0 {
		doc["definitions"] = c.rawDefs
	}
	return json.Marshal(doc)
}

// decodeJSON decodes data keeping numbers as json.Number, as gojsonschema
// does.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// forObject returns the schema compiled pruned to obj, or whole if asked
// or if obj has values prune cannot see into.
func (c *compiled) forObject(obj map[string]any, whole bool) (*gojsonschema.Schema, error) {
	name := FileName(c.apiVersion, c.kind)
	var data []byte
	var err error
	if !whole {
		data, err = pruneSchema(c.root, c.definition, obj)
	}
	if whole || err != nil {
		return c.whole.compile(name, c.wholeSchema)
	}
	key := sha256.Sum256(data)
	c.mu.Lock()
	comp, ok := c.byShape[key]
	if !ok {
		comp = &compilation{}
		c.byShape[key] = comp
	}
	c.mu.Unlock()
	return comp.compile(name, func() ([]byte, error) { return data, nil })
}

// fieldPath is the path of the field an error is about, in Problem.Path's
// form. obj tells list indices from map keys that look like numbers.
func fieldPath(obj map[string]any, e gojsonschema.ResultError) string {
	const sep = "\x00"
	tokens := strings.Split(e.Context().String(sep), sep)[1:] // drop "(root)"
	switch e.Type() {
	case "required", "additional_property_not_allowed":
		if p, ok := e.Details()["property"].(string); ok {
			tokens = append(tokens, p)
		}
	}
	var b strings.Builder
	var node any = obj
	for _, t := range tokens {
		if list, ok := node.([]any); ok {
			b.WriteString("[" + t + "]")
			i, err := strconv.Atoi(t)
			node = nil
			if err == nil && i >= 0 && i < len(list) {
				node = list[i]
			}
			continue
		}
		if strings.ContainsAny(t, ".[]\" \t") || t == "" {
			b.WriteString("[" + strconv.Quote(t) + "]")
		} else {
			if b.Len() > 0 {
				b.WriteString(".")
			}
			b.WriteString(t)
		}
		m, _ := node.(map[string]any)
		node = m[t]
	}
	return b.String()
}

// message says what is wrong, without the path.
func message(e gojsonschema.ResultError) string {
	d := e.Details()
	switch e.Type() {
	case "required":
		return "required field is missing"
	case "additional_property_not_allowed":
		return "unknown field"
	case "invalid_type":
		return fmt.Sprintf("invalid type: expected %v, got %v", d["expected"], d["given"])
	case "const":
		return fmt.Sprintf("must be %v", d["allowed"])
	case "pattern":
		return fmt.Sprintf("does not match pattern %v", d["pattern"])
	}
	return e.Description()
}
