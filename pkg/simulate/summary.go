package simulate

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Summary counts what a replay did: messages, those that fired a trigger,
// the Workflows they created, and the outcome of each rollout step.
type Summary struct {
	Messages, Errors, Fired, Workflows int
	Steps                              map[string]int // by Step.Outcome
}

// Add counts o, after its Workflows were followed.
func (s *Summary) Add(o Outcome) {
	s.Messages++
	if o.Error != "" {
		s.Errors++
	}
	if len(o.Fired) > 0 {
		s.Fired++
	}
	for _, f := range o.Fired {
		if f.Workflow == nil {
			continue
		}
		s.Workflows++
		for _, st := range f.Workflow.Steps {
			if s.Steps == nil {
				s.Steps = map[string]int{}
			}
			s.Steps[st.Outcome]++
		}
	}
}

// String is the summary on one line, e.g. "3 messages: 2 fired (2
// Workflows), 1 fired nothing; steps: 1 rolled, 1 already".
func (s Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d fired (%s), %d fired nothing", plural(s.Messages, "message"), s.Fired, plural(s.Workflows, "Workflow"), s.Messages-s.Fired)
	if s.Errors > 0 {
		fmt.Fprintf(&b, " (%d not an event)", s.Errors)
	}
	if len(s.Steps) > 0 {
		var parts []string
		for _, outcome := range slices.Sorted(maps.Keys(s.Steps)) {
			parts = append(parts, fmt.Sprintf("%d %s", s.Steps[outcome], outcome))
		}
		b.WriteString("; steps: " + strings.Join(parts, ", "))
	}
	return b.String()
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// Expectations a replay can be held to, per message (simulate --expect).
const (
	ExpectFired   = "fired"   // some trigger fires
	ExpectNothing = "nothing" // no trigger fires
	ExpectRolled  = "rolled"  // some trigger fires and some step rolls a target
)

// Meets reports whether o is what expect says, and if not, why.
func (o Outcome) Meets(expect string) (bool, string) {
	rolled := false
	for _, f := range o.Fired {
		if f.Workflow == nil {
			continue
		}
		for _, st := range f.Workflow.Steps {
			rolled = rolled || st.Outcome == "rolled"
		}
	}
	switch expect {
	case ExpectFired:
		return len(o.Fired) > 0, "no trigger fired"
	case ExpectNothing:
		return len(o.Fired) == 0, fmt.Sprintf("%d triggers fired", len(o.Fired))
	case ExpectRolled:
		if len(o.Fired) == 0 {
			return false, "no trigger fired"
		}
		return rolled, "no step rolled a target"
	}
	return false, "unknown expectation " + expect
}
