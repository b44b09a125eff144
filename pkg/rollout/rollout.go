package rollout

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/clock"

	"github.com/argodeploy/argodeploy/pkg/mapping"
)

// Defaults of Options.
const (
	DefaultPoll           = 2 * time.Second
	DefaultRolloutTimeout = 5 * time.Minute
	// undoTimeout bounds the writes made after the step's context is done:
	// an undo after SIGTERM, or recording the outcome.
	undoTimeout = 20 * time.Second
)

// Outcomes of a Result.
const (
	OutcomeRolled  = "rolled"
	OutcomeAlready = "already"
	OutcomeSkipped = "skipped"
	OutcomeUndone  = "undone"
	OutcomeFailed  = "failed"
)

// Exit codes of a Result.
const (
	ExitOK        = 0 // rolled, already or skipped
	ExitTransient = 1 // the Workflow retries
	ExitPermanent = 2 // retrying cannot help
	ExitUndone    = 3 // not healthy in time, undone
)

// Options are the inputs of Run.
type Options struct {
	// Service is the defaulted service of the cache entry (LoadService).
	Service mapping.Service
	// Target names the target of Service to roll.
	Target string
	// Push is the push from the event, checked before use.
	Push Push
	// RolloutTimeout bounds the wait for the rolled Deployment to become
	// healthy. Default: DefaultRolloutTimeout.
	RolloutTimeout time.Duration
	// Poll is the interval between reads while waiting. Default: DefaultPoll.
	Poll time.Duration
	// StageTimeout bounds the wait for the target's After target. Default:
	// RolloutTimeout plus the target's soak, summed up the chain of After
	// targets (a push reaches the chain's first target when it reaches this
	// one).
	StageTimeout time.Duration
	// Clock tells the time and waits. Default: the real clock.
	Clock clock.WithTicker
	// Log receives one line per decision. Default: discarded.
	Log io.Writer
	// Workflow is the name of the Workflow running the step, recorded in
	// the state.
	Workflow string
	// Clusters reaches the targets' clusters (NewClusters).
	Clusters Clusters
	// Rollback pins the target to the push's digest whatever its order
	// or version (argodeploy rollback): Push carries the digest and tag to
	// return to, and as its publish time the one the target recorded when
	// the rollback was asked, so that a push that rolled since is not
	// rolled back. Strategy set-image only; no stage wait.
	Rollback bool
}

// Result is how a step ended.
type Result struct {
	// Outcome is rolled, already, skipped, undone or failed.
	Outcome string
	// Reason says why, in words.
	Reason string
	// Exit is the step's exit code: ExitOK, ExitTransient, ExitPermanent
	// or ExitUndone.
	Exit int
	// Before is the image the target's container ran when the step read
	// it, "" when it did not get that far.
	Before string
}

// Run is the rollout step: it rolls target o.Target of o.Service to
// o.Push as Decide says, after its After target has run the push's digest
// healthily for its soak, waits for the Deployment to become healthy,
// and undoes its change when it does not or when ctx ends first.
func Run(ctx context.Context, o Options) Result {
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	if o.RolloutTimeout <= 0 {
		o.RolloutTimeout = DefaultRolloutTimeout
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	r := &runner{o: o}
	r.svc = &r.o.Service
	return r.run(ctx)
}

// runner is one run of the step.
type runner struct {
	o   Options
	svc *mapping.Service
	t   *mapping.Target
	// digest and tag are the push's, bare and checked.
	digest, tag string
	deploys     appsv1client.DeploymentInterface
	where       string
	before      string // the container's image when first read
}

// change is what the step's update did to the Deployment, to undo it.
type change struct {
	image, prevImage             string // set-image
	restartedAt, prevRestartedAt string // restart
	hadRestartedAt               bool
	// legacy are the legacy annotations the update dropped.
	legacy map[string]string
	// prev is the container's entry before the update, entry the one it wrote.
	prev  *Entry
	entry Entry
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.o.Log, "argodeploy: "+format+"\n", args...)
}

// finish logs and returns the step's result.
func (r *runner) finish(outcome string, exit int, format string, args ...any) Result {
	reason := fmt.Sprintf(format, args...)
	r.logf("%s: %s: %s", r.o.Target, outcome, reason)
	return Result{Outcome: outcome, Reason: reason, Exit: exit, Before: r.before}
}

