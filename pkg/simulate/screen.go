package simulate

import (
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"

	eventsv1alpha1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	"github.com/tidwall/gjson"
)

// screen is a dependency's string data filters, compiled once. Argo Events'
// filterData compiles each regular expression on every event, which makes
// replaying one message against thousands of dependencies slow; a screen
// asks the same questions the same way (gjson reads the value, Go's regexp
// matches it, every filter must pass) to set aside the dependencies Argo
// Events would reject. Those it lets through are judged by Argo Events'
// own Filter, unless the screen decides: see decides.
type screen struct {
	filters []*screenFilter
	// decides is set when the dependency's filters are its data filters
	// and nothing else (no exprs, context, time or script filter): Argo
	// Events' Filter then accepts an event (with valid JSON data) exactly
	// when every data filter does, which is what passes answers, so a
	// screen that passes is Argo Events' verdict and Filter is not asked.
	decides bool
}

// screenFilter is one string data filter: the value at path must match
// one of values. Dependencies with the same filter share it, and an
// event's verdict on it is worked out once (eventFields.accepts).
type screenFilter struct {
	id     int // index among the pipeline's filters
	path   string
	pathID int // index among the paths the pipeline's filters read
	values []screenValue
	// indexed is set when the filter has one expression, with a literal
	// prefix: it can accept only a value that starts with that prefix,
	// and screenFilters.prefixes finds such filters for a value at once.
	indexed bool
}

// screenFilters interns the filters of a pipeline's screens and the paths
// they read.
type screenFilters struct {
	byKey    map[string]*screenFilter
	paths    map[string]int
	prefixes []prefixIndex           // by pathID
	compiled map[string]compiled     // expressions compiled ahead (precompile)
	splits   map[string]splitPattern // split's answers
}

// compiled is regexp.Compile's result for one expression.
type compiled struct {
	re  *regexp.Regexp
	err error
}

// precompile compiles the expressions of the string data filters of deps
// on every CPU, for newScreen: a pipeline of thousands of services has
// thousands of expressions.
func (fs *screenFilters) precompile(deps []eventsv1alpha1.EventDependency) {
	// Each service has expressions of its own: split them on every CPU
	// too, then compile the rests, which they mostly share.
	var values []string
	seen := map[string]bool{}
	for _, d := range deps {
		if d.Filters == nil {
			continue
		}
		for _, f := range d.Filters.Data {
			for _, v := range f.Value {
				if _, done := fs.splits[v]; f.Type == eventsv1alpha1.JSONTypeString && !done && !seen[v] {
					seen[v] = true
					values = append(values, v)
				}
			}
		}
	}
	cuts := make([]splitPattern, len(values))
	for i := range values {
		cuts[i].prefix, cuts[i].rest, cuts[i].ok = splitPatternOf(values[i])
	}
	var patterns []string
	clear(seen)
	for i, v := range values {
		fs.splits[v] = cuts[i]
		if cuts[i].ok {
			v = cuts[i].rest
		}
		if _, done := fs.compiled[v]; !done && !seen[v] {
			seen[v] = true
			patterns = append(patterns, v)
		}
	}
	results := make([]compiled, len(patterns))
	for i := range patterns {
		results[i].re, results[i].err = regexp.Compile(patterns[i]) // a pattern's error is its own
	}
	for i, p := range patterns {
		fs.compiled[p] = results[i]
	}
}

// split cuts pattern into the literal text it must read first and the
// expression that must match what follows, anchored: a string matches
// pattern exactly when it starts with prefix and the rest of it matches
// rest. That holds when pattern is ^, then case-sensitive literal text,
// then expressions that never look at what comes before them (no ^, \A,
// \b or \B). Pipelines filter each service's images with expressions that
// differ only in such a prefix, so the rests, compiled once, serve them
// all: a pipeline of 1,000 services compiles a handful of expressions,
// not 3,000. ok is false for any other pattern.
func (fs *screenFilters) split(pattern string) (prefix, rest string, ok bool) {
	cut, seen := fs.splits[pattern]
	if !seen {
		cut.prefix, cut.rest, cut.ok = splitPatternOf(pattern)
		fs.splits[pattern] = cut
	}
	return cut.prefix, cut.rest, cut.ok
}

