package check

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/argodeploy/argodeploy/pkg/rollout"
	eventsv1alpha1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/util/expr/argoexpr"
	"github.com/argoproj/argo-workflows/v3/util/expr/env"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

const stepsValidator = "argodeploy ReleaseSteps"

// finalExits are the exit codes after which argodeploy route and rollout
// must not run again, and why.
var finalExits = []struct {
	code int
	what string
	why  string
}{
	{rollout.ExitPermanent, "a permanent failure, such as a push the cache does not map", "it fails again, for nothing"},
	{rollout.ExitUndone, "not healthy in time and undone", "it rolls the undone image again"},
}

// lockItem is what the route step prints as each target's lock
// (mapping.Target.Lock: cluster, namespace and Deployment).
const lockItem = "{{item.lock}}"

// inputRef finds the inputs a template field reads.
var inputRef = regexp.MustCompile(`\{\{\s*inputs\.parameters\.([A-Za-z0-9_-]+)\s*\}\}`)

// ReleaseSteps checks the steps of spec that run argodeploy: in a spec
// that mounts the argodeploy cache, every container runs argodeploy; a rollout
// step holds a mutex named by the lock its step's argument takes from the
// route step's output (so that two releases never roll one Deployment at
// once, and targets that share none never wait for each other), and no
// route or rollout step is retried after an exit that is final (2: a
// permanent failure; 3: rolled back), as the workflow controller would
// decide it: the retry policy, the limit and the expression, evaluated
// with the controller's evaluator. Paths start with prefix (spec,
// spec.workflowSpec).
func ReleaseSteps(prefix string, spec *wfv1.WorkflowSpec) error {
	var errs []error
	_, release := CacheConfigMaps(spec.Volumes)
	for i, t := range spec.Templates {
		at := fmt.Sprintf("%s.templates[%d]", prefix, i)
		if c := containerOf(t); release && c != nil && len(c.Command) > 0 && path.Base(c.Command[0]) != "argodeploy" {
			errs = append(errs, fieldErrorf(at+".container.command", "runs %q, not argodeploy: a workflow that mounts the argodeploy cache runs argodeploy's steps only, which are what its account is granted for", c.Command[0]))
		}
		command := argodeployCommand(t)
		if command == "rollout" {
			errs = append(errs, rolloutLock(at, t, spec.Templates)...)
		}
		if command != "rollout" && command != "route" {
			continue
		}
		rs, rsAt := t.RetryStrategy, at+".retryStrategy"
		if rs == nil {
			rs, rsAt = spec.RetryStrategy, prefix+".retryStrategy"
		}
		if err := finalRetries(rsAt, rs, command); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// argodeployCommand is the argodeploy subcommand a template's container
// runs, or "".
func argodeployCommand(t wfv1.Template) string {
	c := containerOf(t)
	if c == nil {
		return ""
	}
	words := append(append([]string(nil), c.Command...), c.Args...)
	if len(words) < 2 || path.Base(words[0]) != "argodeploy" {
		return ""
	}
	return words[1]
}

// rolloutLock checks the mutexes of rollout template t, at path at.
func rolloutLock(at string, t wfv1.Template, templates []wfv1.Template) []error {
	var mutexes []*wfv1.Mutex
	var paths []string
	if s := t.Synchronization; s != nil {
		if s.Mutex != nil {
			mutexes, paths = append(mutexes, s.Mutex), append(paths, at+".synchronization.mutex.name")
		}
		for m, mutex := range s.Mutexes {
			mutexes, paths = append(mutexes, mutex), append(paths, fmt.Sprintf("%s.synchronization.mutexes[%d].name", at, m))
		}
	}
	if len(mutexes) == 0 {
		return []error{fieldErrorf(at+".synchronization", "the rollout step holds no mutex: two releases could roll the same Deployment at once; hold mutexes: [{name: \"{{inputs.parameters.lock}}\"}], the lock the route step prints for the target")}
	}
	var errs []error
	for m, mutex := range mutexes {
		refs := inputRef.FindAllStringSubmatch(mutex.Name, -1)
		if len(refs) == 0 {
			errs = append(errs, fieldErrorf(paths[m], "%q is one lock for every target: releases of targets that share no Deployment wait for each other, and a staged target waiting for its upstream holds the lock its upstream needs; name it by the target's lock, {{inputs.parameters.lock}}", mutex.Name))
			continue
		}
		if why := notTheLock(t.Name, refs, templates); why != "" {
			errs = append(errs, fieldErrorf(paths[m], "%q is not the target's lock (%s, which the route step prints as cluster.namespace.deployment): %s, so two targets that roll one Deployment would not exclude each other", mutex.Name, lockItem, why))
		}
	}
	return errs
}

// notTheLock says why a mutex named by the inputs refs of template name is
// not the lock of the target every step that runs it passes, or "". A
// step passes the lock when the argument is the route's item.lock over
// withParam, or an input of its own template that every step running
// that one passes the lock (the deliver step between release and
// rollout).
func notTheLock(name string, refs [][]string, templates []wfv1.Template) string {
	return passesLock(name, refs, templates, 0)
}

func passesLock(name string, refs [][]string, templates []wfv1.Template, depth int) string {
	if depth > len(templates) {
		return "the steps that run it call each other in a cycle"
	}
	callers := 0
	for _, caller := range templates {
		var steps []wfv1.WorkflowStep
		for _, parallel := range caller.Steps {
			steps = append(steps, parallel.Steps...)
		}
		if caller.DAG != nil {
			for _, task := range caller.DAG.Tasks {
				steps = append(steps, wfv1.WorkflowStep{Name: task.Name, Template: task.Template, Arguments: task.Arguments, WithParam: task.WithParam})
			}
		}
		for _, step := range steps {
			if step.Template != name {
				continue
			}
			callers++
			locked := false
			for _, ref := range refs {
				for _, p := range step.Arguments.Parameters {
					if p.Name != ref[1] || p.Value == nil {
						continue
					}
					v := p.Value.String()
					switch inner := inputRef.FindAllStringSubmatch(v, -1); {
					case strings.Contains(v, lockItem) && step.WithParam != "":
						locked = true
					case len(inner) == 1 && inner[0][0] == strings.TrimSpace(v) && caller.Name != name:
						locked = passesLock(caller.Name, inner, templates, depth+1) == ""
					}
				}
			}
			if !locked {
				return fmt.Sprintf("step %s of template %s passes no %s to it", step.Name, caller.Name, lockItem)
			}
		}
	}
	if callers == 0 {
		return "no step passes it one"
	}
	return ""
}

// finalRetries reports a retry strategy at path at that the workflow
// controller would follow after a final exit of argodeploy command.
func finalRetries(at string, rs *wfv1.RetryStrategy, command string) error {
	if rs == nil {
		return nil
	}
	if rs.Limit != nil {
		if limit, err := intstr.GetScaledValueFromIntOrPercent(rs.Limit, 0, false); err == nil && limit <= 0 {
			return nil
		}
	}
	switch rs.RetryPolicyActual() {
	case wfv1.RetryPolicyAlways, wfv1.RetryPolicyOnFailure:
	default:
		return nil // an exit is a Failed node, which these do not retry
	}
	var retried []string
	for _, exit := range finalExits {
		if command == "route" && exit.code == rollout.ExitUndone {
			continue // route never undoes anything
		}
		if rs.Expression != "" {
			scope := map[string]any{"retries": "0", "lastRetry.exitCode": fmt.Sprint(exit.code), "lastRetry.status": "Failed", "lastRetry.duration": "5", "lastRetry.message": fmt.Sprintf("exit code %d", exit.code)}
			again, err := argoexpr.EvalBool(rs.Expression, env.GetFuncMap(scope))
			if err != nil || !again {
				continue // RetryExpressions reports one that does not evaluate
			}
		}
		retried = append(retried, fmt.Sprintf("after exit %d (%s: %s)", exit.code, exit.what, exit.why))
	}
	if len(retried) == 0 {
		return nil
	}
	if rs.Expression != "" {
		at += ".expression"
	}
	return fieldErrorf(at, "retries argodeploy %s %s; retry only what may pass next time, e.g. expression: lastRetry.status == \"Error\" or (lastRetry.status == \"Failed\" and asInt(lastRetry.exitCode) == %d)", command, strings.Join(retried, " and "), rollout.ExitTransient)
}

// stepCommands parses, with parse, the command line of each template of
// spec (at prefix) whose container runs argodeploy: one that does not
// parse fails the step at once, every time.
func stepCommands(prefix string, spec *wfv1.WorkflowSpec, parse func([]string) error) error {
	if parse == nil {
		return nil
	}
	var errs []error
	// A container of argodeploy's image (the image of this spec's
	// argodeploy steps) must say which argodeploy command it runs: without
	// a command, the image's entrypoint, argodeploy, gets only the flags.
	images := map[string]bool{}
	for _, t := range spec.Templates {
		if c := containerOf(t); c != nil && len(c.Command) > 0 && path.Base(c.Command[0]) == "argodeploy" {
			images[c.Image] = true
		}
	}
	for i, t := range spec.Templates {
		c := containerOf(t)
		if c == nil {
			continue
		}
		if len(c.Command) == 0 && images[c.Image] {
			errs = append(errs, fieldErrorf(fmt.Sprintf("%s.templates[%d].container.command", prefix, i), "no command: the image %s runs argodeploy with these arguments and no subcommand, which fails at once, every time; give it [argodeploy, COMMAND]", c.Image))
			continue
		}
		words := append(append([]string(nil), c.Command...), c.Args...)
		if len(words) == 0 || path.Base(words[0]) != "argodeploy" {
			continue
		}
		at := fmt.Sprintf("%s.templates[%d].container", prefix, i)
		if t.Script != nil {
			at = fmt.Sprintf("%s.templates[%d].script", prefix, i)
		}
		if len(c.Args) > 0 {
			at += ".args"
		} else {
			at += ".command"
		}
		if err := parse(words[1:]); err != nil {
			msg, _, _ := strings.Cut(err.Error(), "\n")
			errs = append(errs, fieldErrorf(at, "argodeploy %s: %s: the step fails at once, every time", strings.Join(words[1:], " "), msg))
			continue
		}
		errs = append(errs, mountedPaths(at, words[1:], c.VolumeMounts, spec.Volumes)...)
	}
	return errors.Join(errs...)
}

// mountedFlags are the flags of argodeploy's steps that name what a volume
// holds: a directory, or a file whose directory is the volume.
var mountedFlags = []struct {
	flag string
	file bool
	what string
}{{"--cache-dir", false, "the cache"}, {"--bus-auth", true, "the event bus credentials"}}

// mountedPaths reports a flag among args (at path at) that names a place
// where none of the container's mounts is, or a file that the Secret
// volume mounted there does not hold: the step would find nothing there.
func mountedPaths(at string, args []string, mounts []corev1.VolumeMount, volumes []corev1.Volume) []error {
	var errs []error
	for _, f := range mountedFlags {
		for _, value := range flagValues(args, f.flag) {
			dir := path.Clean(value)
			if f.file {
				dir = path.Dir(dir)
			}
			i := slices.IndexFunc(mounts, func(m corev1.VolumeMount) bool { return path.Clean(m.MountPath) == dir })
			if i < 0 {
				errs = append(errs, fieldErrorf(at, "%s %s: no volume is mounted at %s, so the step reads no %s", f.flag, value, dir, strings.TrimPrefix(f.what, "the ")))
				continue
			}
			v := slices.IndexFunc(volumes, func(v corev1.Volume) bool { return v.Name == mounts[i].Name })
			if !f.file || v < 0 || volumes[v].Secret == nil || mounts[i].SubPath != "" {
				continue
			}
			if why := secretFile(volumes[v].Secret, path.Base(value)); why != "" {
				errs = append(errs, fieldErrorf(at, "%s %s: volume %q %s, so the step reads no %s", f.flag, value, volumes[v].Name, why, strings.TrimPrefix(f.what, "the ")))
			}
		}
	}
	return errs
}

// secretFile says why a Secret volume holds no file named file, or "" when
// it may: with items, one must be that path; without, the files are the
// Secret's keys, which argodeploy knows only for an EventBus's client
// credentials (one key, client-auth).
func secretFile(s *corev1.SecretVolumeSource, file string) string {
	switch {
	case s.SecretName == "":
		return "names no Secret"
	case len(s.Items) > 0:
		if slices.ContainsFunc(s.Items, func(k corev1.KeyToPath) bool { return path.Clean(k.Path) == file }) {
			return ""
		}
		var paths []string
		for _, k := range s.Items {
			paths = append(paths, k.Path)
		}
		return fmt.Sprintf("holds only %s, not %s", strings.Join(paths, ", "), file)
	case strings.HasSuffix(s.SecretName, "-js-client-auth") && file != eventsv1alpha1.JetStreamClientAuthSecretKey:
		return fmt.Sprintf("holds Secret %s's one key, %s, not %s (map it with items)", s.SecretName, eventsv1alpha1.JetStreamClientAuthSecretKey, file)
	}
	return ""
}
