package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/argodeploy/argodeploy/pkg/manifest"
)

// progressAfter is how long a run on a terminal goes before its progress
// line appears.
var progressAfter = 2 * time.Second

// isTerminal says whether w is a terminal (tests replace it).
var isTerminal = func(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progress is validate's one progress line on stderr: files and
// resources read, what the run is doing, the time since it began. On a
// terminal the line is rewritten in place from progressAfter (at once with
// --verbose) and ends with the total; elsewhere only --verbose prints it,
// once, at the end. Otherwise it prints nothing.
type progress struct {
	w       io.Writer
	tty     bool
	verbose bool
	start   time.Time
	counts  manifest.Counts

	mu     sync.Mutex
	phase  string
	shown  bool // a line is on the terminal
	stop   chan struct{}
	done   chan struct{}
	phases []string // "read 1.2s", in order
	last   time.Time
}

// startProgress begins timing; the caller ends it with finish.
func startProgress(w io.Writer, verbose bool) *progress {
	p := &progress{w: w, tty: isTerminal(w), verbose: verbose, start: time.Now(), phase: "reading",
		stop: make(chan struct{}), done: make(chan struct{})}
	p.last = p.start
	if !p.tty {
		close(p.done)
		return p
	}
	go func() {
		defer close(p.done)
		delay := progressAfter
		if verbose {
			delay = 0
		}
		select {
		case <-time.After(delay):
		case <-p.stop:
			return
		}
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			p.mu.Lock()
			fmt.Fprintf(p.w, "\r\033[K%s", p.line(p.phase))
			p.shown = true
			p.mu.Unlock()
			select {
			case <-tick.C:
			case <-p.stop:
				return
			}
		}
	}()
	return p
}

// next records that the phase before has ended and phase begins.
func (p *progress) next(phase string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	p.phases = append(p.phases, fmt.Sprintf("%s %s", verbs[p.phase], seconds(now.Sub(p.last))))
	p.phase, p.last = phase, now
}

var verbs = map[string]string{"reading": "read", "generating": "generate", "checking": "checks", "comparing": "drift"}

// finish ends the line: on a terminal where it was shown, with the total;
// elsewhere, with --verbose, as the one line.
func (p *progress) finish() {
	close(p.stop)
	<-p.done
	p.next("")
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.shown && !p.verbose {
		return
	}
	end := p.line("done")
	for i, ph := range p.phases {
		sep := ", "
		if i == 0 {
			sep = " ("
		}
		end += sep + ph
	}
	end += ")"
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s\n", end)
		return
	}
	fmt.Fprintln(p.w, end)
}

// line is the progress line for phase, without a line end.
func (p *progress) line(phase string) string {
	return fmt.Sprintf("validate: %s, %s, %s %s", count(int(p.counts.Files.Load()), "file"),
		count(int(p.counts.Docs.Load()), "resource"), phase, seconds(time.Since(p.start)))
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }
