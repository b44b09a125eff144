//go:build e2e

package testenv_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	"github.com/argodeploy/argodeploy/pkg/testenv"
)

// argodeployBinary builds cmd/argodeploy once per test binary: the image
// the WorkflowTemplate names runs it as "argodeploy rollout".
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

// targetRun is what one target's step of a release did.
type targetRun struct {
	target string
	exit   int
	log    string
}

// inputUse finds the template tags a rollout step's command and env use.
var inputUse = regexp.MustCompile(`\{\{\s*(workflow\.parameters\.[A-Za-z0-9_-]+|inputs\.parameters\.[A-Za-z0-9_-]+|workflow\.name)\s*\}\}`)

// runRelease runs the release a Workflow of tmpl would run, as the Argo
// Workflows controller and the pods would: the entrypoint's steps expanded
// over their withParam items, then each item's container with its
// inputs, the Workflow's parameters and name substituted, as the
// template's user and group, each volume a directory (ConfigMaps read from
// the apiserver, emptyDirs empty) with mount paths in args and env rewritten
// to them, POD_NAMESPACE from the downward API, and KUBECONFIG a kubeconfig
// of the template's ServiceAccount. The items run one after another in
// list order, or only the targets named in only, in that order;
// rolloutTimeout, when set, replaces --rollout-timeout.
func runRelease(ctx context.Context, t *testing.T, api *testenv.APIServer, kubeconfig string, tmpl *wfv1.WorkflowTemplate, wf *wfv1.Workflow, rolloutTimeout string, only ...string) []targetRun {
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
	templates := map[string]*wfv1.Template{}
	for i := range tmpl.Spec.Templates {
		templates[tmpl.Spec.Templates[i].Name] = &tmpl.Spec.Templates[i]
	}
	entry := templates[tmpl.Spec.Entrypoint]
	if entry == nil || len(entry.Steps) != 1 || len(entry.Steps[0].Steps) != 1 {
		t.Fatalf("WorkflowTemplate %s: entrypoint %q is not one step over the targets", tmpl.Name, tmpl.Spec.Entrypoint)
	}
	st := entry.Steps[0].Steps[0]
	step := templates[st.Template]
	if step == nil || step.Container == nil {
		t.Fatalf("WorkflowTemplate %s: step template %q is not a container", tmpl.Name, st.Template)
	}
	var items []map[string]string
	withParam := strings.TrimSuffix(strings.TrimPrefix(st.WithParam, "{{workflow.parameters."), "}}")
	if err := json.Unmarshal([]byte(params[withParam]), &items); err != nil || len(items) == 0 {
		t.Fatalf("Workflow %s: withParam %s = %q: %v", wf.Name, st.WithParam, params[withParam], err)
	}
	if len(only) > 0 {
		var picked []map[string]string
		for _, name := range only {
			for _, item := range items {
				if item["name"] == name {
					picked = append(picked, item)
				}
			}
		}
		if len(picked) != len(only) {
			t.Fatalf("Workflow %s: targets %v are not all among %s", wf.Name, only, params[withParam])
		}
		items = picked
	}
	var runs []targetRun
	for _, item := range items {
		inputs := map[string]string{}
		for _, a := range st.Arguments.Parameters {
			v := a.Value.String()
			for k, iv := range item {
				v = strings.ReplaceAll(v, "{{item."+k+"}}", iv)
			}
			inputs[a.Name] = v
		}
		for _, in := range step.Inputs.Parameters {
			if _, ok := inputs[in.Name]; !ok {
				t.Fatalf("step %s of %s: input %s not passed", st.Name, tmpl.Name, in.Name)
			}
		}
		if sync := step.Synchronization; sync == nil || len(sync.Mutexes) != 1 || sync.Mutexes[0].Name != "{{inputs.parameters."+render.InputLock+"}}" {
			t.Fatalf("step template %s is not serialised by its target's lock: %+v", step.Name, sync)
		}
		resolve := func(s string) string {
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
		runs = append(runs, runContainer(ctx, t, api, kubeconfig, tmpl, wf.Namespace, step.Container, resolve, bin, rolloutTimeout))
		runs[len(runs)-1].target = inputs[render.InputTarget]
	}
	return runs
}

// runContainer runs one step container as its pod would (see runRelease).
func runContainer(ctx context.Context, t *testing.T, api *testenv.APIServer, kubeconfig string, tmpl *wfv1.WorkflowTemplate, namespace string, c *corev1.Container, resolve func(string) string, bin, rolloutTimeout string) targetRun {
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
		switch {
		case vol.ConfigMap != nil:
			name := resolve(vol.ConfigMap.Name)
			out, err := api.Kubectl(ctx, "", "get", "configmap", name, "-n", namespace, "-o", "json")
			must(err)
			var cm corev1.ConfigMap
			must(json.Unmarshal([]byte(out), &cm))
			for k, v := range cm.Data {
				must(os.WriteFile(filepath.Join(dir, k), []byte(v), 0o644))
			}
		case vol.EmptyDir != nil:
			must(os.Chown(dir, int(uid), int(gid)))
		default:
			t.Fatalf("volume %s of WorkflowTemplate %s is neither a ConfigMap nor an emptyDir", vm.Name, tmpl.Name)
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
		t.Fatalf("the step of WorkflowTemplate %s takes no --rollout-timeout", tmpl.Name)
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
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	err = cmd.Run()
	res := targetRun{log: output.String()}
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
