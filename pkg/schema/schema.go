// Package schema checks Kubernetes objects against the strict JSON Schemas
// embedded from schemas/kinds (see schemas/README.md). A kind's schema is
// compiled the first time an object of that kind is validated, once.
package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"sync"

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
	s, err := lookup(apiVersion, kind)
	if err != nil {
		return nil, err
	}
	result, err := s.Validate(gojsonschema.NewGoLoader(obj))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", apiVersion, kind, err)
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

// compiled is one kind's schema, compiled on first use.
type compiled struct {
	once       sync.Once
	apiVersion string
	kind       string
	schema     *gojsonschema.Schema
	err        error
}

var (
	cacheMu sync.Mutex
	cache   = map[string]*compiled{}
)

// lookup returns the compiled schema for apiVersion and kind.
func lookup(apiVersion, kind string) (*gojsonschema.Schema, error) {
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
		c = &compiled{}
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
	return c.schema, nil
}

// load reads and compiles the schema file name.
func (c *compiled) load(name string) {
	data, err := schemas.Kinds.ReadFile("kinds/" + name)
	if err != nil {
		c.err = err
		return
	}
	// The file names only the version and the lower-cased kind; the exact
	// apiVersion and kind are the values the schema fixes them to.
	var fixed struct {
		Properties struct {
			APIVersion, Kind struct{ Const string }
		}
	}
	if err := json.Unmarshal(data, &fixed); err != nil {
		c.err = fmt.Errorf("schema %s: %w", name, err)
		return
	}
	c.apiVersion, c.kind = fixed.Properties.APIVersion.Const, fixed.Properties.Kind.Const
	c.schema, err = gojsonschema.NewSchema(gojsonschema.NewBytesLoader(data))
	if err != nil {
		c.err = fmt.Errorf("schema %s: %w", name, err)
	}
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
