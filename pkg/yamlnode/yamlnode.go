// Package yamlnode reads yaml.v3 node trees: their plain values and the
// nodes at field paths, so that errors can point at lines and columns.
package yamlnode

import (
	"fmt"
	"maps"
	"math"
	"strconv"

	yaml "go.yaml.in/yaml/v3"
)

// Plain converts n to the value encoding/json would decode from the same
// document: maps, slices, strings, numbers, booleans and nil. It is Value
// for a tree known to be free of aliases (the mapping parser rejects them
// first); where Value fails, Plain returns nil.
func Plain(n *yaml.Node) any {
	v, _ := Value(n)
	return v
}

// MaxAliasValues bounds the values a document may expand to through its
// aliases, against "billion laughs" documents.
const MaxAliasValues = 1_000_000

// Value is Plain for any tree: aliases are followed and merge keys (<<)
// applied as kubectl's YAML library (yaml.v2) applies them, in order, the
// entries of a merged mapping replacing those before them and, of a list
// of merged mappings, the earlier ones winning. It fails for an alias that
// contains itself, a merge of what is not a mapping, and a document whose
// aliases expand to more than MaxAliasValues values.
func Value(n *yaml.Node) (any, error) {
	c := converter{expanding: map[*yaml.Node]bool{}}
	return c.value(n)
}

// converter follows one document's aliases.
type converter struct {
	expanding map[*yaml.Node]bool // the aliased nodes being converted
	aliased   int                 // values converted through aliases
}

func (c *converter) value(n *yaml.Node) (any, error) {
	if len(c.expanding) > 0 {
		if c.aliased++; c.aliased > MaxAliasValues {
			return nil, fmt.Errorf("line %d: the document's aliases expand to more than %d values", n.Line, MaxAliasValues)
		}
	}
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, nil
		}
		if c.expanding[n.Alias] {
			return nil, fmt.Errorf("line %d: alias *%s contains itself", n.Line, n.Value)
		}
		c.expanding[n.Alias] = true
		defer delete(c.expanding, n.Alias)
		return c.value(n.Alias)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.ShortTag() == mergeTag {
				if err := c.merge(m, v); err != nil {
					return nil, err
				}
				continue
			}
			value, err := c.value(v)
			if err != nil {
				return nil, err
			}
			m[k.Value] = value
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, item := range n.Content {
			var err error
			if s[i], err = c.value(item); err != nil {
				return nil, err
			}
		}
		return s, nil
	}
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool", "!!int", "!!float":
		var v any
		if err := n.Decode(&v); err == nil {
			if f, ok := v.(float64); !ok || !math.IsInf(f, 0) && !math.IsNaN(f) {
				return v, nil
			}
		}
	}
	return n.Value, nil
}

// mergeTag is the tag of a merge key.
const mergeTag = "!!merge"

// merge applies the merge key value v to m: a mapping, an alias of one,
// or a list of those.
func (c *converter) merge(m map[string]any, v *yaml.Node) error {
	if v.Kind == yaml.SequenceNode {
		for i := len(v.Content) - 1; i >= 0; i-- { // earlier mappings win: apply them last
			if !isMapping(v.Content[i]) {
				return fmt.Errorf("line %d: a merge key (<<) takes a mapping or a list of mappings", v.Content[i].Line)
			}
			if err := c.merge(m, v.Content[i]); err != nil {
				return err
			}
		}
		return nil
	}
	if !isMapping(v) {
		return fmt.Errorf("line %d: a merge key (<<) takes a mapping or a list of mappings", v.Line)
	}
	merged, err := c.value(v)
	if err != nil {
		return err
	}
	maps.Copy(m, merged.(map[string]any))
	return nil
}

// isMapping reports whether n is a mapping or an alias of one.
func isMapping(n *yaml.Node) bool {
	return n.Kind == yaml.MappingNode || n.Kind == yaml.AliasNode && n.Alias != nil && n.Alias.Kind == yaml.MappingNode
}

// KeyNode returns the key node of key in mapping m, or nil.
func KeyNode(m *yaml.Node, key string) *yaml.Node {
	k, _ := entry(m, key)
	return k
}

// entry returns the key and value nodes of key in mapping m, or nils.
func entry(m *yaml.Node, key string) (k, v *yaml.Node) {
	if m.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == key {
				return m.Content[i], m.Content[i+1]
			}
		}
	}
	return nil, nil
}

// Follow follows segs (mapping keys, and decimal indexes into sequences)
// from root as far as they exist. It returns the node reached, its key node
// when it is a mapping value (nil otherwise), and how many segments it
// followed.
func Follow(root *yaml.Node, segs []string) (n, key *yaml.Node, followed int) {
	n = root
	for _, s := range segs {
		switch n.Kind {
		case yaml.MappingNode:
			k, v := entry(n, s)
			if k == nil {
				return n, key, followed
			}
			key, n = k, v
		case yaml.SequenceNode:
			i, err := strconv.Atoi(s)
			if err != nil || i < 0 || i >= len(n.Content) {
				return n, key, followed
			}
			key, n = nil, n.Content[i]
		default:
			return n, key, followed
		}
		followed++
	}
	return n, key, followed
}
