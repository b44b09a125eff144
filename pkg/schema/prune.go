package schema

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Compiling a kind's whole schema costs tens of milliseconds (the
// WorkflowTemplate schema has some 2,000 subschemas), more than validating
// a pre-commit hook's objects takes. An object only ever meets the
// subschemas of the fields it has, so Validate compiles the kind's schema
// pruned to them: a subschema that no value of the object reaches (a
// property the object lacks, the items of an empty list) is replaced by
// {}, and each definition is kept in one variant per distinct pruned body.
// The pruned schema gives every error the whole one gives
// (TestPrunedSchemaMatchesWhole), and objects of the same shape share one
// pruned schema, compiled once.

// prunable lists the keywords a pruned schema may hold, and how each is
// pruned; a schema with any other keyword is compiled whole.
var prunable = map[string]keywordKind{
	"$schema": literal, "type": literal, "required": literal, "format": literal,
	"const": literal, "enum": literal, "pattern": literal, "description": literal,
	"properties": propertiesKeyword, "additionalProperties": additionalKeyword,
	"items": itemsKeyword, "if": sameValues, "then": sameValues, "else": sameValues,
	"$ref": refKeyword, "definitions": definitionsKeyword,
}

type keywordKind int

const (
	literal            keywordKind = iota // no subschema: kept as it is
	propertiesKeyword                     // each property's subschema meets that property's values
	additionalKeyword                     // meets the values of the properties not listed
	itemsKeyword                          // meets every list item
	sameValues                            // meets the values the schema itself meets
	refKeyword                            // the definition meets the same values
	definitionsKeyword                    // replaced by the pruned variants
)

// errNotPrunable reports a keyword prune does not know.
type errNotPrunable struct{ keyword string }

func (e errNotPrunable) Error() string {
	return "schema keyword " + strconv.Quote(e.keyword) + " is not prunable"
}

// maxPruneDepth bounds the nesting prune follows; deeper objects are
// validated against the whole schema.
const maxPruneDepth = 256

// pruner prunes one kind's schema for one object.
type pruner struct {
	def func(name string) (any, bool, error) // a definition of the kind
	// variants maps a definition's name and pruned body (as JSON) to the
	// variant's name; kept holds the variants by name.
	variants map[string]map[string]string
	kept     map[string]any
	depth    int
}

// pruneSchema returns root, a kind's schema parsed with json.Number, with
// the definitions def returns, pruned to the values of obj, as JSON.
func pruneSchema(root map[string]any, def func(string) (any, bool, error), obj map[string]any) ([]byte, error) {
	p := &pruner{def: def, variants: map[string]map[string]string{}, kept: map[string]any{}}
	pruned, err := p.prune(root, []any{obj})
	if err != nil {
		return nil, err
	}
	doc := pruned.(map[string]any)
	if len(p.kept) > 0 {
		doc["definitions"] = p.kept
	}
	return json.Marshal(doc)
}

