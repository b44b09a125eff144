package simulate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/argodeploy/argodeploy/pkg/check"
	"github.com/argodeploy/argodeploy/pkg/render"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
)

// Step is the rollout step of a triggered Workflow, run as its pod would
// run it but with a kubectl that records its command lines and answers as
// a healthy Deployment running CurrentImage would.
type Step struct {
	Cache        string     `json:"cache,omitempty"` // the ConfigMap mounted as volume "cache"
	Entry        string     `json:"entry,omitempty"` // the service's cache entry
	CurrentImage string     `json:"currentImage"`    // what the Deployment is assumed to run before the push
	Kubectl      [][]string `json:"kubectl"`         // each kubectl command line, in order
	Exit         int        `json:"exit"`            // 0 rolled out or nothing to do, 1 retried, 2 failed, 3 undone
	Log          []string   `json:"log"`             // what the step printed
	Notes        []string   `json:"notes,omitempty"` // what the simulation could not provide
}

// CurrentDigest is the digest the simulated Deployment runs before a push.
const CurrentDigest = "sha256:0000000000000000000000000000000000000000000000000000000000000000"

// fakeKubectl records its arguments (NUL-separated, each call ended by a
// record separator) and answers the rollout script's three calls.
const fakeKubectl = `#!/bin/sh
for a in "$@"; do printf '%s\0' "$a"; done >>"$SIMULATE_LOG"
printf '\036' >>"$SIMULATE_LOG"
verb= name= previous=
for a in "$@"; do
    case "$a" in get | patch | rollout) [ -z "$verb" ] && verb=$a ;; esac
    [ "$previous" = deployment ] && name=$a
    previous=$a
done
case "$verb" in
get) printf '|||%s\n' "$SIMULATE_CURRENT_IMAGE" ;;
patch) echo "deployment.apps/$name patched" ;;
rollout) echo "deployment \"$name\" successfully rolled out" ;;
*)
    echo "simulate: kubectl $* is not simulated" >&2
    exit 1
    ;;
esac
`

// fakeDate prints the simulated now (the message's publish time), so a
// replay is deterministic.
const fakeDate = `#!/bin/sh
printf '%s\n' "$SIMULATE_NOW"
`

// FollowStep runs the entrypoint of w's WorkflowTemplate as its pod would:
// its container's command with the Workflow's arguments substituted, the
// ConfigMaps it mounts written to temporary directories, and fake kubectl
// and date programs first on PATH. It needs /bin/sh. now is what date
// prints (the message's publish time).
func (p *Pipeline) FollowStep(ctx context.Context, w *Workflow, now time.Time) (*Step, error) {
	tmpl := p.templates[w.Namespace+"/"+w.Template]
	if tmpl == nil {
		return nil, fmt.Errorf("WorkflowTemplate %s/%s not found", w.Namespace, w.Template)
	}
	var entry *wfv1.Template
	for i := range tmpl.Spec.Templates {
		if tmpl.Spec.Templates[i].Name == tmpl.Spec.Entrypoint {
			entry = &tmpl.Spec.Templates[i]
		}
	}
	if entry == nil || entry.Container == nil || len(entry.Container.Command) == 0 {
		return nil, fmt.Errorf("WorkflowTemplate %s: entrypoint %q is not a container with a command", w.Template, tmpl.Spec.Entrypoint)
	}
	resolve := func(s string) string {
		// An argument the Workflow lacks is empty, as the pod would see it.
		return check.ResolveParameters(s, func(name string) (string, bool) { return w.Arguments[name], true })
	}

	root, err := os.MkdirTemp("", "argodeploy-simulate-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(root)
	step := &Step{Kubectl: [][]string{}, Log: []string{}}
	mounts, err := p.mountVolumes(root, w.Namespace, tmpl.Spec.Volumes, entry.Container.VolumeMounts, resolve, step)
	if err != nil {
		return nil, err
	}
	if fields := render.ParseCacheEntry(step.Entry); fields["image"] != "" {
		step.CurrentImage = fields["image"] + "@" + CurrentDigest
	}

	bin := filepath.Join(root, "bin")
	logFile := filepath.Join(root, "kubectl.log")
	for name, script := range map[string]string{"kubectl": fakeKubectl, "date": fakeDate} {
		if err := os.MkdirAll(bin, 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			return nil, err
		}
	}
	env := []string{
		"PATH=" + bin + ":/usr/bin:/bin",
		"SIMULATE_LOG=" + logFile,
		"SIMULATE_CURRENT_IMAGE=" + step.CurrentImage,
		"SIMULATE_NOW=" + now.UTC().Format("2006-01-02T15:04:05Z"),
	}
	for _, e := range entry.Container.Env {
		env = append(env, e.Name+"="+mounts.rewrite(resolve(e.Value)))
	}
	args := append(append([]string(nil), entry.Container.Command...), entry.Container.Args...)
	for i := range args {
		args[i] = resolve(args[i])
	}

	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = env
	cmd.Dir = root
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		step.Exit = exit.ExitCode()
	case err != nil:
		return nil, fmt.Errorf("running the step of %s: %w", w.Template, err)
	}
	for _, line := range strings.Split(strings.TrimRight(output.String(), "\n"), "\n") {
		if line != "" {
			step.Log = append(step.Log, line)
		}
	}
	recorded, err := os.ReadFile(logFile)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, call := range strings.Split(string(recorded), "\x1e") {
		if call == "" {
			continue
		}
		step.Kubectl = append(step.Kubectl, append([]string{"kubectl"}, strings.Split(strings.TrimSuffix(call, "\x00"), "\x00")...))
	}
	return step, nil
}

