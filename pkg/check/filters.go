package check

import (
	"fmt"
	"reflect"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"

	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/render"
	eventsv1alpha1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
)

// pushFields says, for each field a Sensor's filters must hold to the
// mapped pushes, what a filter on it admits beyond them, and why that
// matters.
var pushFields = map[string]struct{ beyond, missing string }{
	"body.action": {"not INSERT: a deleted tag would start a release", "any action, a deleted tag too, would start a release"},
	"body.digest": {"not a digest of an image the cache maps: a push of it would start a release", "a push of any image would start a release"},
	"body.tag":    {"not a tag of a mapped image that its targets take (tagPattern): a push of it would start a release", "a push under any tag, or none, would start a release"},
}

// exactFilters checks that the data filters of each dependency of Sensor
// i, whose Workflows read a known cache, admit no push but those of the
// images and tags the cache maps: on each field, what the filters on it
// admit together (each value matched anywhere, as Argo Events matches)
// must be admitted by every filter generate writes for the cache's
// entries (render.Filters), as a comparison of the languages of the
// regexps, not of their text. What is admitted beyond them is shown by
// its shortest example. Dependencies whose filters other checks already
// refuse (or, another comparator or type, a value that does not compile)
// are left to those.
func (a *access) exactFilters(i int, s *eventsv1alpha1.Sensor) {
	if a.cacheImages[i] == nil {
		return
	}
	for d, dep := range s.Spec.Dependencies {
		path := fmt.Sprintf("spec.dependencies[%d]", d)
		var data []eventsv1alpha1.DataFilter
		if dep.Filters != nil {
			if dep.Filters.DataLogicalOperator == eventsv1alpha1.OrLogicalOperator || dep.FiltersLogicalOperator == eventsv1alpha1.OrLogicalOperator {
				continue // filterLogic refuses it
			}
			data = dep.Filters.Data
		}
		if !fieldsExist(data) {
			continue // it never fires; pubSubPath says why
		}
		cache := a.cache(i)
		if generated(data, cache.byImage) {
			continue
		}
		for _, field := range []string{"body.action", "body.digest", "body.tag"} {
			var on []int // the dependency's filters on field
			for j, f := range data {
				if f.Path == field {
					on = append(on, j)
				}
			}
			if len(on) == 0 {
				at := path + ".filters.data"
				if dep.Filters == nil {
					at = path + ".filters"
				}
				a.fail(i, at, "no filter on %s: %s", field, pushFields[field].missing)
				continue
			}
			a.fieldAdmits(i, path, field, data, on, cache.want[field])
		}
	}
}

// mappedPushes are what the entries of a cache map: the filters generate
// writes for them, by field, and the entries by image.
type mappedPushes struct {
	want    map[string][]eventsv1alpha1.DataFilter
	byImage map[string]mapping.Service
}

// cache is what the cache Sensor i's Workflows read maps (its entries
// are all known: cacheImages), made once per cache.
func (a *access) cache(i int) *mappedPushes {
	k := strings.Join(a.cacheNames[i], ",")
	if c, ok := a.caches[k]; ok {
		return c
	}
	c := &mappedPushes{want: map[string][]eventsv1alpha1.DataFilter{}, byImage: map[string]mapping.Service{}}
	var services []mapping.Service
	for _, name := range a.cacheNames[i] {
		for _, e := range a.entries[name] {
			if _, seen := c.byImage[e.svc.Image]; !seen {
				c.byImage[e.svc.Image] = e.svc
				services = append(services, e.svc)
			}
		}
	}
	for _, f := range render.Filters(services) {
		c.want[f.Path] = append(c.want[f.Path], f)
	}
	a.caches[k] = c
	return c
}

