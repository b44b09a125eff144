//go:build e2e

package testenv_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"

	"github.com/argodeploy/argodeploy/pkg/render"
	"github.com/argodeploy/argodeploy/pkg/rollout"
	"github.com/argodeploy/argodeploy/pkg/testenv"
)

// argodeployBinary builds cmd/argodeploy once per test binary: the image
// the WorkflowTemplate names runs it as "argodeploy route" and "argodeploy
// rollout".
var argodeployBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "argodeploy-bin-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "argodeploy")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/argodeploy/argodeploy/cmd/argodeploy").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/argodeploy: %v\n%s", err, out)
	}
	return bin, nil
})

// targetRun is what one rollout step of a release did: the route it ran
// for, its exit code and its output.
type targetRun struct {
	service, target, lock string
	exit                  int
	log                   string
}

// routeRun is what a release's route step did: the routes it printed on
// stdout (the list the rollout steps run over), its exit code and what it
// printed on stderr (why a target was left out, or why it refused).
type routeRun struct {
	routes []rollout.Route
	exit   int
	log    string
}

// releaseResult is what runRelease did: the route step, then one rollout
// step per route (none when the route step failed).
type releaseResult struct {
	route   routeRun
	targets []targetRun
}

// maxResult is the most of a step's stdout the Argo executor keeps as its
// outputs.result (it keeps the last 256 kB of a longer one).
const maxResult = 256 << 10

// inputUse finds the template tags a step's command and env use.
var inputUse = regexp.MustCompile(`\{\{\s*(workflow\.parameters\.[A-Za-z0-9_-]+|inputs\.parameters\.[A-Za-z0-9_-]+|workflow\.name)\s*\}\}`)

