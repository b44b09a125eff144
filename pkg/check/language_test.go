package check

import (
	"regexp"
	"testing"
)

func mustMatcher(t *testing.T, values ...string) *matcher {
	t.Helper()
	m, err := newMatcher(values)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestExcess: the shortest string the filters admit beyond allowed, read
// from the regexps' programs, with matches anywhere in the value as Argo
// Events' filters match.
func TestExcess(t *testing.T) {
	const digest = `^a\.io/web@sha256:[a-f0-9]{4}$`
	for _, c := range []struct {
		filters [][]string
		allowed string
		want    string // "" when the filters admit nothing more
	}{
		{[][]string{{digest}}, digest, ""},
		{[][]string{{digest, "^.*$"}}, digest, "X"},
		{[][]string{{`^a.io/web@sha256:[a-f0-9]{4}$`}}, digest, "aXio/web@sha256:0000"},
		{[][]string{{`^a\.io/web.*@sha256:[a-f0-9]{4}$`}}, digest, "a.io/webX@sha256:0000"},
		{[][]string{{`^a\.io/web`}}, digest, "a.io/web"},
		{[][]string{{`a\.io/web@sha256:[a-f0-9]{4}$`}}, digest, "Xa.io/web@sha256:0000"},
		{[][]string{{`^INSERT$|^DELETE$`}}, `^INSERT$`, "DELETE"},
		{[][]string{{`^INSERT|DELETE$`}}, `^INSERT$`, "DELETE"},
		{[][]string{{`(?i)^insert$`}}, `^INSERT$`, "insert"},
		{[][]string{{`^v[0-9]+$`}, {`^v1`}}, `^v1[0-9]*$`, ""},                                // together they admit no more
		{[][]string{{`^v[0-9]+$`}, {`^v[0-9]`}}, `^v1[0-9]*$`, "v0"},                          // each alone admits more
		{[][]string{{`^(?:a|b)$`}}, `^[ab]$`, ""},                                             // another text, the same strings
		{[][]string{{`^x\b`}}, `^x$`, "x-"},                                                   // a word boundary before a non-word rune
		{[][]string{{`(?m)^x$`}}, `^x$`, "x\n"},                                               // multi-line anchors
		{[][]string{{`^x$`}}, `^x`, ""},                                                       // narrower than allowed
		{[][]string{{`^[^a]$`}}, `^[b-z]$`, "X"},                                              // readable first
		{[][]string{{`^\x00$`}}, `^a$`, "\x00"},                                               // unreadable when it must
		{[][]string{{`^.$`}}, `^[^\n]$`, ""},                                                  // . is not a newline
		{[][]string{{`^(?s:.)$`}}, `^[^\n]$`, "\n"},                                           // unless s
		{[][]string{{`^a{2,3}$`}}, `^aaa?$`, ""},                                              // repeats
		{[][]string{{`^[a-f0-9]{1,4}$`}}, `^[a-f0-9]{4}$`, "0"},                               // shorter
		{[][]string{{`^web:[A-Za-z0-9_.-]+$`}}, `^web:[A-Za-z0-9_][A-Za-z0-9_.-]*$`, "web:-"}, // no leading -
	} {
		var all []*matcher
		for _, values := range c.filters {
			all = append(all, mustMatcher(t, values...))
		}
		got, found, decided := excess(all, mustMatcher(t, c.allowed))
		if !decided || found != (c.want != "") || got != c.want {
			t.Errorf("%q beyond %q: got %q (found %v, decided %v), want %q", c.filters, c.allowed, got, found, decided, c.want)
		}
		if found {
			for _, values := range c.filters {
				if !matchesAny(values, got) {
					t.Errorf("%q: %q does not match the filter %q", c.filters, got, values)
				}
			}
			if regexp.MustCompile(c.allowed).MatchString(got) {
				t.Errorf("%q: %q matches allowed %q", c.filters, got, c.allowed)
			}
		}
	}
}

func matchesAny(values []string, s string) bool {
	for _, v := range values {
		if regexp.MustCompile(v).MatchString(s) {
			return true
		}
	}
	return false
}

// TestExcessAgreesWithRegexp: where excess finds nothing, no string of up
// to five runes of a small alphabet is admitted by the filter and not by
// allowed, as package regexp judges them.
func TestExcessAgreesWithRegexp(t *testing.T) {
	patterns := []string{`^a$`, `^a+$`, `^a*b?$`, `^(?:ab|a)$`, `^[ab]{1,2}$`, `a`, `^a`, `b$`, `^.$`, `^\ba`, `^a|b$`, `^(?:a|b)*$`, `^a{2}$`, `(?i)^A$`, `^[^b]$`}
	alphabet := []rune{'a', 'b', 'A', '-', '\n'}
	var strs []string
	var grow func(prefix string, n int)
	grow = func(prefix string, n int) {
		strs = append(strs, prefix)
		if n == 0 {
			return
		}
		for _, r := range alphabet {
			grow(prefix+string(r), n-1)
		}
	}
	grow("", 5)
	for _, f := range patterns {
		for _, allowed := range patterns {
			_, found, decided := excess([]*matcher{mustMatcher(t, f)}, mustMatcher(t, allowed))
			if !decided || found {
				continue
			}
			fr, ar := regexp.MustCompile(f), regexp.MustCompile(allowed)
			for _, s := range strs {
				if s != "" && fr.MatchString(s) && !ar.MatchString(s) {
					t.Errorf("%q beyond %q: found nothing, but %q", f, allowed, s)
					break
				}
			}
		}
	}
}