// apiFailed is the result of an API error before anything was changed.
func (r *runner) apiFailed(ctx context.Context, what string, err error) Result {
	switch {
	case ctx.Err() != nil:
		return r.finish(OutcomeFailed, ExitTransient, "interrupted (%v) %s; nothing was changed", context.Cause(ctx), what)
	case IsPermanent(err):
		return r.finish(OutcomeFailed, ExitPermanent, "%s: %v", what, err)
	}
	return r.finish(OutcomeFailed, ExitTransient, "%s: %v", what, err)
}

func (r *runner) run(ctx context.Context) Result {
	svc := r.svc
	r.t = svc.Target(r.o.Target)
	if r.t == nil {
		return r.finish(OutcomeFailed, ExitPermanent, "service %s has no target %q", svc.Name, r.o.Target)
	}
	t := r.t
	r.where = fmt.Sprintf("deployment %s/%s container %s in cluster %s", t.Namespace, t.Deployment, t.Container, t.ClusterName())
	if r.o.Clusters == nil {
		return r.finish(OutcomeFailed, ExitPermanent, "no clusters to reach")
	}
	if r.o.Rollback {
		if err := CheckRollback(svc, t, r.o.Push); err != nil {
			return r.finish(OutcomeFailed, ExitPermanent, "refusing the rollback: %v", err)
		}
	} else {
		switch d := Admit(svc, t, r.o.Push); d.Action {
		case Refuse:
			return r.finish(OutcomeFailed, ExitPermanent, "refusing the push: %s", d.Reason)
		case Skip:
			return r.finish(OutcomeSkipped, ExitOK, "%s", d.Reason)
		}
	}
	r.digest, r.tag, _ = r.o.Push.Check(svc.Image)
	r.logf("service %s: %s (%s) -> target %s: %s, strategy %s, policy %s", svc.Name, r.tag, r.digest, t.Name, r.where, t.Strategy, t.Policy)
	if len(svc.Metadata) > 0 {
		var kv []string
		for _, k := range slices.Sorted(maps.Keys(svc.Metadata)) {
			kv = append(kv, k+"="+svc.Metadata[k])
		}
		r.logf("metadata: %s", strings.Join(kv, ", "))
	}
	if t.After != "" && !r.o.Rollback {
		if res, stop := r.waitStage(ctx); stop {
			return res
		}
	}
	client, err := r.o.Clusters(ctx, t)
	if err != nil {
		return r.apiFailed(ctx, "reaching cluster "+t.ClusterName(), err)
	}
	r.deploys = client.Deployments(t.Namespace)
	return r.roll(ctx)
}

func (r *runner) get(ctx context.Context) (*appsv1.Deployment, error) {
	return r.deploys.Get(ctx, r.t.Deployment, metav1.GetOptions{})
}

func findContainer(d *appsv1.Deployment, name string) *corev1.Container {
	for i := range d.Spec.Template.Spec.Containers {
		if d.Spec.Template.Spec.Containers[i].Name == name {
			return &d.Spec.Template.Spec.Containers[i]
		}
	}
	return nil
}

