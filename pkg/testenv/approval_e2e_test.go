//go:build e2e

package testenv_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"

	"github.com/argodeploy/argodeploy/pkg/notify"
	"github.com/argodeploy/argodeploy/pkg/render"
	"github.com/argodeploy/argodeploy/pkg/rollout"
	"github.com/argodeploy/argodeploy/pkg/testenv"
)

const apprMapping = "../../testdata/e2e/approvals.yaml"

// TestApprovals runs a target that waits for approval on the real Argo
// Workflows controller (the step pods played as in TestWorkflowController):
// a push rolls staging at once while prod's approve step stays suspended
// and status lists it; argodeploy approve lets the controller run prod's
// rollout step; of two pushes waiting, approve takes the newer and rejects
// the older, whose Workflow fails; reject stops a push, and prod keeps
// what it runs. Approvals and rejections are made with the Role
// appr-approver that generate writes, bound to a user of the test. Each
// step notifies a webhook the test serves (JSON, with how to approve a
// waiting release), and a receiver that answers 500 fails no rollout.
func TestApprovals(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	e := testenv.New(t)
	step := stepper(t)
	api := startKube(ctx, e, step)
	step("start workflow-controller", func() error {
		_, err := e.StartWorkflowController(ctx, api, testenv.WithRequeueTime(time.Second))
		return err
	})
	applyPipeline(ctx, t, step, api, generateWith(t, apprMapping), pipelineN, "staging", "prod")
	createDeployments(ctx, step, api,
		targetDeployment("staging", "web", corev1.Container{Name: "web", Image: wfRegistry + "web:0.9"}),
		targetDeployment("prod", "web", corev1.Container{Name: "web", Image: wfRegistry + "web:0.9"}))
	w := newWorkflowRun(ctx, t, api, apprMapping, pipelineN, "appr")

	// The receivers: one that records what it gets, one that always
	// answers 500. The played step pods run on this host, so they reach
	// them on loopback; their URLs are in the Secret the mapping names.
	var (
		mu   sync.Mutex
		got  []notify.Notification
		hits int
	)
	hook := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var n notify.Notification
		if err := json.NewDecoder(r.Body).Decode(&n); err != nil {
			t.Errorf("the hook got a body that is not a notification: %v", err)
		}
		mu.Lock()
		got = append(got, n)
		mu.Unlock()
	}))
	defer hook.Close()
	broken := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
		rw.WriteHeader(http.StatusInternalServerError)
	}))
	defer broken.Close()
	step("create Secret appr-hooks", func() error {
		_, err := api.Kubectl(ctx, "", "create", "secret", "generic", "appr-hooks", "-n", pipelineN,
			"--from-literal=hook="+hook.URL+"/deploys", "--from-literal=broken="+broken.URL)
		return err
	})

	// An approver: a ServiceAccount bound to the generated Role alone.
	var approverKC string
	step("bind appr-approver", func() (err error) {
		if _, err = api.Kubectl(ctx, "", "create", "serviceaccount", "-n", pipelineN, "release-manager"); err != nil {
			return err
		}
		if _, err = api.Kubectl(ctx, "", "create", "rolebinding", "-n", pipelineN, "release-managers", "--role", render.ApproverRole("appr"), "--serviceaccount", pipelineN+":release-manager"); err != nil {
			return err
		}
		approverKC, err = api.ServiceAccountKubeconfig(ctx, pipelineN, "release-manager")
		return err
	})
	// What the commands print is kept for the golden transcript
	// (approvals.golden).
	tr := &transcript{ctx: ctx, t: t, mapping: apprMapping}
	cli := tr.run
	// waitApproval waits until Workflow p's approve step for web-prod is
	// suspended.
	waitApproval := func(p *wfPush) {
		t.Helper()
		w.poll("the approve step of "+p.Name, time.Minute, func() string {
			wf := w.get(p.Name)
			for _, n := range wf.Status.Nodes {
				if n.TemplateName == render.ApproveTemplate && n.Type == wfv1.NodeTypeSuspend && n.Phase == wfv1.NodePhase(wfv1.NodeRunning) {
					return ""
				}
			}
			return "nodes:\n" + nodeSummary(wf)
		})
	}
	release := func(tag, pair string) *wfPush {
		t.Helper()
		p := w.create("web", tag, pair)
		rr := w.runPod(p, w.waitPod(p, render.RouteTemplate, 0))
		var routes []rollout.Route
		if err := json.Unmarshal([]byte(rr.stdout), &routes); rr.exit != 0 || err != nil || len(routes) != 2 || routes[0].Approval || !routes[1].Approval {
			t.Fatalf("route step of %s: exit %d, stdout %q, want staging then prod with approval", p.Name, rr.exit, rr.stdout)
		}
		if run := w.runPod(p, w.waitPod(p, render.RolloutTemplate, 0)); run.exit != 0 || !strings.Contains(run.log, "web-staging") {
			t.Fatalf("staging's rollout step of %s: exit %d", p.Name, run.exit)
		}
		waitApproval(p)
		return p
	}
	image := func(ns string) string {
		return deploymentAs(ctx, t, api, ns, "web").Spec.Template.Spec.Containers[0].Image
	}

	// One push: staging rolls, prod waits, and nothing else runs.
	p1 := release("v1.0.0", "a1")
	if got := image("staging"); got != p1.digest {
		t.Errorf("staging runs %s, want %s", got, p1.digest)
	}
	for _, n := range w.get(p1.Name).Status.Nodes {
		if n.TemplateName == render.RolloutTemplate && inputValue(n.Inputs, render.InputTarget) == "web-prod" {
			t.Errorf("Workflow %s has a rollout node for web-prod while it waits for approval: %s %s", p1.Name, n.Name, n.Phase)
		}
	}
	if out, code := cli(api.Kubeconfig, "status"); code != 0 || !strings.Contains(out, "Waiting for approval: 1") || !strings.Contains(out, p1.Name) {
		t.Errorf("status while prod waits: exit %d\n%s", code, out)
	}
	if image("prod") == p1.digest {
		t.Fatal("prod rolled before its approval")
	}

	// approve, as the approver: the controller runs prod's rollout step.
	if out, code := cli(approverKC, "approve", "web-prod"); code != 0 || !strings.Contains(out, "approved") {
		t.Fatalf("approve: exit %d\n%s", code, out)
	}
	if run := w.runPod(p1, w.waitPod(p1, render.RolloutTemplate, 1)); run.exit != 0 {
		t.Fatalf("prod's rollout step of %s: exit %d", p1.Name, run.exit)
	}
	w.waitPhase(p1.Name, wfv1.WorkflowSucceeded, time.Minute)
	if got := image("prod"); got != p1.digest {
		t.Errorf("after the approval prod runs %s, want %s", got, p1.digest)
	}
	// The hook heard of each step of p1, in order, with what it needs;
	// the broken receiver was tried and failed nothing.
	mu.Lock()
	var heard []string
	for _, n := range got {
		heard = append(heard, n.Target+" "+n.Outcome)
		if n.Workflow != p1.Name || n.Digest != p1.digest || n.Tag != p1.tag || n.Service != "web" {
			t.Errorf("notification %+v: not of %s", n, p1.Name)
		}
		switch {
		case n.Outcome == "waiting" && !strings.Contains(n.Approve, "argodeploy approve web-prod --workflow "+p1.Name):
			t.Errorf("waiting notification says to approve with %q", n.Approve)
		case n.Outcome == "rolled" && (n.PreviousImage != wfRegistry+"web:0.9" || n.FinishedAt == "" || n.Namespace == ""):
			t.Errorf("rolled notification %+v: previous image, times or place missing", n)
		}
	}
	if want := "web-prod waiting, web-staging rolled, web-prod rolled"; strings.Join(heard, ", ") != want {
		t.Errorf("the hook heard %q, want %q", strings.Join(heard, ", "), want)
	}
	if hits < 3*3 {
		t.Errorf("the broken receiver was tried %d times, want 3 attempts for each of 3 notifications", hits)
	}
	got = nil
	mu.Unlock()
	if out, code := cli(approverKC, "approve", "web-prod"); code != 1 || !strings.Contains(out, "no release waits") {
		t.Errorf("approve with nothing waiting: exit %d\n%s", code, out)
	}

	// Two pushes wait: approve takes the newer, rejects the older.
	p2, p3 := release("v1.1.0", "b2"), release("v1.2.0", "c3")
	out, code := cli(approverKC, "approve", "web-prod")
	if code != 0 || !strings.Contains(out, p3.Name+": approved") || !strings.Contains(out, p2.Name+": rejected") {
		t.Fatalf("approve with two waiting: exit %d\n%s", code, out)
	}
	w.waitPhase(p2.Name, wfv1.WorkflowFailed, time.Minute)
	if run := w.runPod(p3, w.waitPod(p3, render.RolloutTemplate, 1)); run.exit != 0 {
		t.Fatalf("prod's rollout step of %s: exit %d", p3.Name, run.exit)
	}
	w.waitPhase(p3.Name, wfv1.WorkflowSucceeded, time.Minute)
	if got := image("prod"); got != p3.digest {
		t.Errorf("prod runs %s, want the approved %s", got, p3.digest)
	}
	for _, n := range w.get(p2.Name).Status.Nodes {
		if n.TemplateName == render.RolloutTemplate && inputValue(n.Inputs, render.InputTarget) == "web-prod" {
			t.Errorf("the superseded %s has a rollout node for web-prod: %s %s", p2.Name, n.Name, n.Phase)
		}
	}

	// reject: the push never reaches prod; its Workflow fails.
	p4 := release("v1.3.0", "d4")
	if out, code := cli(approverKC, "reject", "web-prod", "--workflow", p4.Name); code != 0 || !strings.Contains(out, "rejected") {
		t.Fatalf("reject: exit %d\n%s", code, out)
	}
	wf := w.waitPhase(p4.Name, wfv1.WorkflowFailed, time.Minute)
	t.Logf("rejected %s: %s", wf.Name, wf.Status.Message)
	if got := image("prod"); got != p3.digest {
		t.Errorf("after the rejection prod runs %s, want %s", got, p3.digest)
	}

	// rollback --previous, run by the controller: the route step sends it
	// to web-prod alone, without approval, and prod returns to p1.
	out, code = cli(api.Kubeconfig, "rollback", "web-prod", "--previous")
	if code != 0 || !strings.Contains(out, "rolls web-prod back to v1.0.0") {
		t.Fatalf("rollback: exit %d\n%s", code, out)
	}
	rb := &wfPush{Name: strings.TrimPrefix(strings.Fields(out)[1], pipelineN+"/"), service: "web", digest: p1.digest, tag: p1.tag}
	rr := w.runPod(rb, w.waitPod(rb, render.RouteTemplate, 0))
	var routes []rollout.Route
	if err := json.Unmarshal([]byte(rr.stdout), &routes); rr.exit != 0 || err != nil || len(routes) != 1 || routes[0].Target != "web-prod" || routes[0].Approval {
		t.Fatalf("route step of the rollback %s: exit %d, stdout %q, want web-prod alone, no approval", rb.Name, rr.exit, rr.stdout)
	}
	if run := w.runPod(rb, w.waitPod(rb, render.RolloutTemplate, 0)); run.exit != 0 {
		t.Fatalf("rollback step of %s: exit %d", rb.Name, run.exit)
	}
	w.waitPhase(rb.Name, wfv1.WorkflowSucceeded, time.Minute)
	if got := image("prod"); got != p1.digest {
		t.Errorf("after the rollback prod runs %s, want %s", got, p1.digest)
	}

	// history reads those Workflows as the controller left them.
	out, code = cli(api.Kubeconfig, "history", "web-prod")
	t.Logf("argodeploy history web-prod:\n%s", out)
	if code != 0 {
		t.Errorf("history: exit %d", code)
	}
	for _, want := range []string{rb.Name + "  rollback", p3.Name + "  event", p1.Name + "  event", "Succeeded"} {
		if !strings.Contains(out, want) {
			t.Errorf("history lacks %q", want)
		}
	}

	// The Sensor's account may not approve.
	kc, err := api.ServiceAccountKubeconfig(ctx, pipelineN, "appr-sensor")
	if err != nil {
		t.Fatal(err)
	}
	if out, code := cli(kc, "approve", "web-prod"); code != 1 || !strings.Contains(out, "forbidden") {
		t.Errorf("approve as appr-sensor: exit %d\n%s", code, out)
	}

	names := map[string]string{}
	for i, p := range []*wfPush{p1, p2, p3, p4, rb} {
		names[p.Name] = fmt.Sprintf("WORKFLOW-%d", i+1)
	}
	goldenFile(t, "../../testdata/e2e/approvals.golden", tr.masked(names), *updateGolden)
}

