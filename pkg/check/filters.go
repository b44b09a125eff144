package check

import (
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"

	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/render"
	eventsv1alpha1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	"k8s.io/apimachinery/pkg/runtime"
)

// pushFields says, for each field a Sensor's filters must hold to the
// mapped pushes, what a filter on it admits beyond them, and why that
// matters.
var pushFields = map[string]struct{ beyond, missing string }{
	"body.action": {"not INSERT: a deleted tag would start a release", "any action, a deleted tag too, would start a release"},
	"body.digest": {"not a digest of an image the cache maps: a push of it would start a release", "a push of any image would start a release"},
	"body.tag":    {"not a tag of a mapped image that its targets take (tagPattern): a push of it would start a release", "a push under any tag, or none, would start a release"},
}

// pushImage is what an image in a push can be: a registry host, with a
// port, and a lower-case path (distribution's reference grammar, loosely).
const pushImage = `[a-z0-9][a-z0-9.-]*(?::[0-9]+)?(?:/[a-z0-9][a-z0-9._-]*)+`

// pushValues are, per field, the values a registry can send: filters are
// compared on these only, as a filter that also admits what never comes
// admits nothing more.
var pushValues = map[string]string{
	"body.digest": "^" + pushImage + "@sha256:[a-f0-9]{64}$",
	"body.tag":    "^" + pushImage + ":[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$",
}

// possible returns the matchers of all with the values the registry can
// send on field.
func (a *access) possible(field string, all []*matcher) []*matcher {
	values, ok := pushValues[field]
	if !ok {
		return all
	}
	m, err := a.matcher(eventsv1alpha1.DataFilter{Path: field, Value: []string{values}})
	if err != nil {
		panic(err) // pushValues compile
	}
	return append(slices.Clip(all), m)
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
		if len(cache.byImage) == 0 {
			return // routedImages reports the images without an entry
		}
		if a.generated(i, d, data, cache.byImage) {
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
			a.fieldAdmits(i, path, field, data, on, cache.wanted()[field])
		}
	}
}

// mappedPushes are what the entries of a cache map: the entries by image,
// and (wanted) the filters generate writes for them, by field.
type mappedPushes struct {
	entries []*cacheEntry // one per image, in the caches' order
	want    map[string][]eventsv1alpha1.DataFilter
	byImage map[string]*cacheEntry
	images  map[string]bool
}

// wanted are the filters generate writes for the cache's services, by
// field, made on first use: a Sensor whose dependencies are generate's
// (generated) never needs them, and at 10,000 services they take 10 ms.
func (c *mappedPushes) wanted() map[string][]eventsv1alpha1.DataFilter {
	if c.want == nil {
		c.want = map[string][]eventsv1alpha1.DataFilter{}
		if len(c.entries) > 0 { // else every push fails at the route step: routedImages says so
			services := make([]mapping.Service, len(c.entries))
			for j, e := range c.entries {
				services[j] = e.service()
			}
			for _, f := range render.Filters(services) {
				c.want[f.Path] = append(c.want[f.Path], f)
			}
		}
	}
	return c.want
}

