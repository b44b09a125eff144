package schema

// ValidateWhole is Validate against the kind's whole schema, never pruned:
// what Validate must agree with.
func ValidateWhole(obj map[string]any, opts Options) ([]Problem, error) {
	c, err := lookup(obj["apiVersion"].(string), obj["kind"].(string))
	if err != nil {
		return nil, err
	}
	s, err := c.forObject(obj, true)
	if err != nil {
		return nil, err
	}
	return problems(s, obj, opts)
}

// Prune returns the schema Validate compiles for obj, as JSON, or why it
// compiles the whole schema instead.
func Prune(obj map[string]any) ([]byte, error) {
	c, err := lookup(obj["apiVersion"].(string), obj["kind"].(string))
	if err != nil {
		return nil, err
	}
	return pruneSchema(c.root, c.definition, obj)
}