// transcript is what a test's argodeploy commands printed, for a golden
// file: each command as typed (less -f and --kubeconfig), its output and
// its exit code.
type transcript struct {
	strings.Builder
	ctx     context.Context
	t       *testing.T
	mapping string
}

// run runs argodeploy ARGS -f MAPPING --kubeconfig KUBECONFIG, records it,
// and returns what it printed and its exit code.
func (tr *transcript) run(kubeconfig string, args ...string) (string, int) {
	tr.t.Helper()
	out, code := runArgodeploy(tr.ctx, tr.t, append(args, "-f", tr.mapping, "--kubeconfig", kubeconfig)...)
	fmt.Fprintf(tr, "$ argodeploy %s\n%s[exit %d]\n\n", strings.Join(args, " "), out, code)
	return out, code
}

// masked is the transcript with each generated name replaced by its
// label, times and durations masked, and runs of spaces (table columns,
// whose widths the masks change) made two.
func (tr *transcript) masked(names map[string]string) string {
	text := tr.String()
	for name, label := range names {
		text = strings.ReplaceAll(text, name, label)
	}
	text = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`).ReplaceAllString(text, "TIME")
	text = regexp.MustCompile(`\b(\d+m)?\d+s\b`).ReplaceAllString(text, "DURATION")
	return regexp.MustCompile(` {2,}`).ReplaceAllString(text, "  ")
}

// goldenFile compares got with the golden file, or rewrites it with
// update.
func goldenFile(t *testing.T, file, got string, update bool) {
	t.Helper()
	if update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -tags e2e -run %s ./pkg/testenv/ -update-golden, then review the diff):\n got:\n%s\nwant:\n%s", file, t.Name(), got, want)
	}
}

// inputValue is the value of a node's input parameter, or "".
func inputValue(in *wfv1.Inputs, name string) string {
	if in == nil {
		return ""
	}
	for _, p := range in.Parameters {
		if p.Name == name && p.Value != nil {
			return p.Value.String()
		}
	}
	return ""
}
