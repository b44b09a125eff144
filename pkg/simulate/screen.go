package simulate

import (
	"regexp"

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
type screen struct{ filters []screenFilter }

type screenFilter struct {
	path   string
	values []*regexp.Regexp
}

// newScreen returns the screen of dep, or nil when dep's filters are not
// all string filters joined with "and" that a screen can read exactly as
// Argo Events does: then Argo Events alone judges it.
func newScreen(dep eventsv1alpha1.EventDependency) *screen {
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
		sf := screenFilter{path: d.Path}
		for _, v := range d.Value {
			re, err := regexp.Compile(v)
			if err != nil {
				return nil // Argo Events reports the error
			}
			sf.values = append(sf.values, re)
		}
		s.filters = append(s.filters, sf)
	}
	return s
}

func isAnd(op eventsv1alpha1.LogicalOperator) bool {
	return op == eventsv1alpha1.EmptyLogicalOperator || op == eventsv1alpha1.AndLogicalOperator
}

// passes counts the filters that accept the event and says whether all
// do; fields reads the event's data.
func (s *screen) passes(fields *eventFields) (passed int, all bool) {
	for _, f := range s.filters {
		value := fields.get(f.path)
		if !value.Exists() {
			continue
		}
		for _, re := range f.values {
			if re.MatchString(value.String()) {
				passed++
				break
			}
		}
	}
	return passed, passed == len(s.filters)
}

// eventFields reads paths from one event's data (JSON) with gjson, as
// filterData does, each path once: the dependencies of a Sensor mostly
// filter on the same few paths.
type eventFields struct {
	data   []byte
	values map[string]gjson.Result
}

func newEventFields(data []byte) *eventFields {
	return &eventFields{data: data, values: map[string]gjson.Result{}}
}

func (e *eventFields) get(path string) gjson.Result {
	v, ok := e.values[path]
	if !ok {
		v = gjson.GetBytes(e.data, path)
		e.values[path] = v
	}
	return v
}
