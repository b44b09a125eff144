// Package drift compares committed manifests with what argodeploy generates
// from their mapping: the golden-file check for users' repositories.
package drift

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/argodeploy/argodeploy/pkg/output"
)

// Difference is one file that differs from what generate writes: Diff is a
// unified diff from the committed file to the generated one, which adds
// Added lines and removes Removed ones.
type Difference struct {
	File    string `json:"file"`
	Added   int    `json:"added"`
	Removed int    `json:"removed"`
	Diff    string `json:"diff,omitempty"`
}

// Compare compares path with the manifests of objs as generate writes them:
// a directory as --output-dir writes it (one file per object and a
// kustomization.yaml; every other .yaml or .yml file in it counts as extra),
// or one file as generate writes to stdout (YAML, or JSON when path ends in
// .json). It returns nothing when they are byte-identical.
func Compare(path string, objs []output.Object) ([]Difference, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		var want bytes.Buffer
		if strings.EqualFold(filepath.Ext(path), ".json") {
			err = output.JSON(&want, objs)
		} else {
			err = output.YAML(&want, objs)
		}
		if err != nil {
			return nil, err
		}
		d, err := compareFile(path, want.Bytes())
		if d == nil || err != nil {
			return nil, err
		}
		return []Difference{*d}, nil
	}
	files, err := output.Files(objs)
	if err != nil {
		return nil, err
	}
	var diffs []Difference
	generated := map[string]bool{}
	for _, f := range files {
		generated[f.Name] = true
		d, err := compareFile(filepath.Join(path, f.Name), f.Data)
		if err != nil {
			return nil, err
		}
		if d != nil {
			diffs = append(diffs, *d)
		}
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if !e.IsDir() && (ext == ".yaml" || ext == ".yml") && !generated[e.Name()] {
			file := filepath.Join(path, e.Name())
			d, err := compare(file, readOrEmpty(file), nil)
			if err != nil {
				return nil, err
			}
			diffs = append(diffs, *d)
		}
	}
	slices.SortFunc(diffs, func(a, b Difference) int { return strings.Compare(a.File, b.File) })
	return diffs, nil
}

// compareFile compares the file at path, missing counting as empty, with
// want.
func compareFile(path string, want []byte) (*Difference, error) {
	got, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if bytes.Equal(got, want) {
		return nil, nil
	}
	if err != nil {
		return compare(path, nil, want)
	}
	return compare(path, got, want)
}

func lines(data []byte) []string {
	if len(data) == 0 {
		return nil
	}
	return difflib.SplitLines(strings.TrimSuffix(string(data), "\n"))
}

func readOrEmpty(path string) []byte {
	data, _ := os.ReadFile(path)
	return data
}

// compare writes the unified diff from got (nil: the file is missing) to
// want (nil: the file should not exist).
func compare(path string, got, want []byte) (*Difference, error) {
	from, to := path, path+" (generated)"
	if got == nil {
		from = "/dev/null"
	}
	if want == nil {
		to = "/dev/null"
	}
	diff, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: lines(got), B: lines(want),
		FromFile: from, ToFile: to, Context: 3,
	})
	if err != nil {
		return nil, fmt.Errorf("drift: %s: %w", path, err)
	}
	d := &Difference{File: path, Diff: diff}
	for i, line := range strings.Split(diff, "\n") {
		switch {
		case i < 2: // the --- and +++ header
		case strings.HasPrefix(line, "+"):
			d.Added++
		case strings.HasPrefix(line, "-"):
			d.Removed++
		}
	}
	return d, nil
}

// Stat is the difference as one line, as git diff --stat writes it:
// "FILE | +ADDED -REMOVED".
func (d Difference) Stat() string {
	return fmt.Sprintf("%s | +%d -%d", d.File, d.Added, d.Removed)
}
