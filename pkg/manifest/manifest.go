// Package manifest reads Kubernetes manifests from files, directories and
// stdin, one object per YAML document, remembering where each came from.
package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/argodeploy/argodeploy/pkg/yamlnode"
	"golang.org/x/sync/errgroup"
)

// Doc is one object and the place it was read from.
type Doc struct {
	File   string
	Line   int
	Object *unstructured.Unstructured
	src    *source // the data it was parsed from, for Position
	index  int     // its document's place in src
}

// source is the data of a file; its node trees are not kept while the
// objects are checked, but parsed again when a position is first asked.
type source struct {
	data  []byte
	once  sync.Once
	nodes []*yaml.Node // the documents, in order
}

// node is the root of the document at index.
func (s *source) node(index int) *yaml.Node {
	s.once.Do(func() {
		dec := yaml.NewDecoder(bytes.NewReader(s.data))
		for n := new(yaml.Node); dec.Decode(n) == nil; n = new(yaml.Node) {
			s.nodes = append(s.nodes, n)
		}
	})
	return s.nodes[index].Content[0]
}

// Position returns the line and column of the field at path in the
// document, e.g. "spec.triggers[0].template.name". When the path does not
// exist it returns the deepest part that does.
func (d Doc) Position(path string) (line, column int) {
	if d.src == nil {
		return d.Line, 0
	}
	n, key, _ := yamlnode.Follow(d.src.node(d.index), splitPath(path))
	if key != nil {
		n = key
	}
	return n.Line, n.Column
}

// splitPath turns `a.b[2].c["d.e"]` into ["a", "b", "2", "c", "d.e"]: keys
// are dotted, list indices and keys holding dots or brackets are bracketed,
// the latter as Go-quoted strings.
func splitPath(path string) []string {
	var parts []string
	for path != "" {
		switch {
		case path[0] == '.':
			path = path[1:]
		case strings.HasPrefix(path, `["`):
			quoted, err := strconv.QuotedPrefix(path[1:])
			if err != nil {
				return append(parts, path)
			}
			key, _ := strconv.Unquote(quoted)
			parts = append(parts, key)
			path = strings.TrimPrefix(path[1+len(quoted):], "]")
		case path[0] == '[':
			end := strings.IndexByte(path, ']')
			if end < 0 {
				return append(parts, path[1:])
			}
			parts = append(parts, path[1:end])
			path = path[end+1:]
		default:
			end := strings.IndexAny(path, ".[")
			if end < 0 {
				end = len(path)
			}
			parts = append(parts, path[:end])
			path = path[end:]
		}
	}
	return parts
}

// Stdin is the name that reads standard input.
const Stdin = "-"

// Read reads every object in paths: files, directories (recursively, their
// .yaml, .yml and .json files in lexical order) and Stdin. Empty documents
// are skipped; a document that is not a Kubernetes object is an error
// naming its file and line.
func Read(paths []string, stdin io.Reader) ([]Doc, error) {
	return ReadCounted(paths, stdin, nil, nil)
}

// Counts is what a read has parsed so far; another goroutine may load it
// while the read runs.
type Counts struct {
	Files, Docs atomic.Int64
}

// ReadCounted is Read adding each file and its documents to counts (nil:
// not counted) as it is parsed, and handing each document to each (nil:
// none) as soon as it is parsed, from the goroutine parsing its file, so
// that work on the documents overlaps the parse of the rest. each may see
// documents of a read that then fails.
func ReadCounted(paths []string, stdin io.Reader, counts *Counts, each func(Doc)) ([]Doc, error) {
	var files []string
	for _, p := range paths {
		found, err := expand(p)
		if err != nil {
			return nil, err
		}
		files = append(files, found...)
	}
	// Files are read and parsed on every CPU; the first error in file order
	// wins, as if they had been read one by one.
	found := make([][]Doc, len(files))
	errs := make([]error, len(files))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i := range files {
		g.Go(func() error {
			found[i], errs[i] = readFile(files[i], stdin, each)
			if counts != nil {
				counts.Files.Add(1)
				counts.Docs.Add(int64(len(found[i])))
			}
			return nil
		})
	}
	g.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	var docs []Doc
	for _, d := range found {
		docs = append(docs, d...)
	}
	return docs, nil
}

// readFile reads and parses one file, or stdin.
func readFile(f string, stdin io.Reader, each func(Doc)) ([]Doc, error) {
	if f == Stdin {
		data, err := io.ReadAll(stdin)
		if err != nil {
			return nil, err
		}
		return parse("<stdin>", data, each)
	}
	data, err := os.ReadFile(f)
	if err != nil {
		return nil, err
	}
	return parse(f, data, each)
}

// expand lists the manifest files a path stands for.
func expand(path string) ([]string, error) {
	if path == Stdin {
		return []string{Stdin}, nil
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return []string{path}, nil
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".yaml", ".yml", ".json":
			if !d.IsDir() {
				files = append(files, p)
			}
		}
		return nil
	})
	sort.Strings(files)
	return files, err
}

// Parse splits data into its YAML documents and returns the objects in it.
func Parse(file string, data []byte) ([]Doc, error) { return parse(file, data, nil) }

// parse is Parse handing each document to each (nil: none) as it is parsed.
func parse(file string, data []byte, each func(Doc)) ([]Doc, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []Doc
	src := &source{data: data}
	for index := 0; ; index++ {
		var node yaml.Node
		err := dec.Decode(&node)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if len(node.Content) == 0 || node.Content[0].Tag == "!!null" {
			continue
		}
		line := node.Content[0].Line
		obj, err := object(node.Content[0])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", file, line, err)
		}
		docs = append(docs, Doc{File: file, Line: line, Object: obj, src: src, index: index})
		if each != nil {
			each(docs[len(docs)-1])
		}
	}
}

// object is the Kubernetes object of document n: what unstructured's
// UnmarshalJSON makes of the JSON of yamlnode.Value(n).
func object(n *yaml.Node) (*unstructured.Unstructured, error) {
	value, err := yamlnode.Value(n)
	if err != nil {
		return nil, err
	}
	jsonData, err := json.Marshal(value)
	if err != nil {
		return nil, err
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(jsonData); err != nil {
		return nil, fmt.Errorf("not a Kubernetes object: %w", err)
	}
	return obj, nil
}
