// Package gcpercent sets how the garbage collector paces a run of
// argodeploy, unless the environment sets GOGC or GOMEMLIMIT.
//
// Most runs (a pre-commit hook validating a few files, generate for a few
// hundred services) allocate less than Threshold in all: for them the
// collector does not run at all, which saves about a tenth of a short run
// (docs/performance.md). A run that allocates more (thousands of
// services) gets GOGC=Percent from the moment its heap passes Threshold:
// a quarter as many collections as Go's default, as a run that allocates
// its output at once wants, without letting the heap grow unbounded.
//
// It does so in its init, not in main: it imports nothing heavy, so Go
// initialises it about halfway through the upstream modules' package
// initialisation (GODEBUG=inittrace=1), which otherwise allocates enough to
// start collections of its own. Go orders ready packages by import path,
// and runtime/debug sorts late, so it cannot come earlier.
package gcpercent

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

const (
	// Percent is the GOGC value once the heap has passed Threshold.
	Percent = 400
	// Threshold is the heap size up to which the collector does not run.
	Threshold = 256 << 20
	// limit is the memory limit that makes the collector run should the
	// heap grow past Threshold faster than watch notices.
	limit = Threshold + 64<<20
)

func init() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(limit)
	go watch()
}

// watch switches to GOGC=Percent, without a memory limit, once the heap
// has passed Threshold. It looks every millisecond at first, when a run
// allocates fastest, and less often as the process lives on (a simulate
// waiting for its steps), at most every maxInterval.
func watch() {
	const maxInterval = 64 * time.Millisecond
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	for interval := time.Millisecond; ; interval = min(2*interval, maxInterval) {
		metrics.Read(sample)
		if sample[0].Value.Uint64() >= Threshold {
			debug.SetGCPercent(Percent)
			debug.SetMemoryLimit(1<<63 - 1)
			return
		}
		time.Sleep(interval)
	}
}
