package manifest

import yaml "go.yaml.in/yaml/v3"

// Object and ViaJSON are object and viaJSON, for the tests of package
// manifest_test.
var (
	Object  = object
	ViaJSON = viaJSON
)

// BuiltDirectly reports whether object builds the object of n without
// JSON.
func BuiltDirectly(n *yaml.Node) bool {
	m, ok := direct(n).(map[string]any)
	kind, _ := m["kind"].(string)
	return n.Kind == yaml.MappingNode && ok && kind != ""
}