// roll decides and, when the decision is Roll, changes the Deployment in
// one Update that also records the rolling state; then it waits.
func (r *runner) roll(ctx context.Context) Result {
	var (
		dec      Decision
		ch       *change
		updating bool
		was      string
	)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		ch, updating = nil, false
		if err := ctx.Err(); err != nil {
			return err
		}
		d, err := r.get(ctx)
		if err != nil {
			return err
		}
		c := findContainer(d, r.t.Container)
		if c == nil {
			return permanent(fmt.Errorf("deployment %s/%s has no container %s", d.Namespace, d.Name, r.t.Container))
		}
		if r.before == "" {
			r.before = c.Image
		}
		prev, err := ReadState(d, r.t.Container)
		if err != nil {
			return permanent(err)
		}
		if r.o.Rollback {
			dec = decideRollback(r.t, c.Image, prev, r.o.Push, r.tag)
		} else {
			dec = Decide(r.svc, r.t, c.Image, prev, r.o.Push)
		}
		if dec.Action != Roll {
			return nil
		}
		was = c.Image
		if r.t.Strategy == mapping.StrategyRestart && (c.ImagePullPolicy == corev1.PullIfNotPresent || c.ImagePullPolicy == corev1.PullNever) {
			r.logf("warning: container %s has imagePullPolicy %s: restarted pods on nodes that hold the old image keep running it", c.Name, c.ImagePullPolicy)
		}
		ch, err = r.change(d, c, prev, dec)
		if err != nil {
			return permanent(err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		updating = true
		_, err = r.deploys.Update(ctx, d, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		if ctx.Err() != nil && updating {
			// The update may or may not have reached the API server.
			return r.undo(ch, StateInterrupted, fmt.Sprintf("interrupted (%v) during the update", context.Cause(ctx)), true)
		}
		return r.apiFailed(ctx, "rolling "+r.where, err)
	}
	switch dec.Action {
	case Skip:
		return r.finish(OutcomeSkipped, ExitOK, "%s", dec.Reason)
	case Refuse:
		return r.finish(OutcomeFailed, ExitPermanent, "%s", dec.Reason)
	case Already:
		r.logf("%s: already: %s; waiting for it to be healthy", r.t.Name, dec.Reason)
		return r.waitAlready(ctx, dec)
	}
	if r.t.Strategy == mapping.StrategyRestart {
		r.logf("%s: restarting %s for %s at %s (restartedAt %s)", r.t.Name, r.where, r.tag, r.digest, ch.restartedAt)
	} else {
		r.logf("%s: rolling %s from %s to %s", r.t.Name, r.where, was, r.o.Push.Digest)
	}
	return r.waitRolled(ctx, ch)
}

// change modifies d as the target's strategy says and records the
// rolling state; it returns what it did.
func (r *runner) change(d *appsv1.Deployment, c *corev1.Container, prev *Entry, dec Decision) (*change, error) {
	ch := &change{prev: prev, legacy: map[string]string{}}
	tmpl := &d.Spec.Template
	if tmpl.Annotations == nil {
		tmpl.Annotations = map[string]string{}
	}
	switch r.t.Strategy {
	case mapping.StrategySetImage:
		ch.prevImage, ch.image = c.Image, r.o.Push.Digest
		c.Image = ch.image
	case mapping.StrategyRestart:
		ch.prevRestartedAt, ch.hadRestartedAt = tmpl.Annotations[AnnotationRestartedAt]
		now := r.o.Clock.Now().UTC()
		ch.restartedAt = now.Format(time.RFC3339)
		if ch.restartedAt == ch.prevRestartedAt {
			// A second restart within the same second must still change the template.
			ch.restartedAt = now.Format(time.RFC3339Nano)
		}
		tmpl.Annotations[AnnotationRestartedAt] = ch.restartedAt
	}
	for _, k := range []string{AnnotationLegacyDigest, AnnotationLegacyPublishedAt} {
		if v, ok := tmpl.Annotations[k]; ok {
			ch.legacy[k] = v
			delete(tmpl.Annotations, k)
		}
	}
	ch.entry = Entry{
		Digest:      r.digest,
		Tag:         r.tag,
		PublishedAt: r.o.Push.PublishedAt,
		Version:     dec.Version,
		Outcome:     StateRolling,
		Workflow:    r.o.Workflow,
	}
	if r.t.Strategy == mapping.StrategySetImage {
		ch.entry.Previous = previousOf(prev, r.svc.Image, ch.prevImage)
	}
	if r.o.Rollback && ch.entry.Previous.Digest != r.digest {
		ch.entry.RolledBack = ch.entry.Previous.Digest
	}
	return ch, writeState(d, r.t.Container, ch.entry)
}

// carries reports whether d still carries the step's change.
func (r *runner) carries(d *appsv1.Deployment, ch *change) bool {
	c := findContainer(d, r.t.Container)
	if c == nil {
		return false
	}
	if r.t.Strategy == mapping.StrategySetImage {
		return c.Image == ch.image
	}
	return d.Spec.Template.Annotations[AnnotationRestartedAt] == ch.restartedAt
}

// ownsEntry reports whether the container's entry on d is the one the
// step wrote.
func (r *runner) ownsEntry(d *appsv1.Deployment, ch *change) bool {
	e, err := ReadState(d, r.t.Container)
	return err == nil && e != nil && *e == ch.entry
}

// waitKind is how a wait for a healthy Deployment ended.
type waitKind int

const (
	waitDone      waitKind = iota // rolled out
	waitFailed                    // progress deadline exceeded
	waitTimeout                   // RolloutTimeout passed; not read at the deadline yet
	waitCancelled                 // ctx ended
	waitError                     // a permanent API error
	waitChanged                   // the Deployment no longer carries what was waited for
)

type waitResult struct {
	kind waitKind
	msg  string // the last status message
	err  error
}

// wait polls the Deployment until it is rolled out, up to RolloutTimeout.
// Transient read errors are logged and the wait goes on. ours says whether
// the Deployment still carries what the step waits for.
func (r *runner) wait(ctx context.Context, ours func(*appsv1.Deployment) bool) waitResult {
	deadline := r.o.Clock.Now().Add(r.o.RolloutTimeout)
	var last, lastErr string
	for {
		if !r.o.Clock.Now().Before(deadline) {
			return waitResult{kind: waitTimeout, msg: last}
		}
		d, err := r.get(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return waitResult{kind: waitCancelled, msg: last}
		case err != nil && IsPermanent(err):
			return waitResult{kind: waitError, err: err}
		case err != nil:
			if err.Error() != lastErr {
				r.logf("%s: reading %s: %v; still waiting", r.t.Name, r.where, err)
				lastErr = err.Error()
			}
		case !ours(d):
			return waitResult{kind: waitChanged, msg: last}
		default:
			lastErr = ""
			msg, done, serr := DeploymentStatus(d)
			if serr != nil {
				return waitResult{kind: waitFailed, err: serr}
			}
			if done {
				return waitResult{kind: waitDone, msg: msg}
			}
			if msg != last {
				r.logf("%s: %s", r.t.Name, msg)
				last = msg
			}
		}
		if err := r.sleep(ctx, min(r.o.Poll, deadline.Sub(r.o.Clock.Now()))); err != nil {
			return waitResult{kind: waitCancelled, msg: last}
		}
	}
}

// sleep waits d on the clock, or until ctx ends.
func (r *runner) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := r.o.Clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C():
	}
	return ctx.Err()
}