// splitPatternOf is split's answer, worked out.
func splitPatternOf(pattern string) (prefix, rest string, ok bool) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil || re.Op != syntax.OpConcat || len(re.Sub) < 2 || re.Sub[0].Op != syntax.OpBeginText {
		return "", "", false
	}
	literal := re.Sub[1]
	if literal.Op != syntax.OpLiteral || literal.Flags&syntax.FoldCase != 0 {
		return "", "", false
	}
	after := &syntax.Regexp{Op: syntax.OpConcat, Sub: re.Sub[2:]}
	if len(after.Sub) == 0 {
		after = &syntax.Regexp{Op: syntax.OpEmptyMatch}
	}
	if looksBehind(after) {
		return "", "", false
	}
	return string(literal.Rune), `\A(?:` + after.String() + `)`, true
}

// splitPattern is split's answer for one pattern.
type splitPattern struct {
	prefix, rest string
	ok           bool
}

// looksBehind reports whether re has an assertion about what comes before
// the position it is at: ^, \A, \b or \B.
func looksBehind(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpBeginLine, syntax.OpBeginText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return true
	}
	return slices.ContainsFunc(re.Sub, looksBehind)
}

// compile is regexp.Compile, answered from precompile when it can be.
func (fs *screenFilters) compile(pattern string) (*regexp.Regexp, error) {
	if c, ok := fs.compiled[pattern]; ok {
		return c.re, c.err
	}
	return regexp.Compile(pattern)
}

// prefixIndex finds the indexed filters of one path whose prefix a value
// starts with: it looks up the value's first n bytes for each prefix
// length n, instead of comparing every filter's prefix.
type prefixIndex struct {
	path     string           // the path whose values it files
	lengths  []int            // the distinct prefix lengths
	byPrefix map[string][]int // prefix → filter ids
}

func newScreenFilters() *screenFilters {
	return &screenFilters{byKey: map[string]*screenFilter{}, paths: map[string]int{}, compiled: map[string]compiled{}, splits: map[string]splitPattern{}}
}

// index indexes f by the prefix of its one expression.
func (fs *screenFilters) index(f *screenFilter) {
	idx := &fs.prefixes[f.pathID]
	idx.path = f.path
	prefix := f.values[0].prefix
	if idx.byPrefix == nil {
		idx.byPrefix = map[string][]int{}
	}
	if !slices.Contains(idx.lengths, len(prefix)) {
		idx.lengths = append(idx.lengths, len(prefix))
	}
	idx.byPrefix[prefix] = append(idx.byPrefix[prefix], f.id)
	f.indexed = true
}

// screenValue is one regular expression of a filter. A value that does
// not start with prefix cannot match: the expression is anchored with ^
// and then reads prefix literally. Checking that first spares running the
// matcher against every other dependency's expression. When the
// expression splits (screenFilters.split), re matches only the rest of
// the value, after prefix.
type screenValue struct {
	re     *regexp.Regexp
	prefix string
	split  bool
}

func (v screenValue) matches(s string) bool {
	if !strings.HasPrefix(s, v.prefix) {
		return false
	}
	if v.split {
		return v.re.MatchString(s[len(v.prefix):])
	}
	return v.re.MatchString(s)
}

// newScreen returns the screen of dep, or nil when dep's filters are not
// all string filters joined with "and" that a screen can read exactly as
// Argo Events does: then Argo Events alone judges it.
func newScreen(dep eventsv1alpha1.EventDependency, known *screenFilters) *screen {
	f := dep.Filters
	if f == nil || len(f.Data) == 0 || !isAnd(dep.FiltersLogicalOperator) || !isAnd(f.DataLogicalOperator) {
		return nil
	}
	s := &screen{decides: len(f.Exprs) == 0 && isAnd(f.ExprLogicalOperator) && f.Context == nil && f.Time == nil && f.Script == ""}
	for _, d := range f.Data {
		if d.Type != eventsv1alpha1.JSONTypeString || d.Template != "" || len(d.Value) == 0 ||
			d.Comparator != eventsv1alpha1.EmptyComparator && d.Comparator != eventsv1alpha1.EqualTo {
			return nil
		}
		key := d.Path + "\x00" + strings.Join(d.Value, "\x00")
		sf, seen := known.byKey[key]
		if !seen {
			pathID, ok := known.paths[d.Path]
			if !ok {
				pathID = len(known.paths)
				known.paths[d.Path] = pathID
				known.prefixes = append(known.prefixes, prefixIndex{})
			}
			sf = &screenFilter{id: len(known.byKey), path: d.Path, pathID: pathID}
			for _, v := range d.Value {
				var sv screenValue
				if prefix, rest, ok := known.split(v); ok {
					re, err := known.compile(rest)
					if err != nil {
						return nil // Argo Events reports the error
					}
					sv = screenValue{re: re, prefix: prefix, split: true}
				} else {
					re, err := known.compile(v)
					if err != nil {
						return nil // Argo Events reports the error
					}
					sv = screenValue{re: re}
					if strings.HasPrefix(v, "^") {
						sv.prefix, _ = re.LiteralPrefix()
					}
				}
				sf.values = append(sf.values, sv)
			}
			known.byKey[key] = sf
			if len(sf.values) == 1 && sf.values[0].prefix != "" {
				known.index(sf)
			}
		}
		s.filters = append(s.filters, sf)
	}
	return s
}

