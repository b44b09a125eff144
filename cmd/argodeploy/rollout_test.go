package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/rollout"
)

const rolloutImage = "us-east1-docker.pkg.dev/acme-shop-prod/containers/web"

var rolloutDigest = rolloutImage + "@sha256:" + strings.Repeat("1", 64)

// rolloutCache writes the cache entry of service web, one set-image
// target web in namespace prod taking release tags, and returns its
// directory.
func rolloutCache(t *testing.T) string {
	t.Helper()
	svc := mapping.Service{Name: "web", Image: rolloutImage, Strategy: mapping.StrategySetImage, TagPattern: `\d+\.\d+\.\d+`, Namespace: "prod"}
	svc.Default()
	data, err := json.Marshal(svc)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "web"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// rolloutCluster is a fake cluster with a rolled-out prod/web.
func rolloutCluster() *fake.Clientset {
	replicas := int32(1)
	return fake.NewClientset(&appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: "web", Generation: 1},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "web", Image: rolloutImage + ":1.4.1"}},
		}}},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 1, UpdatedReplicas: 1, AvailableReplicas: 1},
	})
}

// rolloutEnvOf is an environment of vars and a client that is cs, or err.
func rolloutEnvOf(vars map[string]string, cs rollout.Local, err error) rolloutEnv {
	return rolloutEnv{
		getenv: func(k string) string { return vars[k] },
		client: func(func(string) string) (rollout.Local, error) { return cs, err },
	}
}

// pushEnv is the environment the Sensor gives a push of 1.4.2.
func pushEnv() map[string]string {
	return map[string]string{
		"DIGEST":        rolloutDigest,
		"TAG":           rolloutImage + ":1.4.2",
		"PUBLISHED_AT":  "1748858400000000000",
		"WORKFLOW_NAME": "web-x7k2p",
		"POD_NAMESPACE": "argo-events",
	}
}

// runRolloutCommand runs argodeploy rollout args as execute does, with env
// in place of the process's, and returns the exit code and stderr.
func runRolloutCommand(env rolloutEnv, args ...string) (int, string) {
	var out, errOut bytes.Buffer
	s := streams{in: strings.NewReader(""), out: &out, err: &errOut}
	root := newRootCommand(s)
	if c, _, err := root.Find([]string{"rollout"}); err == nil && c != root {
		root.RemoveCommand(c)
	}
	root.AddCommand(newRolloutCommandWith(s, env))
	root.SetArgs(append([]string{"rollout"}, args...))
	err := root.ExecuteContext(context.Background())
	if err == nil {
		return 0, errOut.String()
	}
	fmt.Fprintf(&errOut, "Error: %v\n", err)
	var exit *exitError
	if errors.As(err, &exit) {
		return exit.code, errOut.String()
	}
	return exitFailure, errOut.String()
}

// TestRolloutCommandRolls: the command reads the cache entry and the push
// from the environment, rolls the target through the client, records the
// Workflow's name and exits 0.
func TestRolloutCommandRolls(t *testing.T) {
	cs := rolloutCluster()
	code, stderr := runRolloutCommand(rolloutEnvOf(pushEnv(), cs, nil), "--service", "web", "--target", "web", "--cache-dir", rolloutCache(t))
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	d, err := cs.AppsV1().Deployments("prod").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Spec.Template.Spec.Containers[0].Image; got != rolloutDigest {
		t.Errorf("image %s, want %s", got, rolloutDigest)
	}
	e, err := rollout.ReadState(d, "web")
	if err != nil || e == nil || e.Workflow != "web-x7k2p" || e.Outcome != rollout.StateHealthy || e.PublishedAt != 1748858400000000000 {
		t.Errorf("state %+v, %v", e, err)
	}
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if !strings.HasPrefix(line, "argodeploy: ") {
			t.Errorf("stderr line %q", line)
		}
	}
}