// fieldAdmits checks that the dependency's filters on field (data[j] for j
// in on) admit together nothing that one of want does not.
func (a *access) fieldAdmits(i int, path, field string, data []eventsv1alpha1.DataFilter, on []int, want []eventsv1alpha1.DataFilter) {
	var all []*matcher
	for _, j := range on {
		f := data[j]
		at := fmt.Sprintf("%s.filters.data[%d]", path, j)
		if f.Type != eventsv1alpha1.JSONTypeString || (f.Comparator != "" && f.Comparator != eventsv1alpha1.EqualTo) {
			return // filterLogic refuses it
		}
		if f.Template != "" {
			a.fail(i, at+".template", "the value of %s is rewritten by a template before it is matched, so what the filter admits is unknown: filter the value itself", field)
			return
		}
		for _, v := range f.Value {
			if re, err := syntax.Parse(v, syntax.Perl); err != nil || !anchored(re, true) || !anchored(re, false) {
				return // dataFilter refuses it
			}
		}
		m, err := a.matcher(f)
		if err != nil {
			return
		}
		all = append(all, m)
	}
	if field == "body.digest" && allListImages(data, on) {
		return // routedImages checks each image
	}
	for w, allowed := range want {
		if slices.ContainsFunc(on, func(j int) bool { return slices.Equal(data[j].Value, allowed.Value) }) {
			continue // that filter alone admits no more than allowed
		}
		m, err := a.matcher(allowed)
		if err != nil {
			a.fail(i, path, "internal error: the filter generate writes for the cache does not compile: %v", err)
			return
		}
		witness, found, decided := excess(all, m)
		if !decided {
			a.fail(i, fmt.Sprintf("%s.filters.data[%d]", path, on[0]), "too complex to compare with the mapped pushes (over %d states): write the filter as generate does", maxStates)
			return
		}
		if !found {
			continue
		}
		// Blame the filter in the place of want[w], and its first value
		// that admits the example.
		j := on[0]
		if w < len(on) {
			j = on[w]
		}
		at := fmt.Sprintf("%s.filters.data[%d]", path, j)
		for v, value := range data[j].Value {
			if re, err := regexp.Compile(value); err == nil && re.MatchString(witness) {
				at = fmt.Sprintf("%s.value[%d]", at, v)
				break
			}
		}
		a.fail(i, at, "admits %q, %s", witness, pushFields[field].beyond)
		return
	}
}

// generated reports whether data are the filters generate writes for the
// services (by image) whose images its digest filter lists: then they
// admit what they must, and no more.
func generated(data []eventsv1alpha1.DataFilter, byImage map[string]mapping.Service) bool {
	var services []mapping.Service
	for _, f := range data {
		if f.Path != "body.digest" || len(f.Value) != 1 || services != nil {
			continue
		}
		images, ok := admittedImages(f.Value[0])
		if !ok {
			return false
		}
		for _, image := range images {
			svc, mapped := byImage[image]
			if !mapped {
				return false
			}
			services = append(services, svc)
		}
	}
	if services == nil {
		return false
	}
	return reflect.DeepEqual(data, render.Filters(services))
}

// fieldsExist reports whether every filter reads a field an Artifact
// Registry event has (a filter on another never matches).
func fieldsExist(data []eventsv1alpha1.DataFilter) bool {
	for _, f := range data {
		parts := strings.Split(f.Path, ".")
		if !slices.Contains(pubSubFields, parts[0]) || parts[0] == "body" && (len(parts) != 2 || !slices.Contains(garFields, parts[1])) {
			return false
		}
	}
	return true
}

// allListImages reports whether every filter data[j], j in on, lists its
// images (admittedImages).
func allListImages(data []eventsv1alpha1.DataFilter, on []int) bool {
	for _, j := range on {
		for _, v := range data[j].Value {
			if _, ok := admittedImages(v); !ok {
				return false
			}
		}
	}
	return true
}

// matcher compiles a string filter once per Access run.
func (a *access) matcher(f eventsv1alpha1.DataFilter) (*matcher, error) {
	k := f.Path + "\x00" + strings.Join(f.Value, "\x00")
	if m, ok := a.matchers[k]; ok {
		return m, nil
	}
	m, err := newMatcher(f.Value)
	if err != nil {
		return nil, err
	}
	a.matchers[k] = m
	return m, nil
}
