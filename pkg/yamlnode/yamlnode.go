// Package yamlnode reads yaml.v3 node trees: their plain values and the
// nodes at field paths, so that errors can point at lines and columns.
package yamlnode

import (
	"math"
	"strconv"

	yaml "go.yaml.in/yaml/v3"
)

// Plain converts n to the value encoding/json would decode from the same
// document: maps, slices, strings, numbers, booleans and nil.
func Plain(n *yaml.Node) any {
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = Plain(n.Content[i+1])
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, c := range n.Content {
			s[i] = Plain(c)
		}
		return s
	}
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool", "!!int", "!!float":
		var v any
		if err := n.Decode(&v); err == nil {
			if f, ok := v.(float64); !ok || !math.IsInf(f, 0) && !math.IsNaN(f) {
				return v
			}
		}
	}
	return n.Value
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