// cache is what the cache Sensor i's Workflows read maps (its entries
// are all known: cacheImages), made once per cache.
func (a *access) cache(i int) *mappedPushes {
	k := strings.Join(a.cacheNames[i], ",")
	if c, ok := a.caches[k]; ok {
		return c
	}
	c := &mappedPushes{byImage: map[string]*cacheEntry{}, images: map[string]bool{}}
	for _, name := range a.cacheNames[i] {
		for j := range a.entries[name] {
			e := &a.entries[name][j]
			if _, seen := c.byImage[e.image]; !seen {
				c.byImage[e.image] = e
				c.images[e.image] = true
				c.entries = append(c.entries, e)
			}
		}
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
	if field == "body.digest" && a.allListImages(data, on) {
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
		witness, found, decided := excess(a.possible(field, all), m)
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

// generated is generated for dependency d of Sensor i, once.
func (a *access) generated(i, d int, data []eventsv1alpha1.DataFilter, byImage map[string]*cacheEntry) bool {
	k := [2]int{i, d}
	if g, ok := a.generatedDeps[k]; ok {
		return g
	}
	g := a.isGenerated(data, byImage)
	a.generatedDeps[k] = g
	return g
}

// isGenerated reports whether data are the filters generate writes for the
// services (by image) whose images its digest filter lists: then they
// admit what they must, and no more.
func (a *access) isGenerated(data []eventsv1alpha1.DataFilter, byImage map[string]*cacheEntry) bool {
	var services []mapping.Service
	for _, f := range data {
		if f.Path != "body.digest" || len(f.Value) != 1 || services != nil {
			continue
		}
		images, ok := a.admittedImages(f.Value[0])
		if !ok {
			return false
		}
		if len(images) > 0 {
			services = make([]mapping.Service, 0, len(images))
		}
		for _, image := range images {
			e, mapped := byImage[image]
			if !mapped {
				return false
			}
			services = append(services, e.service())
		}
	}
	if services == nil {
		return false
	}
	want := render.Filters(services)
	if len(data) != len(want) || !reflect.DeepEqual(data[:len(want)-1], want[:len(want)-1]) {
		return false
	}
	last, w := data[len(data)-1], want[len(want)-1]
	if reflect.DeepEqual(last, w) {
		return true
	}
	// The last filter lists, per tag expression, the images that take it,
	// in the mapping's order of the expressions, which the cache does not
	// keep: any order of the same alternatives admits the same.
	if last.Path != w.Path || last.Type != w.Type || last.Comparator != w.Comparator || last.Template != w.Template || len(last.Value) != 1 {
		return false
	}
	byKey := map[string][]mapping.Service{}
	for _, svc := range services {
		one := render.Filters([]mapping.Service{svc})
		v := one[len(one)-1].Value[0]
		key := strings.TrimSuffix(strings.TrimPrefix(v, "^"+regexp.QuoteMeta(svc.Image)+":"), "$")
		byKey[key] = append(byKey[key], svc)
	}
	alternatives := map[string]bool{}
	for _, group := range byKey {
		f := render.Filters(group)
		alternatives[strings.TrimSuffix(strings.TrimPrefix(f[len(f)-1].Value[0], "^"), "$")] = true
	}
	value, ok := strings.CutPrefix(last.Value[0], "^(?:")
	if !ok || len(alternatives) < 2 {
		return false
	}
	value, ok = strings.CutSuffix(value, ")$")
	return ok && permutation(value, alternatives)
}

// permutation reports whether s is the alternatives joined by "|", each
// once, in some order.
func permutation(s string, alternatives map[string]bool) bool {
	used := map[string]bool{}
	var from func(p int) bool
	from = func(p int) bool {
		if len(used) == len(alternatives) {
			return p == len(s)+1
		}
		// The next alternative ends at a "|" or at the end; try each.
		for q := p; q <= len(s); q++ {
			if q < len(s) && s[q] != '|' {
				continue
			}
			alt := s[p:q]
			if alternatives[alt] && !used[alt] {
				used[alt] = true
				if from(q + 1) {
					return true
				}
				delete(used, alt)
			}
		}
		return false
	}
	return from(0)
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
func (a *access) allListImages(data []eventsv1alpha1.DataFilter, on []int) bool {
	for _, j := range on {
		for _, v := range data[j].Value {
			if _, ok := a.admittedImages(v); !ok {
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

// mappedPushesAdmitted checks, for each cache the Sensors' Workflows read,
// that the Sensors admit every push it maps: an image no Sensor admits,
// or a push of an admitted image that its Sensor's filters refuse (a tag
// the cache's tagPattern takes, say), rolls only when the reconcile pass
// finds it, minutes late. A dependency whose filters are what generate
// writes for the images it lists admits their pushes.
func (a *access) mappedPushesAdmitted(decoded []runtime.Object) {
	readers := map[string][]int{} // cache → the Sensors whose Workflows read it, in input order
	for i, obj := range decoded {
		if _, ok := obj.(*eventsv1alpha1.Sensor); ok && a.cacheImages[i] != nil {
			k := strings.Join(a.cacheNames[i], ",")
			readers[k] = append(readers[k], i)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(readers)) {
		sensors := readers[k]
		cache := a.cache(sensors[0])
		admitted := map[string]bool{}
		for _, i := range sensors {
			s := decoded[i].(*eventsv1alpha1.Sensor)
			for d, dep := range s.Spec.Dependencies {
				var data []eventsv1alpha1.DataFilter
				if dep.Filters != nil {
					data = dep.Filters.Data
					if dep.Filters.DataLogicalOperator == eventsv1alpha1.OrLogicalOperator || dep.FiltersLogicalOperator == eventsv1alpha1.OrLogicalOperator {
						maps.Copy(admitted, cache.images) // filterLogic refuses it
						continue
					}
				}
				if a.generated(i, d, data, cache.byImage) {
					for _, f := range data {
						if f.Path == "body.digest" {
							images, _ := a.admittedImages(f.Value[0])
							for _, image := range images {
								admitted[image] = true
							}
						}
					}
					continue
				}
				for _, image := range slices.Sorted(maps.Keys(cache.byImage)) {
					admits, known := admitsPush(data, image)
					if !known {
						admitted[image] = true // other checks refuse the filters
						continue
					}
					if !admits {
						continue
					}
					admitted[image] = true
					a.refusedPushes(i, fmt.Sprintf("spec.dependencies[%d]", d), data, cache.byImage[image].service())
				}
			}
		}
		for _, image := range slices.Sorted(maps.Keys(cache.byImage)) {
			if !admitted[image] {
				a.fail(sensors[0], "spec.dependencies", "the cache maps image %s, but no Sensor admits its pushes: they roll only when the reconcile pass finds them, minutes late", image)
			}
		}
	}
}

// samplePush is a push of image under a tag, with a digest.
func samplePush(image string) map[string]string {
	return map[string]string{"body.action": "INSERT", "body.digest": image + "@sha256:" + strings.Repeat("0", 64)}
}

// admitsPush reports whether the digest and action filters among data
// admit a push of image; known is false when one is not a plain string
// filter that compiles, which other checks refuse.
func admitsPush(data []eventsv1alpha1.DataFilter, image string) (admits, known bool) {
	push := samplePush(image)
	admits = true
	for _, f := range data {
		value, ok := push[f.Path]
		if !ok {
			continue
		}
		if f.Type != eventsv1alpha1.JSONTypeString || f.Template != "" || (f.Comparator != "" && f.Comparator != eventsv1alpha1.EqualTo) {
			return false, false
		}
		matched := false
		for _, v := range f.Value {
			re, err := regexp.Compile(v)
			if err != nil {
				return false, false
			}
			matched = matched || re.MatchString(value)
		}
		admits = admits && matched
	}
	return admits, true
}

// refusedPushes checks that the filters data of the dependency at path of
// Sensor i admit every push of svc the cache maps.
func (a *access) refusedPushes(i int, path string, data []eventsv1alpha1.DataFilter, svc mapping.Service) {
	want := map[string][]*matcher{}
	for _, f := range render.Filters([]mapping.Service{svc}) {
		m, err := a.matcher(f)
		if err != nil {
			return
		}
		want[f.Path] = append(want[f.Path], m)
	}
	for j, f := range data {
		if want[f.Path] == nil || f.Type != eventsv1alpha1.JSONTypeString || f.Template != "" || (f.Comparator != "" && f.Comparator != eventsv1alpha1.EqualTo) {
			continue
		}
		m, err := a.matcher(f)
		if err != nil {
			continue
		}
		witness, found, _ := excess(a.possible(f.Path, want[f.Path]), m)
		if found {
			a.fail(i, fmt.Sprintf("%s.filters.data[%d]", path, j), "refuses %q, a push the cache maps (service %s): it rolls only when the reconcile pass finds it, minutes late", witness, svc.Name)
		}
	}
}
