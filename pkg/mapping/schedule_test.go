package mapping

import (
	"testing"
	"time"
)

// TestReconcileDeadline: a pass may run four minutes, or four fifths of
// the shortest time between two passes when that is less.
func TestReconcileDeadline(t *testing.T) {
	for _, c := range []struct {
		schedule string
		want     time.Duration
	}{
		{DefaultReconcileSchedule, 4 * time.Minute},
		{"*/10 * * * *", 4 * time.Minute},
		{"0 9 * * 1-5", 4 * time.Minute},
		{"* * * * *", 48 * time.Second},
		{"*/2 * * * *", 96 * time.Second},
		{"*/3 9-17 * * 1-5", 144 * time.Second},
		{"0,1 * * * *", 48 * time.Second}, // the shortest gap counts, not the usual one
		{"@every 90s", 72 * time.Second},
		{"CRON_TZ=Europe/Paris */2 * * * *", 96 * time.Second},
		{"0 0 29 2 *", 4 * time.Minute}, // every four years
		{"0 0 30 2 *", 4 * time.Minute}, // never: refused by the loader
		{"*/5 * * *", 4 * time.Minute},  // does not parse: refused by the loader
		{"@every 1s", time.Second},      // too often: refused by the loader
	} {
		m := &ServiceMapping{Spec: Spec{Reconcile: Reconcile{Schedule: c.schedule}}}
		if got := m.ReconcileDeadline(); got != c.want {
			t.Errorf("ReconcileDeadline of %q = %v, want %v", c.schedule, got, c.want)
		}
	}
}

func BenchmarkReconcileDeadline(b *testing.B) {
	for _, schedule := range []string{DefaultReconcileSchedule, "0 0 * * *", "0 9 * * 1-5", "0 0 29 2 *", "*/7 * * * *"} {
		b.Run(schedule, func(b *testing.B) {
			m := &ServiceMapping{Spec: Spec{Reconcile: Reconcile{Schedule: schedule}}}
			for b.Loop() {
				m.ReconcileDeadline()
			}
		})
	}
}
