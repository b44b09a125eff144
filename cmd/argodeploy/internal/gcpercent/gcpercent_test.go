package gcpercent

import (
	"fmt"
	"os"
	"os/exec"
	"runtime/metrics"
	"strings"
	"testing"
	"time"
)

// settings reads GOGC (-1 when off) and the memory limit.
func settings() (gogc int64, limit uint64) {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64()), s[1].Value.Uint64()
}

// childEnv marks a run of this test binary as the child of TestPacing.
const childEnv = "GCPERCENT_TEST_CHILD"

// TestPacing runs this package's init in child processes, since it runs
// once per process and whatever environment the tests were started with:
// with neither GOGC nor GOMEMLIMIT set, the collector is off until the
// heap passes Threshold, then GOGC=Percent with no memory limit; with
// either set, the package leaves the collector alone.
func TestPacing(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		return // a child: TestPacingChild does the work
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOGC=") && !strings.HasPrefix(kv, "GOMEMLIMIT=") {
			env = append(env, kv)
		}
	}
	for _, tt := range []struct{ name, extra, want string }{
		{"unset", "", "switched"},
		{"GOGC set", "GOGC=100", "untouched"},
		{"GOMEMLIMIT set", "GOMEMLIMIT=1GiB", "untouched"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestPacingChild$", "-test.v")
			cmd.Env = append(append(env[:len(env):len(env)], childEnv+"="+tt.want), tt.extra)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "--- PASS: TestPacingChild") {
				t.Errorf("child with %q: %v\n%s", tt.extra, err, out)
			}
		})
	}
}

// TestPacingChild checks, in a child process TestPacing started, what
// init did: "switched" when the environment left pacing to the package,
// "untouched" when it set GOGC or GOMEMLIMIT.
func TestPacingChild(t *testing.T) {
	want := os.Getenv(childEnv)
	switch want {
	case "":
		t.Skip("run by TestPacing in a child process")
	case "untouched":
		if gogc, lim := settings(); gogc < 0 || lim == limit {
			t.Fatalf("GOGC %d, memory limit %d: the package changed the collector the environment set", gogc, lim)
		}
		return
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
			fmt.Printf("GOGC=%d with %d MiB allocated\n", gogc, len(keep)*16)
			return
		}
		keep = append(keep, make([]byte, 16<<20))
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("still no GOGC=%d with %d MiB on the heap", Percent, len(keep)*16)
}
