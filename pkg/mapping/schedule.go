package mapping

import (
	"time"

	"github.com/robfig/cron/v3"
)

// MaxReconcileDeadline bounds a reconcile pass: under the five minutes of
// DefaultReconcileSchedule.
const MaxReconcileDeadline = 4 * time.Minute

// MinReconcileInterval is the shortest time allowed between two reconcile
// passes: a five-field cron expression cannot say less, only robfig/cron's
// "@every" can.
const MinReconcileInterval = time.Minute

// scheduleEpoch is where the passes of a schedule are counted from: fixed,
// in UTC, so that what is derived from a schedule does not depend on when
// or where it is rendered. A schedule without a time zone is read in UTC.
var scheduleEpoch = time.Date(2000, time.January, 1, 0, 0, 0, 0, time.UTC)

// Bounds of the passes shortestInterval looks at: at most schedulePasses,
// over at most scheduleSpan after the first. The times of day of a
// five-field schedule are the same on every day it runs, so its shortest
// gaps show within its first days; a gap only between two particular days
// may be missed (23:58 on the 31st to 00:01 on the 1st of
// "1,58 0,23 1,31 * *"), which leaves the deadline longer than that gap,
// never more than MaxReconcileDeadline.
const (
	schedulePasses = 128
	scheduleSpan   = 8 * 24 * time.Hour
)

// shortestInterval is the shortest time between two passes of s among its
// first passes from scheduleEpoch (schedulePasses, scheduleSpan), stopping
// at the first as short as MinReconcileInterval; ok is false when s never
// runs within five years (robfig/cron's limit: "0 0 30 2 *"). A schedule
// that runs only once in five years is given 0 with ok true.
func shortestInterval(s cron.Schedule) (shortest time.Duration, ok bool) {
	first := s.Next(scheduleEpoch)
	if first.IsZero() {
		return 0, false
	}
	last := first
	for range schedulePasses {
		next := s.Next(last)
		if next.IsZero() {
			break
		}
		if gap := next.Sub(last); shortest == 0 || gap < shortest {
			shortest = gap
		}
		if shortest <= MinReconcileInterval || next.Sub(first) > scheduleSpan {
			break
		}
		last = next
	}
	return shortest, true
}

// ReconcileDeadline is how long a reconcile pass of the defaulted mapping
// may run (the CronWorkflow's activeDeadlineSeconds): MaxReconcileDeadline,
// or four fifths of the shortest time between two passes when that is
// less, so that a pass ends well before the next is due. An unchecked
// schedule that does not parse gets MaxReconcileDeadline.
func (m *ServiceMapping) ReconcileDeadline() time.Duration {
	s, err := cron.ParseStandard(m.Spec.Reconcile.Schedule)
	if err != nil {
		return MaxReconcileDeadline
	}
	interval, ok := shortestInterval(s)
	if !ok || interval == 0 {
		return MaxReconcileDeadline
	}
	return max(time.Second, min(MaxReconcileDeadline, (interval*4/5).Truncate(time.Second)))
}