// waitRolled waits for the step's own change to roll out and undoes it
// when it does not.
func (r *runner) waitRolled(ctx context.Context, ch *change) Result {
	w := r.wait(ctx, func(d *appsv1.Deployment) bool { return r.carries(d, ch) })
	switch w.kind {
	case waitDone:
		return r.recordRolled(ch, w.msg)
	case waitFailed:
		return r.undo(ch, StateUndone, w.err.Error(), false)
	case waitTimeout:
		return r.undo(ch, StateUndone, fmt.Sprintf("not healthy within %s (%s)", r.o.RolloutTimeout, orNone(w.msg)), false)
	case waitCancelled:
		return r.undo(ch, StateInterrupted, fmt.Sprintf("interrupted (%v) while waiting for the rollout", context.Cause(ctx)), false)
	case waitChanged:
		return r.finish(OutcomeFailed, ExitPermanent, "%s was changed by someone else while rolling out %s; leaving it as it is", r.where, r.digest)
	}
	return r.finish(OutcomeFailed, ExitPermanent, "reading %s: %v; it carries %s, unverified", r.where, w.err, r.digest)
}

func orNone(msg string) string {
	if msg == "" {
		return "no status read"
	}
	return strings.TrimSpace(msg)
}

// recordRolled records the healthy outcome of the step's change.
func (r *runner) recordRolled(ch *change, msg string) Result {
	ctx, cancel := context.WithTimeout(context.Background(), undoTimeout)
	defer cancel()
	healthyAt := r.o.Clock.Now().UTC().Format(time.RFC3339)
	changed := false
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		d, err := r.get(ctx)
		if err != nil {
			return err
		}
		if changed = !r.carries(d, ch) || !r.ownsEntry(d, ch); changed {
			return nil
		}
		e := ch.entry
		e.Outcome, e.HealthyAt = StateHealthy, healthyAt
		if err := writeState(d, r.t.Container, e); err != nil {
			return permanent(err)
		}
		_, err = r.deploys.Update(ctx, d, metav1.UpdateOptions{})
		return err
	})
	switch {
	case err != nil:
		return r.finish(OutcomeFailed, ExitTransient, "%s rolled out %s but recording it failed: %v", r.where, r.digest, err)
	case changed:
		return r.finish(OutcomeRolled, ExitOK, "%s rolled out %s; changed by someone else since, so its state was left as it is", r.where, r.digest)
	}
	return r.finish(OutcomeRolled, ExitOK, "%s rolled out %s (%s)", r.where, r.digest, strings.TrimSpace(msg))
}

