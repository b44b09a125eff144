// Package output turns typed Kubernetes objects into bytes: multi-document
// YAML, a JSON List, or a directory of files with a kustomization.yaml.
//
// All writers go through Encode, which strips the noise that typed structs
// add (creationTimestamp: null, status, empty nested metadata), so the same
// objects always give byte-identical output.
package output

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Object is what output writes: any typed Kubernetes object with TypeMeta set.
type Object interface {
	GetObjectKind() schema.ObjectKind
	GetName() string
	GetNamespace() string
}

// YAML writes objs as multi-document YAML in the given order: no "---"
// before the first document, "---\n" between documents. An empty list
// writes nothing. Nothing is written unless every object encodes.
func YAML(w io.Writer, objs []Object) error {
	docs, err := encodeAll(objs)
	if err != nil {
		return err
	}
	for i, doc := range docs {
		if i > 0 {
			if _, err := io.WriteString(w, "---\n"); err != nil {
				return err
			}
		}
		if _, err := w.Write(doc); err != nil {
			return err
		}
	}
	return nil
}

// encodeAll encodes every object as a YAML document, in order, on as many
// goroutines as there are CPUs (the documents are independent). The error
// is that of the first object that fails.
func encodeAll(objs []Object) ([][]byte, error) {
	docs := make([][]byte, len(objs))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i := range objs {
		g.Go(func() error {
			var err error
			docs[i], err = encodeYAML(objs[i])
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return docs, nil
}

// JSON writes objs as one kubectl-style List
// ({"apiVersion":"v1","kind":"List","items":[...]}), indented two spaces,
// with a trailing newline. Nothing is written unless every object encodes.
func JSON(w io.Writer, objs []Object) error {
	list := struct {
		APIVersion string           `json:"apiVersion"`
		Kind       string           `json:"kind"`
		Items      []map[string]any `json:"items"`
	}{APIVersion: "v1", Kind: "List", Items: make([]map[string]any, 0, len(objs))}
	for _, obj := range objs {
		m, err := Encode(obj)
		if err != nil {
			return err
		}
		list.Items = append(list.Items, m)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep "&&" and "<" in scripts readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(list); err != nil {
		return fmt.Errorf("output: encoding list: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// Encode returns the cleaned, JSON-compatible form of obj that all writers
// use: obj marshalled with encoding/json (numbers kept as json.Number),
// without any "creationTimestamp": null, without the top-level "status",
// and without nested "metadata" maps left empty. The top-level metadata is
// kept. It is an error if obj has no apiVersion or kind.
func Encode(obj Object) (map[string]any, error) {
	if obj == nil {
		return nil, errors.New("output: nil object")
	}
	if v := reflect.ValueOf(obj); v.Kind() == reflect.Pointer && v.IsNil() {
		return nil, fmt.Errorf("output: nil %T", obj)
	}
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("output: encoding %s: %w", describe(obj), err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, fmt.Errorf("output: encoding %s: not a JSON object", describe(obj))
	}
	if s, _ := m["apiVersion"].(string); s == "" {
		return nil, fmt.Errorf("output: %s has no apiVersion (TypeMeta not set)", describe(obj))
	}
	if s, _ := m["kind"].(string); s == "" {
		return nil, fmt.Errorf("output: %s has no kind (TypeMeta not set)", describe(obj))
	}
	delete(m, "status")
	clean(m, true)
	return m, nil
}

// clean removes below v what the upstream types write but a person would
// not, and what decodes to the same object when left out: every null
// (kubectl drops them; e.g. a Sensor's loggingFields, a creationTimestamp),
// the empty objects of the Argo Workflows fields in emptyWhenAbsent, the
// empty strings of the fields in blankWhenAbsent, and every nested
// "metadata" object that is empty afterwards; top marks the object's root,
// whose metadata is kept even when empty.
func clean(v any, top bool) any {
	switch v := v.(type) {
	case map[string]any:
		for k, c := range v {
			if c == nil || c == "" && blankWhenAbsent[k] {
				delete(v, k)
				continue
			}
			c = clean(c, false)
			v[k] = c
			if o, ok := c.(map[string]any); ok && len(o) == 0 && (k == "metadata" && !top || k == "spec" && top || emptyWhenAbsent[k]) {
				delete(v, k)
			}
		}
	case []any:
		for i, c := range v {
			v[i] = clean(c, false)
		}
	}
	return v
}

// emptyWhenAbsent are the fields (non-pointer structs of the Argo
// Workflows types: a template's inputs and outputs, a step's or a
// Workflow's arguments, an embedded object's status) whose empty object
// means what their absence does.
var emptyWhenAbsent = map[string]bool{"inputs": true, "outputs": true, "arguments": true, "status": true}

// blankWhenAbsent are the fields whose upstream type writes an empty
// string that means what their absence does (the Pub/Sub EventSource's
// topicProjectID: the subscription's project).
var blankWhenAbsent = map[string]bool{"topicProjectID": true}

// encodeYAML returns one YAML document for obj: keys sorted, two-space
// indent, lists not indented under their key (as kubectl prints), and
// multi-line strings (scripts, cache entries) as literal blocks so they read
// as text: yaml.v3's encoding of node(Encode(obj)).
func encodeYAML(obj Object) ([]byte, error) {
	m, err := Encode(obj)
	if err != nil {
		return nil, err
	}
	doc, err := yamlV3(m)
	if err != nil {
		return nil, fmt.Errorf("output: encoding %s as YAML: %w", describe(obj), err)
	}
	return doc, nil
}

// str is the node of a string. The encoder quotes strings that YAML 1.2
// reads as another type ("3", "true", "null"); the YAML 1.1 booleans that
// kubectl and sigs.k8s.io/yaml still read as such ("yes", "on", "n") are
// quoted here.
func str(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if yaml11Bools[strings.ToLower(s)] {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

var yaml11Bools = map[string]bool{"y": true, "yes": true, "n": true, "no": true, "on": true, "off": true}

// describe names obj in error messages, e.g. `ConfigMap "ns/name"`.
func describe(obj Object) string {
	kind := obj.GetObjectKind().GroupVersionKind().Kind
	if kind == "" {
		kind = fmt.Sprintf("%T", obj)
	}
	name := obj.GetName()
	if ns := obj.GetNamespace(); ns != "" {
		name = ns + "/" + name
	}
	return fmt.Sprintf("%s %q", kind, name)
}