// mounts maps the container's mount paths to the temporary directories
// that stand in for them.
type mounts map[string]string

// rewrite replaces a mount path at the start of value by its stand-in.
func (m mounts) rewrite(value string) string {
	paths := make([]string, 0, len(m))
	for p := range m {
		paths = append(paths, p)
	}
	sort.Slice(paths, func(i, j int) bool { return len(paths[i]) > len(paths[j]) })
	for _, p := range paths {
		if value == p || strings.HasPrefix(value, p+"/") {
			return m[p] + strings.TrimPrefix(value, p)
		}
	}
	return value
}

// mountVolumes creates a directory for each volume mount: a ConfigMap's
// data as files, anything else (emptyDir, Secret) empty. It records the
// cache volume's ConfigMap and the service's entry in step.
func (p *Pipeline) mountVolumes(root, namespace string, volumes []corev1.Volume, volumeMounts []corev1.VolumeMount, resolve func(string) string, step *Step) (mounts, error) {
	m := mounts{}
	for i, vm := range volumeMounts {
		dir := filepath.Join(root, fmt.Sprintf("volume-%d", i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		m[vm.MountPath] = dir
		for _, v := range volumes {
			if v.Name == vm.Name && v.Secret != nil {
				step.Notes = append(step.Notes, fmt.Sprintf("volume %s (Secret %s) is mounted empty: Secrets are not read offline", v.Name, resolve(v.Secret.SecretName)))
			}
			if v.Name != vm.Name || v.ConfigMap == nil {
				continue
			}
			name := resolve(v.ConfigMap.Name)
			cm := p.configMaps[namespace+"/"+name]
			if cm == nil {
				return nil, fmt.Errorf("volume %s: ConfigMap %s/%s not found", v.Name, namespace, name)
			}
			for key, value := range cm.Data {
				if err := os.WriteFile(filepath.Join(dir, key), []byte(value), 0o644); err != nil {
					return nil, err
				}
			}
			if v.Name == "cache" {
				step.Cache = name
			}
		}
	}
	if step.Cache != "" {
		step.Entry = p.configMaps[namespace+"/"+step.Cache].Data[resolve("{{workflow.parameters.service}}")]
	}
	return m, nil
}
