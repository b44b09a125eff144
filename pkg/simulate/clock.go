package simulate

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// stepClock is the simulated time of a Cluster: a wait does not wait, it
// moves the time on by its duration and is over, so a step that waits for
// a soak runs at once and deterministically. It serves one step at a time.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

var _ clock.WithTicker = (*stepClock)(nil)

// advanceTo moves the time to t, never back.
func (c *stepClock) advanceTo(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.now = t
	}
}

// advance moves the time on by d and returns a channel that holds the new
// time.
func (c *stepClock) advance(d time.Duration) chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d > 0 {
		c.now = c.now.Add(d)
	}
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

func (c *stepClock) After(d time.Duration) <-chan time.Time { return c.advance(d) }

func (c *stepClock) NewTimer(d time.Duration) clock.Timer {
	return &stepTimer{c: c, ch: c.advance(d)}
}

func (c *stepClock) Sleep(d time.Duration) { c.advance(d) }

func (c *stepClock) Tick(d time.Duration) <-chan time.Time { return c.NewTicker(d).C() }

// NewTicker returns a ticker each of whose C calls is the next tick.
func (c *stepClock) NewTicker(d time.Duration) clock.Ticker { return &stepTicker{c: c, d: d} }

// stepTimer has fired when it is made or reset.
type stepTimer struct {
	c  *stepClock
	ch chan time.Time
}

func (t *stepTimer) C() <-chan time.Time { return t.ch }
func (t *stepTimer) Stop() bool          { return false }
func (t *stepTimer) Reset(d time.Duration) bool {
	t.ch = t.c.advance(d)
	return false
}

// stepTicker ticks once per call of C.
type stepTicker struct {
	c *stepClock
	d time.Duration
}

func (t *stepTicker) C() <-chan time.Time { return t.c.advance(t.d) }
func (t *stepTicker) Stop()               {}