// undo takes the step's change back, unless the Deployment no longer
// carries it or turns out to be rolled out after all. It uses a context of
// its own: it also runs after the step's context has ended. uncertain says
// the update itself was interrupted, so it may never have applied.
func (r *runner) undo(ch *change, outcome, why string, uncertain bool) Result {
	ctx, cancel := context.WithTimeout(context.Background(), undoTimeout)
	defer cancel()
	exit := ExitUndone
	if outcome == StateInterrupted {
		exit = ExitTransient
	}
	var res Result
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		d, err := r.get(ctx)
		if err != nil {
			return err
		}
		if !r.carries(d, ch) {
			switch {
			case uncertain:
				res = Result{Outcome: OutcomeFailed, Reason: fmt.Sprintf("%s; the update did not apply, nothing was changed", why), Exit: ExitTransient}
			case exit == ExitUndone:
				res = Result{Outcome: OutcomeFailed, Reason: fmt.Sprintf("%s; %s was changed by someone else since, so it is not undone", why, r.where), Exit: ExitPermanent}
			default:
				res = Result{Outcome: OutcomeFailed, Reason: fmt.Sprintf("%s; %s was changed by someone else since, so it is not undone", why, r.where), Exit: ExitTransient}
			}
			return nil
		}
		if msg, done, serr := DeploymentStatus(d); done && serr == nil {
			// Decide from the real status: a rollout that is healthy now stays.
			res = Result{Outcome: OutcomeRolled, Reason: fmt.Sprintf("%s rolled out %s (%s; %s)", r.where, r.digest, strings.TrimSpace(msg), why), Exit: ExitOK}
			if r.ownsEntry(d, ch) {
				e := ch.entry
				e.Outcome, e.HealthyAt = StateHealthy, r.o.Clock.Now().UTC().Format(time.RFC3339)
				if err := writeState(d, r.t.Container, e); err != nil {
					return permanent(err)
				}
				_, err = r.deploys.Update(ctx, d, metav1.UpdateOptions{})
			}
			return err
		}
		if err := r.revert(d, ch, outcome); err != nil {
			return permanent(err)
		}
		res = Result{Outcome: OutcomeUndone, Reason: fmt.Sprintf("%s; %s was returned to what it ran before", why, r.where), Exit: exit}
		_, err = r.deploys.Update(ctx, d, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return r.finish(OutcomeFailed, ExitPermanent, "%s; undoing %s failed, it needs a human: %v", why, r.where, err)
	}
	return r.finish(res.Outcome, res.Exit, "%s", res.Reason)
}

// revert restores what the step's change replaced, and the container's
// previous entry with a note of the digest taken back.
func (r *runner) revert(d *appsv1.Deployment, ch *change, outcome string) error {
	owned := r.ownsEntry(d, ch)
	tmpl := &d.Spec.Template
	if tmpl.Annotations == nil {
		tmpl.Annotations = map[string]string{}
	}
	if r.t.Strategy == mapping.StrategySetImage {
		findContainer(d, r.t.Container).Image = ch.prevImage
	} else if ch.hadRestartedAt {
		tmpl.Annotations[AnnotationRestartedAt] = ch.prevRestartedAt
	} else {
		delete(tmpl.Annotations, AnnotationRestartedAt)
	}
	for k, v := range ch.legacy {
		if _, ok := tmpl.Annotations[k]; !ok {
			tmpl.Annotations[k] = v
		}
	}
	if !owned {
		return nil
	}
	var e Entry
	if ch.prev != nil {
		e = *ch.prev
	}
	e.Outcome, e.Undone, e.Workflow = outcome, r.digest, r.o.Workflow
	return writeState(d, r.t.Container, e)
}