// prune returns schema s pruned to the values it meets.
func (p *pruner) prune(s any, values []any) (any, error) {
	m, ok := s.(map[string]any)
	if !ok {
		return s, nil // true or false
	}
	if len(values) == 0 {
		return map[string]any{}, nil
	}
	for _, value := range values {
		switch value.(type) {
		case map[string]any, []any, string, bool, nil, json.Number, float64, float32, int, int64, int32:
		default:
			// A value the pruner cannot see into, a []string say.
			return nil, errNotPrunable{fmt.Sprintf("(a value of type %T)", value)}
		}
	}
	if elseOnly, ok := nullOrElse(m, values); ok {
		return p.prune(elseOnly, values)
	}
	if p.depth++; p.depth > maxPruneDepth {
		return nil, fmt.Errorf("objects nested deeper than %d levels", maxPruneDepth)
	}
	defer func() { p.depth-- }()
	out := make(map[string]any, len(m))
	for _, key := range slices.Sorted(maps.Keys(m)) {
		v := m[key]
		kind, ok := prunable[key]
		if !ok {
			return nil, errNotPrunable{key}
		}
		var err error
		switch kind {
		case literal:
			out[key] = v
		case propertiesKeyword:
			out[key], err = p.properties(v, values)
		case additionalKeyword:
			listed, _ := m["properties"].(map[string]any)
			out[key], err = p.prune(v, unlistedValues(values, listed))
		case itemsKeyword:
			if _, isList := v.([]any); isList {
				return nil, errNotPrunable{"items (a list)"}
			}
			out[key], err = p.prune(v, itemValues(values))
		case sameValues:
			out[key], err = p.prune(v, values)
		case refKeyword:
			out[key], err = p.ref(v, values)
		case definitionsKeyword:
			// Replaced by the variants the references keep.
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// nullOrElse returns X for a schema {"if": {"type": "null"}, "else": X},
// the schemas' way of saying "null or X", when no value is null, and {}
// when all are. For a value that is not null gojsonschema reports X's
// errors plus a condition_else error, which Validate drops; for null,
// nothing.
func nullOrElse(m map[string]any, values []any) (any, bool) {
	ifSchema, _ := m["if"].(map[string]any)
	elseSchema, hasElse := m["else"]
	if len(m) != 2 || !hasElse || len(ifSchema) != 1 || ifSchema["type"] != "null" {
		return nil, false
	}
	nulls := 0
	for _, v := range values {
		if v == nil {
			nulls++
		}
	}
	switch nulls {
	case 0:
		return elseSchema, true
	case len(values):
		return map[string]any{}, true
	}
	return nil, false
}

// properties prunes each property's subschema to its values, dropping
// those no value has.
func (p *pruner) properties(v any, values []any) (any, error) {
	props, ok := v.(map[string]any)
	if !ok {
		return v, nil
	}
	out := map[string]any{}
	for _, name := range slices.Sorted(maps.Keys(props)) {
		var met []any
		for _, value := range values {
			if obj, ok := value.(map[string]any); ok {
				if child, has := obj[name]; has {
					met = append(met, child)
				}
			}
		}
		if len(met) == 0 {
			continue
		}
		pruned, err := p.prune(props[name], met)
		if err != nil {
			return nil, err
		}
		out[name] = pruned
	}
	return out, nil
}

// ref points a reference at the variant of its definition pruned to
// values.
func (p *pruner) ref(v any, values []any) (any, error) {
	ref, _ := v.(string)
	name, ok := strings.CutPrefix(ref, "#/definitions/")
	if !ok || strings.ContainsAny(name, "~/%") {
		return nil, errNotPrunable{"$ref " + ref}
	}
	def, found, err := p.def(name)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errNotPrunable{"$ref " + ref}
	}
	body, err := p.prune(def, values)
	if err != nil {
		return nil, err
	}
	key, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	byBody := p.variants[name]
	if byBody == nil {
		byBody = map[string]string{}
		p.variants[name] = byBody
	}
	variant, seen := byBody[string(key)]
	if !seen {
		variant = name + "@" + strconv.Itoa(len(byBody))
		byBody[string(key)] = variant
		p.kept[variant] = body
	}
	return "#/definitions/" + variant, nil
}

// unlistedValues are the values of the properties of values that listed
// does not name.
func unlistedValues(values []any, listed map[string]any) []any {
	var met []any
	for _, value := range values {
		obj, ok := value.(map[string]any)
		if !ok {
			continue
		}
		for _, name := range slices.Sorted(maps.Keys(obj)) {
			if _, isListed := listed[name]; !isListed {
				met = append(met, obj[name])
			}
		}
	}
	return met
}

// itemValues are the items of the lists among values.
func itemValues(values []any) []any {
	var met []any
	for _, value := range values {
		if list, ok := value.([]any); ok {
			met = append(met, list...)
		}
	}
	return met
}
