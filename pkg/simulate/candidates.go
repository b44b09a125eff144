package simulate

import (
	"cmp"
	"slices"

	eventsv1alpha1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
)

// dependencyKeys finds the dependencies a message can satisfy without
// visiting the others. A dependency whose screen has an indexed filter
// (one expression with a literal prefix: the image in a pipeline's digest
// and tag filters) can be satisfied only by an event whose value at that
// filter's path starts with the prefix, so it is filed under it; a
// message's value there names the few dependencies worth asking, where
// replayAll visits all of them, thousands in a large pipeline.
type dependencyKeys struct {
	bySource [][]*keyIndex   // per source in sourceList, the indexes of the paths its dependencies are filed by
	others   []dependencyRef // dependencies filed under no prefix: always visited
}

// keyIndex files dependencies by the prefix of their key filter at path.
type keyIndex struct {
	path     string
	lengths  []int // the distinct prefix lengths
	byPrefix map[string][]dependencyRef
}

// dependencyRef is dependency dep of Sensor sensor.
type dependencyRef struct{ sensor, dep int }

func newDependencyKeys(p *Pipeline) *dependencyKeys {
	// How many dependencies share each filter: a dependency is filed under
	// its most selective indexed filter (the image, not the action).
	shared := map[*screenFilter]int{}
	for si, s := range p.sensors {
		for di := range s.Spec.Dependencies {
			if sc := p.screens[si][di]; sc != nil {
				for _, f := range sc.filters {
					shared[f]++
				}
			}
		}
	}
	k := &dependencyKeys{bySource: make([][]*keyIndex, len(p.sourceList))}
	for si, s := range p.sensors {
		for di := range s.Spec.Dependencies {
			src := p.sourceOf[si][di]
			if src < 0 {
				continue // Replay never visits it
			}
			ref := dependencyRef{si, di}
			f := keyFilter(p.screens[si][di], shared)
			if f == nil {
				k.others = append(k.others, ref)
				continue
			}
			i := slices.IndexFunc(k.bySource[src], func(idx *keyIndex) bool { return idx.path == f.path })
			if i < 0 {
				i = len(k.bySource[src])
				k.bySource[src] = append(k.bySource[src], &keyIndex{path: f.path, byPrefix: map[string][]dependencyRef{}})
			}
			idx := k.bySource[src][i]
			prefix := f.values[0].prefix
			if !slices.Contains(idx.lengths, len(prefix)) {
				idx.lengths = append(idx.lengths, len(prefix))
			}
			idx.byPrefix[prefix] = append(idx.byPrefix[prefix], ref)
		}
	}
	return k
}

// keyFilter is the indexed filter of sc that the fewest dependencies
// share (the first of those), or nil when sc has none.
func keyFilter(sc *screen, shared map[*screenFilter]int) *screenFilter {
	if sc == nil {
		return nil
	}
	var key *screenFilter
	for _, f := range sc.filters {
		if f.indexed && (key == nil || shared[f] < shared[key]) {
			key = f
		}
	}
	return key
}

// candidates are the dependencies an event can satisfy, in Sensor order
// then dependency order: those filed under a prefix of the event's value
// at their key filter's path, and those filed under none.
func (k *dependencyKeys) candidates(fields []*eventFields) []dependencyRef {
	refs := slices.Clone(k.others)
	for src, indexes := range k.bySource {
		for _, idx := range indexes {
			value := fields[src].get(idx.path)
			if !value.Exists() {
				continue // every key filter at this path rejects the event
			}
			text := value.String()
			for _, n := range idx.lengths {
				if n <= len(text) {
					refs = append(refs, idx.byPrefix[text[:n]]...)
				}
			}
		}
	}
	slices.SortFunc(refs, func(a, b dependencyRef) int {
		return cmp.Or(cmp.Compare(a.sensor, b.sensor), cmp.Compare(a.dep, b.dep))
	})
	return refs
}

// replayCandidates is Replay visiting only the candidate dependencies. A
// dependency left out is one its screen rejects, so what fires is what
// replayAll finds. ok is false when nothing fires (replayAll then explains
// the rejections, which needs every dependency) or when an EventSource
// drops the message (replayAll reports it as it meets it). The events it
// builds stay in m for replayAll.
func (p *Pipeline) replayCandidates(m *sourceEvents) (out Outcome, ok bool) {
	for src := range p.sourceList {
		if _, _, err := p.event(m, src); err != nil {
			return Outcome{}, false
		}
	}
	events, fields := m.events, m.fields
	out = Outcome{Message: m.msg.ID, Payload: string(m.msg.Data), Fired: []Trigger{}}
	refs := p.keys.candidates(fields)
	for i := 0; i < len(refs); {
		si := refs[i].sensor
		s := p.sensors[si]
		satisfied := map[string]*eventsv1alpha1.Event{}
		for ; i < len(refs) && refs[i].sensor == si; i++ {
			di := refs[i].dep
			src := p.sourceOf[si][di]
			if sc := p.screens[si][di]; sc != nil && !sc.passes(fields[src]) {
				continue
			}
			if ok, err := p.filter(si, di, events[src], fields[src]); ok && err == nil {
				satisfied[s.Spec.Dependencies[di].Name] = events[src]
			}
		}
		out.Fired = p.fire(si, satisfied, out.Fired)
	}
	return out, len(out.Fired) > 0
}