// waitAlready waits for a Deployment that already runs the push, and
// records it as healthy. It never undoes: the rollout is not this step's.
func (r *runner) waitAlready(ctx context.Context, dec Decision) Result {
	w := r.wait(ctx, func(d *appsv1.Deployment) bool {
		c := findContainer(d, r.t.Container)
		return c != nil && (r.t.Strategy != mapping.StrategySetImage || c.Image == r.o.Push.Digest)
	})
	switch w.kind {
	case waitDone:
		return r.recordAlready(dec, w.msg)
	case waitTimeout:
		d, err := r.get(ctx)
		if err == nil {
			msg, done, serr := DeploymentStatus(d)
			if done && serr == nil {
				return r.recordAlready(dec, msg)
			}
			w.msg = orNone(msg)
		}
		return r.finish(OutcomeFailed, ExitPermanent, "%s runs %s but is not healthy within %s (%s); not undoing a rollout this step did not start", r.where, r.digest, r.o.RolloutTimeout, orNone(w.msg))
	case waitFailed:
		return r.finish(OutcomeFailed, ExitPermanent, "%s runs %s but %v; not undoing a rollout this step did not start", r.where, r.digest, w.err)
	case waitCancelled:
		return r.finish(OutcomeFailed, ExitTransient, "interrupted (%v) while waiting for %s; nothing was changed", context.Cause(ctx), r.where)
	case waitChanged:
		return r.finish(OutcomeFailed, ExitPermanent, "%s moved away from %s while waiting for it", r.where, r.o.Push.Digest)
	}
	return r.finish(OutcomeFailed, ExitPermanent, "reading %s: %v", r.where, w.err)
}

// recordAlready records that the container runs the push healthily,
// keeping the time it became healthy when that is already recorded.
func (r *runner) recordAlready(dec Decision, msg string) Result {
	ctx, cancel := context.WithTimeout(context.Background(), undoTimeout)
	defer cancel()
	now := r.o.Clock.Now().UTC().Format(time.RFC3339)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		d, err := r.get(ctx)
		if err != nil {
			return err
		}
		c := findContainer(d, r.t.Container)
		if c == nil || (r.t.Strategy == mapping.StrategySetImage && c.Image != r.o.Push.Digest) {
			return nil
		}
		prev, err := ReadState(d, r.t.Container)
		if err != nil {
			return permanent(err)
		}
		var e Entry
		if prev != nil {
			e = *prev
		}
		if e.Digest != r.digest || e.HealthyAt == "" {
			e = Entry{Digest: r.digest, Tag: r.tag, PublishedAt: r.o.Push.PublishedAt, Version: dec.Version, HealthyAt: now}
		} else {
			if r.o.Push.PublishedAt > e.PublishedAt {
				e.Tag, e.PublishedAt = r.tag, r.o.Push.PublishedAt
			}
			if higherVersion(dec.Version, e.Version) {
				e.Version = dec.Version
			}
		}
		e.Outcome, e.Undone = StateHealthy, ""
		if prev != nil && e == *prev {
			return nil
		}
		e.Workflow = r.o.Workflow
		if err := writeState(d, r.t.Container, e); err != nil {
			return permanent(err)
		}
		_, err = r.deploys.Update(ctx, d, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return r.finish(OutcomeFailed, ExitTransient, "%s runs %s healthily but recording it failed: %v", r.where, r.digest, err)
	}
	return r.finish(OutcomeAlready, ExitOK, "%s already runs %s (%s)", r.where, r.digest, strings.TrimSpace(msg))
}

// higherVersion reports whether semantic version v is higher than was;
// any version is higher than none.
func higherVersion(v, was string) bool {
	if v == "" {
		return false
	}
	nv, err := semver.StrictNewVersion(v)
	if err != nil {
		return false
	}
	wv, err := semver.StrictNewVersion(was)
	return err != nil || nv.GreaterThan(wv)
}
