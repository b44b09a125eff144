package main

import (
	"io"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestValidateProgress: validate prints nothing on stderr unless asked
// (--verbose) or on a terminal past progressAfter; with --verbose
// elsewhere it prints exactly one line with the files and resources it
// read and each phase's time; on a terminal it rewrites the line in place
// and ends it with the same total.
func TestValidateProgress(t *testing.T) {
	const example = "testdata/examples/multi-namespace.yaml" // 28 resources
	done := `validate: 1 file, 28 resources, done \d+\.\ds \(read \d+\.\ds, checks \d+\.\ds\)`
	withTerminal := func(tty bool, after time.Duration) {
		isTerm, wait := isTerminal, progressAfter
		isTerminal = func(io.Writer) bool { return tty }
		progressAfter = after
		t.Cleanup(func() { isTerminal, progressAfter = isTerm, wait })
	}

	withTerminal(false, 0)
	if _, stderr, code := run(t, "", "validate", example); code != 0 || stderr != "" {
		t.Errorf("not a terminal, no --verbose: exit %d, stderr %q, want nothing", code, stderr)
	}
	_, stderr, code := run(t, "", "validate", "-v", example)
	if want := regexp.MustCompile(`\A` + done + `\n\z`); code != 0 || !want.MatchString(stderr) {
		t.Errorf("--verbose, not a terminal: exit %d, stderr %q, want one line %s", code, stderr, want)
	}
	_, stderr, _ = run(t, "", "validate", "-v", "--mapping", "examples/multi-namespace.yaml", example)
	if want := regexp.MustCompile(`\Avalidate: 1 file, 28 resources, done \d+\.\ds \(read \d+\.\ds, checks \d+\.\ds, generate \d+\.\ds, drift \d+\.\ds\)\n\z`); !want.MatchString(stderr) {
		t.Errorf("--verbose --mapping: stderr %q, want %s", stderr, want)
	}

	withTerminal(true, time.Hour)
	if _, stderr, _ := run(t, "", "validate", example); stderr != "" {
		t.Errorf("terminal, a run shorter than progressAfter: stderr %q, want nothing", stderr)
	}
	withTerminal(true, time.Hour) // --verbose shows it at once
	_, stderr, code = run(t, "", "validate", "-v", example)
	lines := strings.Split(stderr, "\r\033[K")
	if want := regexp.MustCompile(`\A` + done + `\n\z`); code != 0 || len(lines) < 2 || lines[0] != "" || !want.MatchString(lines[len(lines)-1]) {
		t.Fatalf("terminal: exit %d, stderr %q: want the line rewritten in place, ending with %s", code, stderr, want)
	}
	during := regexp.MustCompile(`\Avalidate: \d+ files?, \d+ resources?, (reading|checking) \d+\.\ds\z`)
	for _, l := range lines[1 : len(lines)-1] {
		if !during.MatchString(l) {
			t.Errorf("terminal: progress %q, want %s", l, during)
		}
	}
}
