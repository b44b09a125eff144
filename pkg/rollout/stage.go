package rollout

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/argodeploy/argodeploy/pkg/mapping"
)

// waitStage waits until the target's After target has run the pushed
// digest healthily for the target's soak. It returns stop=true with the
// step's result when the step must not go on: the push was superseded or
// not taken there (skipped), the wait timed out or was interrupted
// (transient), or the mapping is wrong (permanent).
func (r *runner) waitStage(ctx context.Context) (res Result, stop bool) {
	t := r.t
	u := r.svc.Target(t.After)
	soak, chain, err := r.chain(t)
	if err != nil {
		return r.finish(OutcomeFailed, ExitPermanent, "%v", err), true
	}
	// A push that a stage up the chain does not take (its tagPattern or
	// policy) never runs there: waiting for it would only time out.
	// (r.chain has refused cycles.)
	for up, n := u, 0; up != nil && n <= len(r.svc.Targets); up, n = r.svc.Target(up.After), n+1 {
		// n bounds the walk: two targets of one name (an entry edited by
		// hand) can loop where r.chain, which walks by name, sees no cycle.
		if d := Admit(r.svc, up, r.o.Push); d.Action != Roll {
			return r.finish(OutcomeSkipped, ExitOK, "%s waits for %s, which does not take this push: %s", t.Name, up.Name, d.Reason), true
		}
	}
	timeout := r.o.StageTimeout
	if timeout <= 0 {
		timeout = chain
	}
	client, err := r.o.Clusters(ctx, u)
	if err != nil {
		return r.apiFailed(ctx, "reaching cluster "+u.ClusterName()+" of target "+u.Name, err), true
	}
	deploys := client.Deployments(u.Namespace)
	stage := fmt.Sprintf("target %s (deployment %s/%s container %s in cluster %s)", u.Name, u.Namespace, u.Deployment, u.Container, u.ClusterName())
	r.logf("%s: waiting for %s to run %s healthily for %s", t.Name, stage, r.digest, soak)

	deadline := r.o.Clock.Now().Add(timeout)
	var (
		since     time.Time // start of the soak watched, zero until u is seen healthy
		unhealthy bool      // u was seen unhealthy with the digest: its soak starts again
		last      string
	)
	note := func(format string, args ...any) {
		if s := fmt.Sprintf(format, args...); s != last {
			r.logf("%s: %s", t.Name, s)
			last = s
		}
	}
	for {
		d, err := deploys.Get(ctx, u.Deployment, metav1.GetOptions{})
		now := r.o.Clock.Now()
		wait := r.o.Poll
		switch {
		case err != nil && ctx.Err() != nil:
			return r.finish(OutcomeFailed, ExitTransient, "interrupted (%v) while waiting for %s; nothing was changed", context.Cause(ctx), u.Name), true
		case err != nil && IsPermanent(err):
			return r.finish(OutcomeFailed, ExitPermanent, "reading %s: %v", stage, err), true
		case err != nil:
			note("reading %s: %v; still waiting", stage, err)
		default:
			if findContainer(d, u.Container) == nil {
				return r.finish(OutcomeFailed, ExitPermanent, "deployment %s/%s of target %s has no container %s", u.Namespace, u.Deployment, u.Name, u.Container), true
			}
			e, err := ReadState(d, u.Container)
			if err != nil {
				return r.finish(OutcomeFailed, ExitPermanent, "%v", err), true
			}
			if e == nil {
				e = &Entry{}
			}
			switch {
			case e.Digest == r.digest && e.Outcome != StateRolling && e.HealthyAt != "":
				healthyAt, err := time.Parse(time.RFC3339, e.HealthyAt)
				if err != nil {
					return r.finish(OutcomeFailed, ExitPermanent, "%s: recorded healthyAt %q: %v", stage, e.HealthyAt, err), true
				}
				msg, done, serr := DeploymentStatus(d)
				if serr != nil || !done {
					if serr != nil {
						msg = serr.Error()
					}
					since, unhealthy = time.Time{}, true
					note("%s runs %s but is not healthy (%s); its soak starts again once it is", u.Name, r.digest, msg)
					break
				}
				if since.IsZero() {
					since = healthyAt
					if unhealthy {
						since = now
					}
				}
				end := since.Add(soak)
				if !now.Before(end) {
					r.logf("%s: %s has run %s healthily since %s, for its soak of %s", t.Name, u.Name, r.digest, since.UTC().Format(time.RFC3339), soak)
					return Result{}, false
				}
				note("%s runs %s healthily since %s; soaking until %s", u.Name, r.digest, since.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339))
				wait = min(wait, end.Sub(now))
			case e.Undone == r.digest && e.Outcome == StateUndone:
				return r.finish(OutcomeSkipped, ExitOK, "%s did not take %s: it was undone there", u.Name, r.digest), true
			case e.Digest != "" && e.Digest != r.digest && e.PublishedAt > r.o.Push.PublishedAt:
				return r.finish(OutcomeSkipped, ExitOK, "superseded: %s now runs %s, published after %s", u.Name, describe(e.Tag, e.Digest), r.digest), true
			case e.Undone == r.digest && e.Outcome == StateInterrupted:
				note("the rollout of %s to %s was interrupted; waiting for its retry", r.digest, u.Name)
			default:
				note("waiting for %s to run %s (it runs %s, %s)", u.Name, r.digest, orNothing(describe(e.Tag, e.Digest)), orNothing(e.Outcome))
			}
		}
		if !now.Before(deadline) {
			return r.finish(OutcomeFailed, ExitTransient, "%s did not run %s healthily for %s within %s", u.Name, r.digest, soak, timeout), true
		}
		if err := r.sleep(ctx, min(wait, deadline.Sub(now))); err != nil {
			return r.finish(OutcomeFailed, ExitTransient, "interrupted (%v) while waiting for %s; nothing was changed", context.Cause(ctx), u.Name), true
		}
	}
}

// chain returns t's soak and the default stage timeout of t: for each
// target up its chain of After targets, the time that target may take to
// roll out (RolloutTimeout) and the soak of the one after it. A push
// reaches the first target of the chain when it reaches t, so t waits
// for all of them.
func (r *runner) chain(t *mapping.Target) (soak, total time.Duration, err error) {
	seen := map[string]bool{t.Name: true}
	for link := t; link.After != ""; {
		s := time.Duration(0)
		if link.Soak != "" {
			s, err = time.ParseDuration(link.Soak)
			if err != nil || s < 0 {
				return 0, 0, fmt.Errorf("target %s: soak %q is not a non-negative Go duration", link.Name, link.Soak)
			}
		}
		if link == t {
			soak = s
		}
		total += r.o.RolloutTimeout + s
		next := r.svc.Target(link.After)
		if next == nil || seen[next.Name] {
			return 0, 0, fmt.Errorf("target %s comes after %q, which is not another target of service %s before it", link.Name, link.After, r.svc.Name)
		}
		seen[next.Name] = true
		link = next
	}
	return soak, total, nil
}

func orNothing(s string) string {
	if s == "" {
		return "nothing recorded"
	}
	return s
}