// TestRolloutCommandExitCodes: usage and input errors are permanent (2),
// as are refused pushes; API errors that a retry may fix are 1; a push
// that is not for the target is 0.
func TestRolloutCommandExitCodes(t *testing.T) {
	cache := rolloutCache(t)
	with := func(k, v string) map[string]string {
		env := pushEnv()
		env[k] = v
		return env
	}
	failingGets := func() *fake.Clientset {
		cs := rolloutCluster()
		cs.PrependReactor("get", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewServiceUnavailable("apiserver restarting")
		})
		return cs
	}
	for _, tc := range []struct {
		name   string
		env    map[string]string
		cs     *fake.Clientset
		err    error
		args   []string
		code   int
		stderr string
	}{
		{"no service", pushEnv(), nil, nil, []string{"--target", "web", "--cache-dir", cache}, 2, "--service is required"},
		{"no target", pushEnv(), nil, nil, []string{"--service", "web", "--cache-dir", cache}, 2, "--target is required"},
		{"unknown flag", pushEnv(), nil, nil, []string{"--service", "web", "--target", "web", "--namespace", "prod"}, 2, "unknown flag: --namespace"},
		{"bad timeout", pushEnv(), nil, nil, []string{"--service", "web", "--target", "web", "--rollout-timeout", "0s"}, 2, "--rollout-timeout must be positive"},
		{"service name not a label", pushEnv(), nil, nil, []string{"--service", "../web", "--target", "web", "--cache-dir", cache}, 2, "is not a DNS label"},
		{"no cache entry", pushEnv(), nil, nil, []string{"--service", "api", "--target", "api", "--cache-dir", cache}, 2, "service api has no entry in the cache"},
		{"no publish time", with("PUBLISHED_AT", ""), nil, nil, []string{"--service", "web", "--target", "web", "--cache-dir", cache}, 2, `PUBLISHED_AT "" is not a Unix time in nanoseconds`},
		{"publish time not an integer", with("PUBLISHED_AT", "1.7e18"), nil, nil, []string{"--service", "web", "--target", "web", "--cache-dir", cache}, 2, "PUBLISHED_AT"},
		{"no client", pushEnv(), nil, errors.New("unable to load in-cluster configuration"), []string{"--service", "web", "--target", "web", "--cache-dir", cache}, 2, "no client of the cluster"},
		{"digest of another image", with("DIGEST", "evil.example/web@sha256:"+strings.Repeat("1", 64)), rolloutCluster(), nil, []string{"--service", "web", "--target", "web", "--cache-dir", cache}, 2, "refusing the push"},
		{"unknown target", pushEnv(), rolloutCluster(), nil, []string{"--service", "web", "--target", "prod", "--cache-dir", cache}, 2, `has no target "prod"`},
		{"API unavailable", pushEnv(), failingGets(), nil, []string{"--service", "web", "--target", "web", "--cache-dir", cache}, 1, "apiserver restarting"},
		{"tag not for the target", with("TAG", rolloutImage+":main-abc"), rolloutCluster(), nil, []string{"--service", "web", "--target", "web", "--cache-dir", cache}, 0, "does not match target web's tagPattern"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cs rollout.Local
			if tc.cs != nil {
				cs = tc.cs
			}
			code, stderr := runRolloutCommand(rolloutEnvOf(tc.env, cs, tc.err), tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("exit %d, want %d, stderr containing %q:\n%s", code, tc.code, tc.stderr, stderr)
			}
		})
	}
}

// TestRolloutHelp: rollout is listed, and its help says where its input
// comes from and what its exit codes mean.
func TestRolloutHelp(t *testing.T) {
	var out bytes.Buffer
	root := newRootCommand(streams{in: strings.NewReader(""), out: &out, err: &out})
	root.SetArgs([]string{"rollout", "--help"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"DIGEST", "TAG", "PUBLISHED_AT", "WORKFLOW_NAME", "POD_NAMESPACE", "KUBECONFIG", "3 not healthy in time, undone", `--cache-dir string`, `(default "/etc/argodeploy/cache")`, "--rollout-timeout duration", "(default 5m0s)", "argodeploy rollout --service web --target web"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("rollout --help lacks %q:\n%s", want, out.String())
		}
	}
	if c, _, err := root.Find([]string{"rollout"}); err != nil || c.Hidden {
		t.Errorf("rollout is hidden or missing: %v", err)
	}
}

// TestLocalClient: KUBECONFIG, a list of files, wins; without it the
// in-cluster config is used, which fails outside a pod.
func TestLocalClient(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "config")
	if err := os.WriteFile(config, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://local.example:6443"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"KUBECONFIG": filepath.Join(dir, "missing") + string(os.PathListSeparator) + config}
	client, err := localClient(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if u := client.AppsV1().RESTClient().(*rest.RESTClient).Get().URL(); u.Host != "local.example:6443" {
		t.Errorf("the client reaches %s", u)
	}
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
	if _, err := localClient(func(string) string { return "" }); !errors.Is(err, rest.ErrNotInCluster) {
		t.Errorf("outside a pod without KUBECONFIG: %v, want %v", err, rest.ErrNotInCluster)
	}
}