// runRelease runs the release a Workflow of tmpl would run, as the Argo
// Workflows controller and the pods would. The entrypoint is two step
// groups: first the route step (argodeploy route), whose stdout, less one
// trailing newline, is its outputs.result; then one step whose withParam is
// that result, expanded over its items, each running the rollout template
// (argodeploy rollout) with {{item.X}} substituted into its arguments. Each
// container runs with its inputs, the Workflow's parameters and name
// substituted, as the template's user and group, each volume a directory
// (a ConfigMap's or each ConfigMap of a projected volume's data read from
// the apiserver and laid out as the kubelet does, an emptyDir empty) with
// mount paths in args and env rewritten to them, POD_NAMESPACE from the
// downward API, and KUBECONFIG a kubeconfig of the template's
// ServiceAccount. A route step that fails ends the release (the
// controller fails the Workflow). The rollout steps run one after another
// in list order, or only those of the targets named in only, in that
// order; each holds its route's lock, so no two ever overlap.
// rolloutTimeout, when set, replaces --rollout-timeout.
func runRelease(ctx context.Context, t *testing.T, api *testenv.APIServer, kubeconfig string, tmpl *wfv1.WorkflowTemplate, wf *wfv1.Workflow, rolloutTimeout string, only ...string) releaseResult {
	t.Helper()
	bin, err := argodeployBinary()
	if err != nil {
		t.Fatal(err)
	}
	params := map[string]string{}
	for _, p := range wf.Spec.Arguments.Parameters {
		if p.Value != nil {
			params[p.Name] = p.Value.String()
		}
	}
	for _, p := range tmpl.Spec.Arguments.Parameters {
		if _, ok := params[p.Name]; !ok {
			if p.Value == nil {
				t.Fatalf("Workflow %s: parameter %s of WorkflowTemplate %s is not set", wf.Name, p.Name, tmpl.Name)
			}
			params[p.Name] = p.Value.String()
		}
	}
	templates := map[string]*wfv1.Template{}
	for i := range tmpl.Spec.Templates {
		templates[tmpl.Spec.Templates[i].Name] = &tmpl.Spec.Templates[i]
	}
	container := func(name string, command ...string) *wfv1.Template {
		t.Helper()
		c := templates[name]
		if c == nil || c.Container == nil || !slices.Equal(c.Container.Command, command) {
			t.Fatalf("WorkflowTemplate %s: template %q is not a container running %v", tmpl.Name, name, command)
		}
		return c
	}
	entry := templates[tmpl.Spec.Entrypoint]
	if entry == nil || len(entry.Steps) != 2 || len(entry.Steps[0].Steps) != 1 || len(entry.Steps[1].Steps) != 1 {
		t.Fatalf("WorkflowTemplate %s: entrypoint %q is not a route step and then one step over the routes", tmpl.Name, tmpl.Spec.Entrypoint)
	}
	routeSt, st := entry.Steps[0].Steps[0], entry.Steps[1].Steps[0]
	routeStep := container(routeSt.Template, "argodeploy", "route")
	step := container(st.Template, "argodeploy", "rollout")
	if routeSt.WithParam != "" || routeSt.WithItems != nil || len(routeSt.Arguments.Parameters) > 0 || len(routeStep.Inputs.Parameters) > 0 {
		t.Fatalf("WorkflowTemplate %s: the route step %s takes arguments or runs over items", tmpl.Name, routeSt.Name)
	}
	// The controller has the executor keep a step's stdout as its result
	// only when a template refers to it as steps.NAME.outputs.result.
	if want := "{{steps." + routeSt.Name + ".outputs.result}}"; st.WithParam != want {
		t.Fatalf("WorkflowTemplate %s: step %s runs over %q, want the route step's result %s", tmpl.Name, st.Name, st.WithParam, want)
	}
	resolver := func(inputs map[string]string) func(string) string {
		return func(s string) string {
			return inputUse.ReplaceAllStringFunc(s, func(m string) string {
				name := strings.TrimSpace(strings.Trim(m, "{}"))
				switch {
				case name == "workflow.name":
					return wf.Name
				case strings.HasPrefix(name, "workflow.parameters."):
					if v, ok := params[strings.TrimPrefix(name, "workflow.parameters.")]; ok {
						return v
					}
				case strings.HasPrefix(name, "inputs.parameters."):
					if v, ok := inputs[strings.TrimPrefix(name, "inputs.parameters.")]; ok {
						return v
					}
				}
				t.Errorf("Workflow %s: %s is not set", wf.Name, m)
				return m
			})
		}
	}

	// The route step.
	rr := runContainer(ctx, t, api, kubeconfig, tmpl, wf.Namespace, routeStep.Container, resolver(nil), bin, "")
	res := releaseResult{route: routeRun{exit: rr.exit, log: rr.stderr}}
	if rr.exit != 0 {
		return res
	}
	result := strings.TrimSuffix(rr.stdout, "\n")
	if len(result) > maxResult {
		t.Errorf("Workflow %s: the route step printed %d bytes, more than the %d the executor keeps as its result", wf.Name, len(result), maxResult)
	}
	var items []map[string]string
	if err := json.Unmarshal([]byte(result), &items); err != nil || items == nil {
		t.Fatalf("Workflow %s: the route step's result %q is not a JSON list of objects of strings: %v", wf.Name, result, err)
	}
	dec := json.NewDecoder(strings.NewReader(result))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res.route.routes); err != nil {
		t.Fatalf("Workflow %s: the route step's result %q is not a list of routes: %v", wf.Name, result, err)
	}
	if len(only) > 0 {
		var picked []map[string]string
		for _, name := range only {
			for _, item := range items {
				if item[render.InputTarget] == name {
					picked = append(picked, item)
				}
			}
		}
		if len(picked) != len(only) {
			t.Fatalf("Workflow %s: targets %v are not all among the routes %s", wf.Name, only, result)
		}
		items = picked
	}

	// One rollout step per item, each under its lock.
	if sync := step.Synchronization; sync == nil || len(sync.Mutexes) != 1 || sync.Mutexes[0].Name != "{{inputs.parameters."+render.InputLock+"}}" {
		t.Fatalf("step template %s is not serialised by its target's lock: %+v", step.Name, sync)
	}
	for _, item := range items {
		inputs := map[string]string{}
		for _, a := range st.Arguments.Parameters {
			v := a.Value.String()
			for k, iv := range item {
				v = strings.ReplaceAll(v, "{{item."+k+"}}", iv)
			}
			if strings.Contains(v, "{{item.") {
				t.Fatalf("step %s of %s: argument %s = %q names a field the route %v lacks", st.Name, tmpl.Name, a.Name, v, item)
			}
			inputs[a.Name] = v
		}
		for _, in := range step.Inputs.Parameters {
			if _, ok := inputs[in.Name]; !ok {
				t.Fatalf("step %s of %s: input %s not passed", st.Name, tmpl.Name, in.Name)
			}
		}
		resolve := resolver(inputs)
		if lock := resolve(step.Synchronization.Mutexes[0].Name); lock == "" || lock != item[render.InputLock] {
			t.Fatalf("step %s of %s for %v holds mutex %q, not the route's lock", st.Name, tmpl.Name, item, lock)
		}
		run := runContainer(ctx, t, api, kubeconfig, tmpl, wf.Namespace, step.Container, resolve, bin, rolloutTimeout)
		res.targets = append(res.targets, targetRun{
			service: inputs[render.InputService],
			target:  inputs[render.InputTarget],
			lock:    inputs[render.InputLock],
			exit:    run.exit,
			log:     run.log,
		})
	}
	return res
}

