package schema

import "github.com/xeipuuv/gojsonschema"

// ValidateWhole is Validate as it was before pruning and documentLoader:
// against the kind's whole schema, with gojsonschema's own loader. It is
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
	return problems(s, gojsonschema.NewGoLoader(obj), obj, opts)
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

// Loaded returns obj as loader loads it and as gojsonschema's NewGoLoader
// does.
func Loaded(obj map[string]any) (mine, theirs any, err error) {
	if mine, err = Loader(obj).LoadJSON(); err != nil {
		return nil, nil, err
	}
	theirs, err = gojsonschema.NewGoLoader(obj).LoadJSON()
	return mine, theirs, err
}
