// Package parallel runs independent pieces of work on every CPU.
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// ForEach calls f(i) for i in [0, n) on as many goroutines as there are
// CPUs, and returns the error of the lowest i that failed, as a loop that
// stopped at the first error would. Each f must write only its own i's
// results; then the outcome is the same in any order.
func ForEach(n int, f func(i int) error) error {
	errs := make([]error, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				errs[i] = f(i)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
