// Package gcpercent makes the garbage collector run a quarter as often as
// Go's default (GOGC=400) unless GOGC is set. A run of argodeploy is short
// and allocates its output at once; collecting less often is faster
// (figures in docs/performance.md).
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
)

// Percent is the GOGC value set when the environment sets none.
const Percent = 400

func init() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(Percent)
	}
}
