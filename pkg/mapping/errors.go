package mapping

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// FieldError is one problem in a mapping file. Line and Column are 1-based;
// zero means unknown.
type FieldError struct {
	File    string
	Line    int
	Column  int
	Field   string // e.g. spec.services[1].image
	Message string
}

// Error formats the error as FILE:LINE:COL: FIELD: MESSAGE, leaving out
// empty parts.
func (e *FieldError) Error() string {
	var b strings.Builder
	pos := e.File
	if e.Line > 0 {
		pos += fmt.Sprintf(":%d", e.Line)
		if e.Column > 0 {
			pos += fmt.Sprintf(":%d", e.Column)
		}
	}
	pos = strings.TrimPrefix(pos, ":")
	if pos != "" {
		b.WriteString(pos + ": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// ErrorList is every problem found in a mapping file.
type ErrorList []*FieldError

// Error lists the errors one per line, sorted by position and field,
// without duplicates.
func (l ErrorList) Error() string {
	lines := make([]string, 0, len(l))
	for _, e := range l.normalize() {
		lines = append(lines, e.Error())
	}
	return strings.Join(lines, "\n")
}

// normalize returns a sorted copy of l without duplicates.
func (l ErrorList) normalize() ErrorList {
	out := slices.Clone(l)
	out = slices.DeleteFunc(out, func(e *FieldError) bool { return e == nil })
	slices.SortStableFunc(out, func(a, b *FieldError) int {
		return cmp.Or(
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Column, b.Column),
			cmp.Compare(a.Field, b.Field),
			cmp.Compare(a.Message, b.Message),
		)
	})
	return slices.CompactFunc(out, func(a, b *FieldError) bool { return *a == *b })
}
