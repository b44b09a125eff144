package check

import (
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A matcher is a compiled string data filter: the values of the filter,
// each matched anywhere in the event's value (regexp.Match, as Argo
// Events' dependencies.Filter matches), so it admits a string when one of
// them matches. Its states are sets of instructions of the program.
type matcher struct {
	prog *syntax.Prog
	seen []bool   // closure's visited marks, cleared after each use
	work []uint32 // closure's stack
}

// newMatcher compiles the values of a filter, which must parse.
func newMatcher(values []string) (*matcher, error) {
	anything := &syntax.Regexp{Op: syntax.OpStar, Sub: []*syntax.Regexp{{Op: syntax.OpAnyChar}}}
	var alternatives []*syntax.Regexp
	for _, v := range values {
		re, err := syntax.Parse(v, syntax.Perl)
		if err != nil {
			return nil, err
		}
		// Matching anywhere is matching the whole of .*(?:v).*
		alternatives = append(alternatives, &syntax.Regexp{Op: syntax.OpConcat, Sub: []*syntax.Regexp{anything, re, anything}})
	}
	re := &syntax.Regexp{Op: syntax.OpNoMatch}
	switch len(alternatives) {
	case 0:
	case 1:
		re = alternatives[0]
	default:
		re = &syntax.Regexp{Op: syntax.OpAlternate, Sub: alternatives}
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return nil, err
	}
	return &matcher{prog: prog, seen: make([]bool, len(prog.Inst))}, nil
}

// closure follows the empty moves from the instructions of state, with
// flag the empty-width assertions that hold here, and returns the
// instructions that consume a rune and whether the filter matches here.
func (m *matcher) closure(state []uint32, flag syntax.EmptyOp) (runes []uint32, match bool) {
	m.work = append(m.work[:0], state...)
	var visited []uint32
	for len(m.work) > 0 {
		pc := m.work[len(m.work)-1]
		m.work = m.work[:len(m.work)-1]
		if m.seen[pc] {
			continue
		}
		m.seen[pc] = true
		visited = append(visited, pc)
		inst := &m.prog.Inst[pc]
		switch inst.Op {
		case syntax.InstAlt, syntax.InstAltMatch:
			m.work = append(m.work, inst.Arg, inst.Out)
		case syntax.InstCapture, syntax.InstNop:
			m.work = append(m.work, inst.Out)
		case syntax.InstEmptyWidth:
			if syntax.EmptyOp(inst.Arg)&^flag == 0 {
				m.work = append(m.work, inst.Out)
			}
		case syntax.InstMatch:
			match = true
		case syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
			runes = append(runes, pc)
		}
	}
	for _, pc := range visited {
		m.seen[pc] = false
	}
	return runes, match
}

// step is the state after r, from the consuming instructions runes.
func (m *matcher) step(runes []uint32, r rune) []uint32 {
	var next []uint32
	for _, pc := range runes {
		if inst := &m.prog.Inst[pc]; inst.MatchRune(r) {
			next = append(next, inst.Out)
		}
	}
	slices.Sort(next)
	return slices.Compact(next)
}

// bounds adds to b the first rune of each run of runes the consuming
// instructions runes treat alike, and the rune after each run.
func (m *matcher) bounds(runes []uint32, b []rune) []rune {
	for _, pc := range runes {
		inst := &m.prog.Inst[pc]
		switch inst.Op {
		case syntax.InstRune1:
			b = append(b, inst.Rune[0], inst.Rune[0]+1)
		case syntax.InstRuneAnyNotNL:
			b = append(b, '\n', '\n'+1)
		case syntax.InstRune:
			if len(inst.Rune) == 1 { // one rune, and its other cases when folded
				b = append(b, inst.Rune[0], inst.Rune[0]+1)
				if syntax.Flags(inst.Arg)&syntax.FoldCase != 0 {
					for f := unicode.SimpleFold(inst.Rune[0]); f != inst.Rune[0]; f = unicode.SimpleFold(f) {
						b = append(b, f, f+1)
					}
				}
				continue
			}
			for i := 0; i+1 < len(inst.Rune); i += 2 {
				b = append(b, inst.Rune[i], inst.Rune[i+1]+1)
			}
		}
	}
	return b
}

// The runes after a position decide the empty-width assertions that hold
// there by their kind only (syntax.EmptyOpContext): a newline, a word
// rune, or any other. Each kind is explored with its own closures.
var runeKinds = []struct {
	sample rune
	bounds []rune // the runs of the kind: its first runes and the runes after them
	has    func(rune) bool
}{
	{'a', []rune{'0', '9' + 1, 'A', 'Z' + 1, '_', '_' + 1, 'a', 'z' + 1}, syntax.IsWordChar},
	{'-', []rune{0, utf8.MaxRune + 1}, func(r rune) bool { return r != '\n' && !syntax.IsWordChar(r) }},
	{'\n', []rune{'\n', '\n' + 1}, func(r rune) bool { return r == '\n' }},
}

// readable are the runes a witness is written with where a run allows:
// an X stands out in a name, then digits and letters.
const readable = "Xx0123456789abcdefghijklmnopqrstuvwyzABCDEFGHIJKLMNOPQRSTUVWYZ_-.:/@"

// samples picks a rune of kind has in each run [b[j], b[j+1]), readable
// ones first, in the order of readable.
func samples(b []rune, has func(rune) bool) []rune {
	var out []rune
	for j := 0; j+1 < len(b); j++ {
		if r, ok := sample(b[j], b[j+1], has); ok {
			out = append(out, r)
		}
	}
	rank := func(r rune) int {
		if i := strings.IndexRune(readable, r); i >= 0 {
			return i
		}
		return len(readable) + int(r)
	}
	slices.SortStableFunc(out, func(x, y rune) int { return rank(x) - rank(y) })
	return out
}

// sample picks a rune in [lo, hi) of kind has, readable if it can.
func sample(lo, hi rune, has func(rune) bool) (rune, bool) {
	for _, r := range readable {
		if r >= lo && r < hi && has(r) {
			return r, true
		}
	}
	for r := lo; r < hi && r < lo+256; r++ {
		if has(r) && r != utf8.RuneError && (r < 0xD800 || r > 0xDFFF) {
			return r, true
		}
	}
	return 0, false
}

// maxStates bounds the search of excess.
const maxStates = 200000

// excess finds a string that every filter in all admits and that allowed
// does not: the shortest one but the empty string, written with readable
// runes where it can.
// found is false when there is none; decided is false when the search
// gave up (past maxStates states).
func excess(all []*matcher, allowed *matcher) (witness string, found, decided bool) {
	machines := append(slices.Clip(all), allowed)
	type node struct {
		states [][]uint32
		prev   rune // the rune before this position, -1 at the start
		parent int
	}
	key := func(n node) string {
		var b strings.Builder
		b.WriteString(strconv.Itoa(prevKind(n.prev)))
		for _, s := range n.states {
			b.WriteByte('|')
			for _, pc := range s {
				b.WriteString(strconv.FormatUint(uint64(pc), 36))
				b.WriteByte(',')
			}
		}
		return b.String()
	}
	start := node{prev: -1, parent: -1}
	for _, m := range machines {
		start.states = append(start.states, []uint32{uint32(m.prog.Start)})
	}
	nodes := []node{start}
	seen := map[string]bool{key(start): true}
	for head := 0; head < len(nodes); head++ {
		if len(nodes) > maxStates {
			return "", false, false
		}
		n := nodes[head]
		// Does the string so far end here admitted by all, not by allowed?
		end := syntax.EmptyOpContext(n.prev, -1)
		ends := true
		for i, m := range machines {
			_, match := m.closure(n.states[i], end)
			if i < len(all) && !match || i == len(all) && match {
				ends = false
				break
			}
		}
		if ends && head > 0 {
			var rs []rune
			for i := head; i > 0; i = nodes[i].parent {
				rs = append(rs, nodes[i].prev)
			}
			slices.Reverse(rs)
			return string(rs), true, true
		}
		for _, kind := range runeKinds {
			flag := syntax.EmptyOpContext(n.prev, kind.sample)
			runes := make([][]uint32, len(machines))
			b := append([]rune(nil), kind.bounds...)
			dead := false
			for i, m := range machines {
				runes[i], _ = m.closure(n.states[i], flag)
				if i < len(all) && len(runes[i]) == 0 {
					dead = true // a filter that admits nothing more
					break
				}
				b = m.bounds(runes[i], b)
			}
			if dead {
				continue
			}
			slices.Sort(b)
			for _, r := range samples(slices.Compact(b), kind.has) {
				next := node{prev: r, parent: head, states: make([][]uint32, len(machines))}
				alive := true
				for i, m := range machines {
					next.states[i] = m.step(runes[i], r)
					if i < len(all) && len(next.states[i]) == 0 {
						alive = false
						break
					}
				}
				if !alive {
					continue
				}
				if k := key(next); !seen[k] {
					seen[k] = true
					nodes = append(nodes, next)
				}
			}
		}
	}
	return "", false, true
}

// prevKind is the kind of the rune before a position, as
// syntax.EmptyOpContext tells them apart.
func prevKind(r rune) int {
	switch {
	case r < 0:
		return 0
	case r == '\n':
		return 1
	case syntax.IsWordChar(r):
		return 2
	}
	return 3
}