// containerRun is what one step container did.
type containerRun struct {
	exit           int
	stdout, stderr string
	log            string // stdout and stderr as written
}

// lockedWriter serialises the writes of a process's stdout and stderr
// into one buffer.
type lockedWriter struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// writeVolume lays files out in dir as the kubelet's atomic writer does
// for a ConfigMap or projected volume: the data in a timestamped
// directory, ..data a symlink to it, and each file a symlink through
// ..data.
func writeVolume(dir string, files map[string]string) error {
	ts := filepath.Join(dir, "..2026_01_01_00_00_00.000000001")
	if err := os.Mkdir(ts, 0o755); err != nil {
		return err
	}
	for k, v := range files {
		if err := os.WriteFile(filepath.Join(ts, k), []byte(v), 0o644); err != nil {
			return err
		}
	}
	if err := os.Symlink(filepath.Base(ts), filepath.Join(dir, "..data")); err != nil {
		return err
	}
	for k := range files {
		if err := os.Symlink(filepath.Join("..data", k), filepath.Join(dir, k)); err != nil {
			return err
		}
	}
	return nil
}

// runContainer runs one step container as its pod would (see runRelease).
func runContainer(ctx context.Context, t *testing.T, api *testenv.APIServer, kubeconfig string, tmpl *wfv1.WorkflowTemplate, namespace string, c *corev1.Container, resolve func(string) string, bin, rolloutTimeout string) containerRun {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	uid, gid := int64(65534), int64(65534)
	if sc := tmpl.Spec.SecurityContext; sc != nil {
		if sc.RunAsUser != nil {
			uid = *sc.RunAsUser
		}
		if sc.RunAsGroup != nil {
			gid = *sc.RunAsGroup
		}
	}
	root, err := os.MkdirTemp("", "argodeploy-step-")
	must(err)
	defer os.RemoveAll(root)
	must(os.Chmod(root, 0o755))
	mounts := map[string]string{}
	for i, vm := range c.VolumeMounts {
		var vol *corev1.Volume
		for j := range tmpl.Spec.Volumes {
			if tmpl.Spec.Volumes[j].Name == vm.Name {
				vol = &tmpl.Spec.Volumes[j]
			}
		}
		if vol == nil {
			t.Fatalf("volume %s is not in WorkflowTemplate %s", vm.Name, tmpl.Name)
		}
		dir := filepath.Join(root, fmt.Sprintf("%d-%s", i, vm.Name))
		must(os.Mkdir(dir, 0o755))
		configMap := func(name string) map[string]string {
			t.Helper()
			out, err := api.Kubectl(ctx, "", "get", "configmap", resolve(name), "-n", namespace, "-o", "json")
			must(err)
			var cm corev1.ConfigMap
			must(json.Unmarshal([]byte(out), &cm))
			return cm.Data
		}
		switch {
		case vol.ConfigMap != nil:
			if len(vol.ConfigMap.Items) > 0 {
				t.Fatalf("volume %s of WorkflowTemplate %s picks items: not played here", vm.Name, tmpl.Name)
			}
			must(writeVolume(dir, configMap(vol.ConfigMap.Name)))
		case vol.Projected != nil:
			files := map[string]string{}
			from := map[string]string{}
			for _, src := range vol.Projected.Sources {
				if src.ConfigMap == nil || len(src.ConfigMap.Items) > 0 {
					t.Fatalf("volume %s of WorkflowTemplate %s projects %+v: only whole ConfigMaps are played here", vm.Name, tmpl.Name, src)
				}
				for k, v := range configMap(src.ConfigMap.Name) {
					if prev, ok := from[k]; ok {
						// The kubelet would keep one of the two: the cache
						// entry a route or rollout step reads would depend on
						// the order of the sources.
						t.Errorf("volume %s of WorkflowTemplate %s: key %s is in ConfigMaps %s and %s", vm.Name, tmpl.Name, k, prev, src.ConfigMap.Name)
					}
					files[k], from[k] = v, src.ConfigMap.Name
				}
			}
			must(writeVolume(dir, files))
		case vol.Secret != nil:
			// As the kubelet mounts it: the Secret read from the apiserver,
			// its items at their paths (every key when none is picked).
			out, err := api.Kubectl(ctx, "", "get", "secret", resolve(vol.Secret.SecretName), "-n", namespace, "-o", "json")
			must(err)
			var sec corev1.Secret
			must(json.Unmarshal([]byte(out), &sec))
			files := map[string]string{}
			for k, v := range sec.Data {
				files[k] = string(v)
			}
			if len(vol.Secret.Items) > 0 {
				picked := map[string]string{}
				for _, it := range vol.Secret.Items {
					v, ok := files[it.Key]
					if !ok {
						t.Fatalf("volume %s: Secret %s has no key %s", vm.Name, vol.Secret.SecretName, it.Key)
					}
					picked[it.Path] = v
				}
				files = picked
			}
			must(writeVolume(dir, files))
		case vol.EmptyDir != nil:
			must(os.Chown(dir, int(uid), int(gid)))
		default:
			t.Fatalf("volume %s of WorkflowTemplate %s is neither a ConfigMap, a Secret, a projected volume nor an emptyDir", vm.Name, tmpl.Name)
		}
		mounts[vm.MountPath] = dir
	}
	rewrite := func(v string) string {
		best := ""
		for p := range mounts {
			if (v == p || strings.HasPrefix(v, p+"/")) && len(p) > len(best) {
				best = p
			}
		}
		if best == "" {
			return v
		}
		return mounts[best] + strings.TrimPrefix(v, best)
	}
	kc, err := os.ReadFile(kubeconfig)
	must(err)
	kcPath := filepath.Join(root, "kubeconfig")
	must(os.WriteFile(kcPath, kc, 0o600))
	must(os.Chown(kcPath, int(uid), int(gid)))

	env := []string{"PATH=" + filepath.Dir(bin) + ":" + os.Getenv("PATH"), "KUBECONFIG=" + kcPath}
	for _, ev := range c.Env {
		switch {
		case ev.ValueFrom != nil && ev.ValueFrom.FieldRef != nil && ev.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
			env = append(env, ev.Name+"="+namespace)
		case ev.ValueFrom != nil:
			t.Fatalf("env %s of the step: only the pod's namespace is provided here", ev.Name)
		default:
			env = append(env, ev.Name+"="+rewrite(resolve(ev.Value)))
		}
	}
	argv := append(slices.Clone(c.Command), c.Args...)
	timeoutSet := false
	for i := range argv {
		argv[i] = rewrite(resolve(argv[i]))
		if i > 0 && argv[i-1] == "--rollout-timeout" && rolloutTimeout != "" {
			argv[i], timeoutSet = rolloutTimeout, true
		}
	}
	if rolloutTimeout != "" && !timeoutSet {
		t.Fatalf("the step %v of WorkflowTemplate %s takes no --rollout-timeout", c.Command, tmpl.Name)
	}
	if argv[0] != "argodeploy" {
		t.Fatalf("the step runs %q, want argodeploy", argv[0])
	}
	argv[0] = bin
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Dir = root
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	var (
		stdout, stderr, output bytes.Buffer
		mu                     sync.Mutex
	)
	cmd.Stdout = io.MultiWriter(&stdout, lockedWriter{&mu, &output})
	cmd.Stderr = io.MultiWriter(&stderr, lockedWriter{&mu, &output})
	err = cmd.Run()
	res := containerRun{stdout: stdout.String(), stderr: stderr.String(), log: output.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		res.exit = exit.ExitCode()
	case err != nil:
		t.Fatalf("step %v: %v", argv, err)
	}
	return res
}

// loadTemplate reads a WorkflowTemplate back from the apiserver.
func loadTemplate(ctx context.Context, t *testing.T, api *testenv.APIServer, namespace, name string) *wfv1.WorkflowTemplate {
	t.Helper()
	out, err := api.Kubectl(ctx, "", "get", "workflowtemplate", name, "-n", namespace, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &wfv1.WorkflowTemplate{}
	if err := json.Unmarshal([]byte(out), tmpl); err != nil {
		t.Fatal(err)
	}
	return tmpl
}
