//go:build e2e

package testenv_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/argodeploy/argodeploy/pkg/render"
	"github.com/argodeploy/argodeploy/pkg/testenv"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite the goldens of testdata/e2e (status.golden, approvals.golden)")

// TestStatus runs argodeploy status against a real kube-apiserver after a
// release: what each target runs and recorded, and a dead letter, checked
// against a golden with times masked; a target whose Deployment is missing
// is said and fails the run. argodeploy replay then releases the dead
// letter's push as a Workflow of the template and deletes it. With an
// account that may not read Deployments, each target says it was
// forbidden.
func TestStatus(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	e := testenv.New(t)
	step := stepper(t)
	api := startKube(ctx, e, step)
	objs := renderMapping(t, relMapping)
	applyPipeline(ctx, t, step, api, yamlOf(t, objs), pipelineN, "staging", "prod")
	createDeployments(ctx, step, api,
		targetDeployment("staging", "api", corev1.Container{Name: "api", Image: relRegistry + "api:0.9"}),
		targetDeployment("prod", "api", corev1.Container{Name: "api", Image: relRegistry + "api:0.9"}),
		targetDeployment("prod", "worker",
			corev1.Container{Name: "worker", Image: relRegistry + "worker:0.9"},
			corev1.Container{Name: "batch", Image: relRegistry + "worker-batch:0.9"}))
	r := newReleaseRun(ctx, t, api, objs, nil)
	a1 := r.push("api", "v1.0.0", "a1")
	r.run(a1)
	r.run(r.push("worker-batch", "v1.0.0", "f1"))
	a2 := r.push("api", "v1.1.0", "a2")
	r.run(a2)

	// A push whose Workflow the Sensor could not create, recorded as its
	// dead-letter trigger records one: the registry message and the
	// publish time as the EventSource writes it.
	published := time.Date(2026, 12, 1, 9, 30, 0, 123456789, time.UTC)
	deadTag, deadDigest := relRegistry+"api:v1.1.0", relRegistry+"api@sha256:"+strings.Repeat("b2", 32)
	deadLetter := &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "rel-dead-letter-abcde", Namespace: pipelineN,
			Labels: map[string]string{render.LabelManagedBy: render.ManagerName, render.LabelPartOf: "rel", render.LabelDeadLetter: "true"}},
		Data: map[string]string{
			"message":     fmt.Sprintf(`{"action":"INSERT","digest":%q,"tag":%q}`, deadDigest, deadTag),
			"publishTime": published.String(),
		},
	}
	step("create a dead letter", func() error {
		data, err := json.Marshal(deadLetter)
		if err != nil {
			return err
		}
		_, err = api.Kubectl(ctx, string(data), "create", "-f", "-")
		return err
	})

	// What the commands print is kept for the golden transcript
	// (status.golden).
	tr := &transcript{ctx: ctx, t: t, mapping: relMapping}
	cli := tr.run

	// rollback --previous returns api-prod to a1 through a Workflow of the
	// template; a later delivery of a2 leaves it there, and api-staging,
	// which was not rolled back, on a2.
	out, code := cli(api.Kubeconfig, "rollback", "api-prod", "--previous")
	if code != 0 || !strings.Contains(out, "rolls api-prod back to v1.0.0 (sha256:"+strings.Repeat("a1", 32)+"), from v1.1.0") {
		t.Fatalf("rollback: exit %d\n%s", code, out)
	}
	list, err := api.Kubectl(ctx, "", "get", "workflows", "-n", pipelineN, "-l", render.LabelOrigin+"=rollback", "-o", "json")
	var rollbacks wfv1.WorkflowList
	if err != nil || json.Unmarshal([]byte(list), &rollbacks) != nil || len(rollbacks.Items) != 1 {
		t.Fatalf("rollback Workflows: %v\n%s", err, list)
	}
	rb := &rollbacks.Items[0]
	if args, want := argumentsOf(rb), map[string]string{render.ParamDigest: a1.digest, render.ParamTag: relRegistry + "api:v1.0.0",
		render.ParamPublishedAt: strconv.FormatInt(a2.at.UnixNano(), 10), render.ParamRollback: "api-prod"}; !maps.Equal(args, want) {
		t.Errorf("rollback Workflow %s: arguments %v, want %v", rb.Name, args, want)
	}
	rel := runRelease(ctx, t, api, r.kc, r.tmpl, rb, "")
	if rel.route.exit != 0 || len(rel.targets) != 1 || rel.targets[0].target != "api-prod" || rel.targets[0].exit != 0 {
		t.Fatalf("rollback Workflow %s: route exit %d %+v, steps %+v\n%s", rb.Name, rel.route.exit, rel.route.routes, rel.targets, rel.route.log)
	}
	t.Logf("rollback step:\n%s", rel.targets[0].log)
	r.wantImage("prod", "api", "api", a1.digest)
	r.run(a2)
	r.wantImage("prod", "api", "api", a1.digest)
	r.wantImage("staging", "api", "api", a2.digest)

	out, code = cli(api.Kubeconfig, "status")
	t.Logf("argodeploy status:\n%s", out)
	// web's Deployments were never created: two targets not read, exit 1.
	if code != 1 {
		t.Errorf("status: exit %d, want 1 (web's Deployments are missing)", code)
	}

	// replay releases the dead letter's push as the Sensor would have, and
	// deletes it.
	out, code = cli(api.Kubeconfig, "replay", deadLetter.Name)
	if code != 0 || !strings.Contains(out, "configmap "+pipelineN+"/"+deadLetter.Name+" deleted") {
		t.Fatalf("replay: exit %d\n%s", code, out)
	}
	var wfs wfv1.WorkflowList
	list, err = api.Kubectl(ctx, "", "get", "workflows", "-n", pipelineN, "-l", render.LabelOrigin+"=replay", "-o", "json")
	if err != nil || json.Unmarshal([]byte(list), &wfs) != nil || len(wfs.Items) != 1 {
		t.Fatalf("replayed Workflows: %v\n%s", err, list)
	}
	args := argumentsOf(&wfs.Items[0])
	wantArgs := map[string]string{render.ParamDigest: deadDigest, render.ParamTag: deadTag, render.ParamPublishedAt: strconv.FormatInt(published.UnixNano(), 10)}
	if !maps.Equal(args, wantArgs) || wfs.Items[0].Spec.WorkflowTemplateRef.Name != "rel-rollout" {
		t.Errorf("replayed Workflow: template %v, arguments %v, want %v", wfs.Items[0].Spec.WorkflowTemplateRef, args, wantArgs)
	}
	if _, err := api.Kubectl(ctx, "", "get", "configmap", "-n", pipelineN, deadLetter.Name); err == nil {
		t.Errorf("dead letter %s still there after replay", deadLetter.Name)
	}
	if out, code = cli(api.Kubeconfig, "replay", deadLetter.Name); code != 1 || !strings.Contains(out, "not found") {
		t.Errorf("replay of a dead letter that is gone: exit %d\n%s", code, out)
	}

	// The Sensor's account may create Workflows, not read Deployments.
	kc, err := api.ServiceAccountKubeconfig(ctx, pipelineN, "rel-sensor")
	if err != nil {
		t.Fatal(err)
	}
	out, code = cli(kc, "status")
	if code != 1 || strings.Count(out, "is forbidden") < 6 || !strings.Contains(out, "dead letters: could not list ConfigMaps in "+pipelineN) {
		t.Errorf("status as rel-sensor: exit %d\n%s", code, out)
	}
	// Nor read Workflows, Deployments or dead letters: each command says
	// what it was refused and exits 1.
	for _, args := range [][]string{
		{"history", "api-prod"},
		{"rollback", "api-prod", "--previous"},
		{"replay", "rel-dead-letter-abcde"},
	} {
		out, code := cli(kc, args...)
		if code != 1 || !strings.Contains(out, "is forbidden: User \"system:serviceaccount:"+pipelineN+":rel-sensor\"") {
			t.Errorf("%s as rel-sensor: exit %d, want 1 and forbidden\n%s", strings.Join(args, " "), code, out)
		}
	}
	goldenFile(t, "../../testdata/e2e/status.golden", tr.masked(map[string]string{rb.Name: "ROLLBACK-WORKFLOW", wfs.Items[0].Name: "REPLAY-WORKFLOW"}), *updateGolden)
}

// argumentsOf are a Workflow's arguments by name.
func argumentsOf(wf *wfv1.Workflow) map[string]string {
	args := map[string]string{}
	for _, p := range wf.Spec.Arguments.Parameters {
		args[p.Name] = p.Value.String()
	}
	return args
}

// runArgodeploy runs the argodeploy binary with args and returns what it
// printed (stdout and stderr) and its exit code.
func runArgodeploy(ctx context.Context, t *testing.T, args ...string) (string, int) {
	t.Helper()
	bin, err := argodeployBinary()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	code := 0
	if x, ok := err.(*exec.ExitError); ok {
		code = x.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}
