//go:build e2e

package testenv_test

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/argodeploy/argodeploy/pkg/testenv"
)

var updateStatus = flag.Bool("update-status", false, "rewrite testdata/e2e/status.golden")

// TestStatus runs argodeploy status against a real kube-apiserver after a
// release: what each target runs and recorded, checked against a golden
// with times masked; a target whose Deployment is missing is said and
// fails the run; and with an account that may not read Deployments, each
// target says it was forbidden.
func TestStatus(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	e := testenv.New(t)
	step := stepper(t)
	api := startKube(ctx, e, step)
	objs := renderMapping(t, relMapping)
	applyPipeline(ctx, t, step, api, yamlOf(t, objs), pipelineN, "staging", "prod")
	step("create target deployments", func() error {
		for _, d := range []string{
			targetDeployment("staging", "api", corev1.Container{Name: "api", Image: relRegistry + "api:0.9"}),
			targetDeployment("prod", "api", corev1.Container{Name: "api", Image: relRegistry + "api:0.9"}),
			targetDeployment("prod", "worker",
				corev1.Container{Name: "worker", Image: relRegistry + "worker:0.9"},
				corev1.Container{Name: "batch", Image: relRegistry + "worker-batch:0.9"}),
		} {
			if _, err := api.Kubectl(ctx, d, "apply", "-f", "-"); err != nil {
				return err
			}
		}
		return nil
	})
	r := newReleaseRun(ctx, t, api, objs)
	r.run(r.push("api", "v1.0.0", "a1"))
	r.run(r.push("worker-batch", "v1.0.0", "f1"))

	bin, err := argodeployBinary()
	if err != nil {
		t.Fatal(err)
	}
	status := func(kubeconfig string) (string, int) {
		cmd := exec.CommandContext(ctx, bin, "status", "-f", relMapping, "--kubeconfig", kubeconfig)
		out, err := cmd.CombinedOutput()
		code := 0
		if x, ok := err.(*exec.ExitError); ok {
			code = x.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	out, code := status(api.Kubeconfig)
	t.Logf("argodeploy status:\n%s", out)
	// web's Deployments were never created: two targets not read, exit 1.
	if code != 1 {
		t.Errorf("status: exit %d, want 1 (web's Deployments are missing)", code)
	}
	masked := regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`).ReplaceAllString(out, "TIME")
	const golden = "../../testdata/e2e/status.golden"
	if *updateStatus {
		if err := os.WriteFile(golden, []byte(masked), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if masked != string(want) {
		t.Errorf("status differs from %s (go test -tags e2e -run TestStatus ./pkg/testenv/ -update-status):\n got:\n%s\nwant:\n%s", golden, masked, want)
	}

	// The Sensor's account may create Workflows, not read Deployments.
	kc, err := api.ServiceAccountKubeconfig(ctx, pipelineN, "rel-sensor")
	if err != nil {
		t.Fatal(err)
	}
	out, code = status(kc)
	if code != 1 || strings.Count(out, "is forbidden") < 6 || !strings.Contains(out, "dead letters: could not list ConfigMaps in "+pipelineN) {
		t.Errorf("status as rel-sensor: exit %d\n%s", code, out)
	}
}
