package simulate

import (
	"cmp"
	"slices"
	"strconv"
)

// rankIndex finds the dependencies a message that fires nothing came
// closest to without visiting each of them. replayAll ranks every
// dependency by the screen filters that accept the event. In a pipeline
// of thousands of services the dependencies differ only in indexed
// filters of their own (the image in the digest and tag filters), which a
// message's values can pass only where the prefix index marks them
// candidates (markPath), and share the rest (the action). So they are
// grouped by source and shared filters: a member none of whose own
// filters is a candidate accepts exactly its group's shared filters that
// accept the event. Only the other members ("touched"), the dependencies
// with no filter of their own, and those without a screen are judged one
// by one, as replayAll judges them. TestCandidatesChangeNothing,
// TestScreensChangeNothing and FuzzScreens hold it to Argo Events' code
// alone, and BenchmarkReplayUnmapped measures it.
type rankIndex struct {
	members    []rankMember
	groups     []*rankGroup
	byFilter   map[int][]int // an indexed screen filter's id → the members whose screens have it
	singles    []int         // members whose screens have no indexed filter
	unscreened []rankedRef   // dependencies with a source and no screen
	paths      map[int][]int // per source, the indexed paths its members' screens read
}

// rankedRef is a dependency and its place in replayAll's order.
type rankedRef struct {
	ref   dependencyRef
	order int
}

type rankMember struct {
	rankedRef
	src   int
	group int
}

// rankGroup is the members that share a source and unindexed filters.
type rankGroup struct {
	src     int
	shared  []*screenFilter
	members []int // in order
}

// maxOwners is how many dependencies an indexed filter may have and still
// count as theirs (own) rather than shared.
const maxOwners = 8

func newRankIndex(p *Pipeline) *rankIndex {
	ri := &rankIndex{byFilter: map[int][]int{}, paths: map[int][]int{}}
	owners := map[*screenFilter]int{}
	for si, s := range p.sensors {
		for di := range s.Spec.Dependencies {
			if sc := p.screens[si][di]; sc != nil && p.sourceOf[si][di] >= 0 {
				for _, f := range sc.filters {
					owners[f]++
				}
			}
		}
	}
	own := func(f *screenFilter) bool { return f.indexed && owners[f] <= maxOwners }
	byKey := map[string]int{}
	order := 0
	for si, s := range p.sensors {
		for di := range s.Spec.Dependencies {
			src := p.sourceOf[si][di]
			if src < 0 {
				continue // replayAll never visits it
			}
			ref := rankedRef{dependencyRef{si, di}, order}
			order++
			sc := p.screens[si][di]
			if sc == nil {
				ri.unscreened = append(ri.unscreened, ref)
				continue
			}
			var shared []*screenFilter
			key := strconv.Itoa(src)
			for _, f := range sc.filters {
				if !own(f) {
					shared = append(shared, f)
					key += "/" + strconv.Itoa(f.id)
				}
			}
			mi := len(ri.members)
			if len(shared) == len(sc.filters) {
				ri.singles = append(ri.singles, mi)
				ri.members = append(ri.members, rankMember{ref, src, -1})
				continue
			}
			g, seen := byKey[key]
			if !seen {
				g = len(ri.groups)
				byKey[key] = g
				ri.groups = append(ri.groups, &rankGroup{src: src, shared: shared})
			}
			ri.groups[g].members = append(ri.groups[g].members, mi)
			ri.members = append(ri.members, rankMember{ref, src, g})
			for _, f := range sc.filters {
				if own(f) {
					if !slices.Contains(ri.byFilter[f.id], mi) {
						ri.byFilter[f.id] = append(ri.byFilter[f.id], mi)
					}
					if !slices.Contains(ri.paths[src], f.pathID) {
						ri.paths[src] = append(ri.paths[src], f.pathID)
					}
				}
			}
		}
	}
	return ri
}

// rank is replayAll for a message that fires nothing, every source's
// event built: the closest dependencies, explained, and how many more
// were as close. ok is false when a dependency judged one by one is
// satisfied: replayAll then decides what fires.
func (p *Pipeline) rank(m *sourceEvents) (out Outcome, ok bool) {
	ri := p.ranks
	touched := map[int]bool{}
	for src, paths := range ri.paths {
		fields := m.fields[src]
		for _, pathID := range paths {
			fields.markPath(pathID)
		}
		for _, id := range fields.marked {
			for _, mi := range ri.byFilter[id] {
				if ri.members[mi].src == src {
					touched[mi] = true
				}
			}
		}
	}
	type ranked struct {
		rejection
		order int
	}
	var judged []ranked
	judge := func(r rankedRef, src int) bool {
		si, di := r.ref.sensor, r.ref.dep
		dep := &p.sensors[si].Spec.Dependencies[di]
		event, fields := m.events[src], m.fields[src]
		if sc := p.screens[si][di]; sc != nil {
			if passed := sc.count(fields); passed < len(sc.filters) {
				judged = append(judged, ranked{rejection{sensor: p.sensorNames[si], dep: dep, event: event, screen: sc, fields: fields, passed: passed}, r.order})
				return true
			}
		}
		accepted, err := p.filter(si, di, event, fields)
		if accepted && err == nil {
			return false
		}
		judged = append(judged, ranked{rejection{sensor: p.sensorNames[si], dep: dep, event: event, err: err, passed: -1}, r.order})
		return true
	}
	for mi := range touched {
		if !judge(ri.members[mi].rankedRef, ri.members[mi].src) {
			return Outcome{}, false
		}
	}
	for _, mi := range ri.singles {
		if !judge(ri.members[mi].rankedRef, ri.members[mi].src) {
			return Outcome{}, false
		}
	}
	for _, r := range ri.unscreened {
		if !judge(r, p.sourceOf[r.ref.sensor][r.ref.dep]) {
			return Outcome{}, false
		}
	}
	best, count := 0, 0
	for i := range judged {
		if judged[i].passed < 0 {
			judged[i].passed = verdict(judged[i].rejection, p.exact).Passed
		}
		best = max(best, judged[i].passed)
	}
	shared := make([]int, len(ri.groups))
	for g, group := range ri.groups {
		for _, f := range group.shared {
			if m.fields[group.src].accepts(f) {
				shared[g]++
			}
		}
		best = max(best, shared[g])
	}
	out = Outcome{Message: m.msg.ID, Payload: string(m.msg.Data), Fired: []Trigger{}, Rejected: []Verdict{}} // as nearest makes it
	if best == 0 {
		return out, true
	}
	var closest []ranked
	for _, r := range judged {
		if r.passed == best {
			count++
			closest = append(closest, r)
		}
	}
	for g, group := range ri.groups {
		if shared[g] != best {
			continue
		}
		taken := 0
		for _, mi := range group.members {
			if touched[mi] {
				continue
			}
			count++
			if taken < maxRejected {
				taken++
				r := ri.members[mi]
				si, di := r.ref.sensor, r.ref.dep
				closest = append(closest, ranked{rejection{sensor: p.sensorNames[si], dep: &p.sensors[si].Spec.Dependencies[di], event: m.events[group.src],
					screen: p.screens[si][di], fields: m.fields[group.src], passed: best}, r.order})
			}
		}
	}
	slices.SortFunc(closest, func(a, b ranked) int { return cmp.Compare(a.order, b.order) })
	closest = closest[:min(len(closest), maxRejected)]
	out.Rejected = make([]Verdict, len(closest))
	for i, r := range closest {
		out.Rejected[i] = verdict(r.rejection, p.exact)
	}
	out.More = count - len(closest)
	return out, true
}
