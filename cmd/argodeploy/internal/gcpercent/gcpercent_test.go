package gcpercent

import (
	"os"
	"runtime/metrics"
	"testing"
	"time"
)

// settings reads GOGC (-1 when off) and the memory limit.
func settings() (gogc int64, limit uint64) {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64()), s[1].Value.Uint64()
}

// TestPacing: with neither GOGC nor GOMEMLIMIT set, the collector is off
// until the heap passes Threshold, then GOGC=Percent with no memory limit.
func TestPacing(t *testing.T) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		t.Skip("GOGC or GOMEMLIMIT is set: the package leaves the collector alone")
	}
	if gogc, lim := settings(); gogc != Percent && (gogc >= 0 || lim != limit) {
		t.Fatalf("before the heap grew: GOGC %d, memory limit %d", gogc, lim)
	}
	var keep [][]byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if gogc, lim := settings(); gogc == Percent {
			if lim != 1<<63-1 {
				t.Errorf("memory limit %d after the switch", lim)
			}
			t.Logf("GOGC=%d with %d MiB allocated", gogc, len(keep)*16)
			return
		}
		keep = append(keep, make([]byte, 16<<20))
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("still no GOGC=%d with %d MiB on the heap", Percent, len(keep)*16)
}
