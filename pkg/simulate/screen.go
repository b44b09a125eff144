package simulate

import (
	"regexp"
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
// own Filter, so a screen never decides that a trigger fires.
type screen struct{ filters []*screenFilter }

// screenFilter is one string data filter: the value at path must match
// one of values. Dependencies with the same filter share it, and an
// event's verdict on it is worked out once (eventFields.accepts).
type screenFilter struct {
	id     int // index among the pipeline's filters
	path   string
	pathID int // index among the paths the pipeline's filters read
	values []screenValue
}

// screenFilters interns the filters of a pipeline's screens and the paths
// they read.
type screenFilters struct {
	byKey map[string]*screenFilter
	paths map[string]int
}

func newScreenFilters() *screenFilters {
	return &screenFilters{byKey: map[string]*screenFilter{}, paths: map[string]int{}}
}

// screenValue is one regular expression of a filter. A value that does
// not start with prefix cannot match: the expression is anchored with ^
// and then reads prefix literally. Checking that first spares running the
// matcher against every other dependency's expression.
type screenValue struct {
	re     *regexp.Regexp
	prefix string
}

func (v screenValue) matches(s string) bool {
	return strings.HasPrefix(s, v.prefix) && v.re.MatchString(s)
}

// newScreen returns the screen of dep, or nil when dep's filters are not
// all string filters joined with "and" that a screen can read exactly as
// Argo Events does: then Argo Events alone judges it.
func newScreen(dep eventsv1alpha1.EventDependency, known *screenFilters) *screen {
	f := dep.Filters
	if f == nil || len(f.Data) == 0 || !isAnd(dep.FiltersLogicalOperator) || !isAnd(f.DataLogicalOperator) {
		return nil
	}
	s := &screen{}
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
			}
			sf = &screenFilter{id: len(known.byKey), path: d.Path, pathID: pathID}
			for _, v := range d.Value {
				re, err := regexp.Compile(v)
				if err != nil {
					return nil // Argo Events reports the error
				}
				sv := screenValue{re: re}
				if strings.HasPrefix(v, "^") {
					sv.prefix, _ = re.LiteralPrefix()
				}
				sf.values = append(sf.values, sv)
			}
			known.byKey[key] = sf
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
	values   map[string]gjson.Result
	byID     []gjson.Result // the screen filters' paths, by pathID
	read     []bool         // which of byID are read
	verdicts []int8         // by screenFilter.id: 0 not asked yet, 1 accepts, -1 rejects
}

func newEventFields(data []byte, filters *screenFilters) *eventFields {
	return &eventFields{
		data: data, values: map[string]gjson.Result{},
		byID: make([]gjson.Result, len(filters.paths)), read: make([]bool, len(filters.paths)),
		verdicts: make([]int8, len(filters.byKey)),
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

// accepts reports whether the value at f's path exists and matches one
// of f's expressions.
func (e *eventFields) accepts(f *screenFilter) bool {
	if v := e.verdicts[f.id]; v != 0 {
		return v > 0
	}
	if !e.read[f.pathID] {
		e.byID[f.pathID], e.read[f.pathID] = e.get(f.path), true
	}
	ok := false
	if value := e.byID[f.pathID]; value.Exists() {
		text := value.String()
		for _, v := range f.values {
			if v.matches(text) {
				ok = true
				break
			}
		}
	}
	e.verdicts[f.id] = -1
	if ok {
		e.verdicts[f.id] = 1
	}
	return ok
}
