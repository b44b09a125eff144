package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra/doc"

	"github.com/argodeploy/argodeploy/schemas"
)

// TestDocsInSync: docs/cli (the command reference, cobra's generator) and
// docs/mapping.md (the mapping file's reference, from its JSON Schema) are
// what the code says; `make docs` rewrites them.
func TestDocsInSync(t *testing.T) {
	got := map[string]string{}
	dir := t.TempDir()
	root := newRootCommand(streams{})
	root.DisableAutoGenTag = true
	if err := doc.GenMarkdownTree(root, dir); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.md"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got["docs/cli/"+filepath.Base(f)] = string(data)
	}
	reference, err := mappingReference(schemas.ServiceMapping)
	if err != nil {
		t.Fatal(err)
	}
	got["docs/mapping.md"] = reference

	if *update {
		if err := os.RemoveAll(repoPath("docs/cli")); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range got {
			if !yield(k) {
				return
			}
		}
	}) {
		golden(t, name, got[name])
	}
	committed, _ := filepath.Glob(repoPath("docs/cli/*.md"))
	for _, f := range committed {
		if _, ok := got["docs/cli/"+filepath.Base(f)]; !ok {
			t.Errorf("%s documents no command (run make docs)", f)
		}
	}
}

// mappingReference writes the mapping file's fields as Markdown tables,
// one per object, from its JSON Schema.
func mappingReference(schemaJSON []byte) (string, error) {
	var root map[string]any
	if err := json.Unmarshal(schemaJSON, &root); err != nil {
		return "", err
	}
	defs, _ := root["definitions"].(map[string]any)
	var b strings.Builder
	b.WriteString("# The service-mapping file\n\nGenerated from `schemas/servicemapping.schema.json` by `make docs`; do not edit.\n")
	fmt.Fprintf(&b, "%s\n", root["description"])
	var walk func(path string, s map[string]any)
	walk = func(path string, s map[string]any) {
		s = resolve(s, defs)
		props, _ := s["properties"].(map[string]any)
		if len(props) == 0 {
			return
		}
		required := map[string]bool{}
		for _, r := range asList(s["required"]) {
			required[fmt.Sprint(r)] = true
		}
		title := path
		if title == "" {
			title = "top level"
		}
		fmt.Fprintf(&b, "\n## `%s`\n\n| field | type | required | description |\n|---|---|---|---|\n", title)
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range props {
				if !yield(k) {
					return
				}
			}
		})
		var nested []string
		for _, k := range keys {
			p, _ := props[k].(map[string]any)
			desc, _ := p["description"].(string)
			r := resolve(p, defs)
			typ := typeName(r)
			if typ == "array" {
				item := resolve(asMap(r["items"]), defs)
				typ = "list of " + typeName(item)
				if _, ok := item["properties"]; ok {
					nested = append(nested, k+"[]")
				}
			} else if _, ok := r["properties"]; ok {
				nested = append(nested, k)
			}
			if pattern, ok := r["pattern"].(string); ok && typ == "string" {
				typ = "string matching `" + strings.ReplaceAll(pattern, "|", `\|`) + "`"
			}
			req := ""
			if required[k] {
				req = "yes"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", k, typ, req, strings.ReplaceAll(desc, "|", `\|`))
		}
		for _, k := range nested {
			child := strings.TrimSuffix(k, "[]")
			p := resolve(asMap(props[child]), defs)
			if strings.HasSuffix(k, "[]") {
				p = asMap(p["items"])
			}
			walk(strings.TrimPrefix(path+"."+k, "."), p)
		}
	}
	walk("", root)
	return b.String(), nil
}

// resolve follows a local $ref into definitions.
func resolve(s map[string]any, defs map[string]any) map[string]any {
	for {
		ref, ok := s["$ref"].(string)
		if !ok {
			return s
		}
		s = asMap(defs[strings.TrimPrefix(ref, "#/definitions/")])
	}
}

func typeName(s map[string]any) string {
	switch t := s["type"].(type) {
	case string:
		return t
	case []any:
		var names []string
		for _, x := range t {
			names = append(names, fmt.Sprint(x))
		}
		return strings.Join(names, " or ")
	}
	if _, ok := s["enum"]; ok {
		return "one of " + fmt.Sprint(s["enum"])
	}
	return "any"
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}