func isAnd(op eventsv1alpha1.LogicalOperator) bool {
	return op == eventsv1alpha1.EmptyLogicalOperator || op == eventsv1alpha1.AndLogicalOperator
}

// passes reports whether every filter accepts the event; fields reads the
// event's data. It stops at the first filter that does not.
func (s *screen) passes(fields *eventFields) bool {
	for _, f := range s.filters {
		if !fields.accepts(f) {
			return false
		}
	}
	return true
}

// count counts the filters that accept the event.
func (s *screen) count(fields *eventFields) int {
	passed := 0
	for _, f := range s.filters {
		if fields.accepts(f) {
			passed++
		}
	}
	return passed
}

// eventFields reads paths from one event's data (JSON) with gjson, as
// filterData does, each path once, and remembers the event's verdict on
// each screen filter: the dependencies of a Sensor mostly filter on the
// same few paths, often with the same expressions.
type eventFields struct {
	data     []byte
	filters  *screenFilters
	values   map[string]gjson.Result
	byID     []gjson.Result // the screen filters' paths, by pathID
	read     []bool         // which of byID are read
	indexed  []bool         // by pathID: the path's prefix index has been asked
	verdicts []int8         // by screenFilter.id: see the verdict constants
}

// An event's verdicts on screen filters.
const (
	unknown   int8 = 0  // not asked yet
	accepts   int8 = 1  // the filter accepts the event
	rejects   int8 = -1 // the filter rejects it
	candidate int8 = 2  // an indexed filter whose prefix the value has: ask its expression
)

func newEventFields(data []byte, filters *screenFilters) *eventFields {
	return &eventFields{
		data: data, filters: filters, values: map[string]gjson.Result{},
		byID: make([]gjson.Result, len(filters.paths)), read: make([]bool, len(filters.paths)),
		indexed: make([]bool, len(filters.paths)), verdicts: make([]int8, len(filters.byKey)),
	}
}

func (e *eventFields) get(path string) gjson.Result {
	v, ok := e.values[path]
	if !ok {
		v = gjson.GetBytes(e.data, path)
		e.values[path] = v
	}
	return v
}

// value is the value at the path of f.
func (e *eventFields) value(f *screenFilter) gjson.Result {
	if !e.read[f.pathID] {
		e.byID[f.pathID], e.read[f.pathID] = e.get(f.path), true
	}
	return e.byID[f.pathID]
}

// accepts reports whether the value at f's path exists and matches one
// of f's expressions.
func (e *eventFields) accepts(f *screenFilter) bool {
	if f.indexed && !e.indexed[f.pathID] {
		e.markPath(f.pathID)
	}
	switch e.verdicts[f.id] {
	case accepts:
		return true
	case rejects:
		return false
	case unknown:
		if f.indexed { // not a candidate: the value lacks its prefix
			e.verdicts[f.id] = rejects
			return false
		}
	}
	ok := false
	if value := e.value(f); value.Exists() {
		text := value.String()
		for _, v := range f.values {
			if v.matches(text) {
				ok = true
				break
			}
		}
	}
	e.verdicts[f.id] = rejects
	if ok {
		e.verdicts[f.id] = accepts
	}
	return ok
}

// markPath marks the indexed filters of path pathID whose prefix the
// event's value there starts with.
func (e *eventFields) markPath(pathID int) {
	if e.indexed[pathID] {
		return
	}
	e.indexed[pathID] = true
	idx := e.filters.prefixes[pathID]
	if !e.read[pathID] {
		e.byID[pathID], e.read[pathID] = e.get(idx.path), true
	}
	value := e.byID[pathID]
	if !value.Exists() {
		return
	}
	text := value.String()
	for _, n := range idx.lengths {
		if n > len(text) {
			continue
		}
		for _, id := range idx.byPrefix[text[:n]] {
			if e.verdicts[id] == unknown {
				e.verdicts[id] = candidate
			}
		}
	}
}
