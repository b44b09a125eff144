package check

import (
	"regexp/syntax"
	"strings"
)

// maxImages bounds the strings admittedImages lists.
const maxImages = 100000

// imageList is what admittedImages returns.
type imageList struct {
	images []string
	ok     bool
}

// admittedImages is admittedImages(pattern), once per Access run: a
// Sensor's digest filter is read by several checks, and parsing one that
// lists 1,000 images takes milliseconds.
func (a *access) admittedImages(pattern string) ([]string, bool) {
	l, seen := a.images[pattern]
	if !seen {
		l.images, l.ok = admittedImages(pattern)
		a.images[pattern] = l
	}
	return l.images, l.ok
}

// admittedImages is the set of images a digest filter value admits, when
// the value is ^IMAGES@sha256:[a-f0-9]{64}$ and IMAGES a regexp of
// finitely many strings (literals, groups, alternations, ?, small
// character classes), as generate writes it. ok is false for any other
// value: its images are not known.
func admittedImages(pattern string) (images []string, ok bool) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil || re.Op != syntax.OpConcat || len(re.Sub) < 3 {
		return nil, false
	}
	subs := re.Sub
	last := len(subs) - 1
	if subs[0].Op != syntax.OpBeginText || subs[last].Op != syntax.OpEndText || !isHex64(subs[last-1]) {
		return nil, false
	}
	prefixes, ok := finite(&syntax.Regexp{Op: syntax.OpConcat, Sub: subs[1 : last-1]})
	if !ok {
		return nil, false
	}
	for _, p := range prefixes {
		image, found := strings.CutSuffix(p, "@sha256:")
		if !found || image == "" {
			return nil, false
		}
		images = append(images, image)
	}
	return images, true
}

// isHex64 reports whether re is [a-f0-9]{64}.
func isHex64(re *syntax.Regexp) bool {
	if re.Op != syntax.OpRepeat || re.Min != 64 || re.Max != 64 || len(re.Sub) != 1 {
		return false
	}
	class := re.Sub[0]
	return class.Op == syntax.OpCharClass && string(class.Rune) == "09af"
}

// finite lists the strings re matches, when they are few and re matches
// no others.
func finite(re *syntax.Regexp) ([]string, bool) {
	switch re.Op {
	case syntax.OpEmptyMatch:
		return []string{""}, true
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			return nil, false
		}
		return []string{string(re.Rune)}, true
	case syntax.OpCapture:
		return finite(re.Sub[0])
	case syntax.OpQuest:
		sub, ok := finite(re.Sub[0])
		return append([]string{""}, sub...), ok
	case syntax.OpCharClass:
		var out []string
		for i := 0; i+1 < len(re.Rune); i += 2 {
			for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
				if len(out) >= 64 {
					return nil, false
				}
				out = append(out, string(r))
			}
		}
		return out, true
	case syntax.OpAlternate:
		var out []string
		for _, sub := range re.Sub {
			s, ok := finite(sub)
			if !ok || len(out)+len(s) > maxImages {
				return nil, false
			}
			out = append(out, s...)
		}
		return out, true
	case syntax.OpConcat:
		out := []string{""}
		for _, sub := range re.Sub {
			s, ok := finite(sub)
			if !ok || len(out)*len(s) > maxImages {
				return nil, false
			}
			next := make([]string, 0, len(out)*len(s))
			for _, a := range out {
				for _, b := range s {
					next = append(next, a+b)
				}
			}
			out = next
		}
		return out, true
	}
	return nil, false
}
