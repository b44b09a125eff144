package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/argodeploy/argodeploy/pkg/render"
	"github.com/argodeploy/argodeploy/pkg/simulate"
)

// TestSimulateExamples replays testdata/simulate/EXAMPLE.jsonl (tagged
// pushes, prefix-sharing images, untagged pushes, deletes, unmapped
// images, one digest under two tags, a hostile tag, a Pub/Sub envelope)
// through each example's pipeline; the report is pinned in EXAMPLE.out,
// and --exact (Argo Events' own code deciding) reports the same.
func TestSimulateExamples(t *testing.T) {
	for _, example := range []string{"single-service", "multi-namespace", "multi-cluster"} {
		t.Run(example, func(t *testing.T) {
			messages := "testdata/simulate/" + example + ".jsonl"
			stdout, stderr, code := run(t, "", "simulate", "-f", "examples/"+example+".yaml", messages)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			golden(t, "testdata/simulate/"+example+".out", stdout)
			exact, stderr, code := run(t, "", "simulate", "--exact", "-f", "examples/"+example+".yaml", messages)
			if code != 0 || exact != stdout {
				t.Errorf("--exact: exit %d: %s\nreports\n%s\nwhere the default reports\n%s", code, stderr, exact, stdout)
			}

			// The JSON report says the same, and the Workflows it names are
			// exactly the fired lines of the text.
			_, outcomes := simulateJSON(t, "", "examples/"+example+".yaml", messages)
			fired := 0
			for _, o := range outcomes {
				for _, f := range o.Fired {
					if f.Workflow == nil || f.Workflow.Steps != nil || f.Workflow.Route != nil || f.Name != "release" || len(f.Workflow.Arguments) != 4 || f.Workflow.Arguments[render.ParamRollback] != "" {
						t.Errorf("message %s: trigger %s: workflow %+v", o.Message, f.Name, f.Workflow)
					}
					fired++
				}
			}
			text, _, _ := run(t, "", "simulate", "-f", "examples/"+example+".yaml", messages)
			if want := strings.Count(text, "\n  fires "); fired != want || fired == 0 {
				t.Errorf("json reports %d fired triggers, text %d", fired, want)
			}
		})
	}
}

// TestListWriterMatchesEncoder: the parallel JSON writer, given items a
// few at a time, writes what json.Encoder writes, for outcomes and for odd
// lists.
func TestListWriterMatchesEncoder(t *testing.T) {
	check := func(name string, items any, write func(*bytes.Buffer) error) {
		var want, got bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetIndent("", "  ")
		if err := enc.Encode(items); err != nil {
			t.Fatal(err)
		}
		if err := write(&got); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("%s:\n got %q\nwant %q", name, got.String(), want.String())
		}
	}
	_, outcomes := simulateJSON(t, "", "examples/multi-namespace.yaml", "testdata/simulate/multi-namespace.jsonl")
	check("outcomes", outcomes, func(b *bytes.Buffer) error { return writeIndentedList(b, outcomes) })
	for _, list := range [][]any{nil, {}, {1}, {"<&>", nil, map[string]any{}, []any{}}, {map[string]any{"a": []any{1, map[string]any{"b": "\u2028"}}}}} {
		check(fmt.Sprint(list), list, func(b *bytes.Buffer) error { return writeIndentedList(b, list) })
	}
}

// TestSimulateFromManifests: replaying against generated manifests gives
// the same report as replaying against the mapping.
func TestSimulateFromManifests(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pipeline")
	if _, stderr, code := run(t, "", "generate", "-f", "examples/multi-namespace.yaml", "--output-dir", dir); code != 0 {
		t.Fatal(stderr)
	}
	const messages = "testdata/simulate/multi-namespace.jsonl"
	fromMapping, _, _ := run(t, "", "simulate", "-f", "examples/multi-namespace.yaml", messages)
	fromManifests, stderr, code := run(t, "", "simulate", "--manifests", dir, messages)
	if code != 0 || fromManifests != fromMapping {
		t.Fatalf("exit %d %s\nfrom manifests:\n%s\nfrom mapping:\n%s", code, stderr, fromManifests, fromMapping)
	}
}

func TestSimulateUsage(t *testing.T) {
	msg := `{"action":"INSERT"}`
	for _, args := range [][]string{
		{"simulate", "--message", msg},
		{"simulate", "-f", "examples/single-service.yaml", "--manifests", "testdata/examples", "--message", msg},
		{"simulate", "-f", "-"},
		{"simulate", "-f", "examples/single-service.yaml", "-o", "xml", "--message", msg},
	} {
		if _, _, code := run(t, "", args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
	if _, stderr, code := run(t, "", "simulate", "-f", "examples/single-service.yaml", "--message", `{"action":`); code != exitFailure || !strings.Contains(stderr, "--message 1") {
		t.Errorf("broken message: exit %d, stderr %q", code, stderr)
	}
}

// TestSimulateReportsInBatches: a replay longer than one batch reports
// every message, in order, each as it is reported alone, and the JSON
// report is still one indented list.
func TestSimulateReportsInBatches(t *testing.T) {
	_, alone := simulateJSON(t, "", "examples/multi-namespace.yaml", "testdata/simulate/multi-namespace.jsonl")
	lines, err := os.ReadFile(repoPath("testdata/simulate/multi-namespace.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	repeats := replayBatch/len(alone) + 2
	input := strings.Repeat(string(lines), repeats)
	stdout, outcomes := simulateJSON(t, input, "examples/multi-namespace.yaml")
	if len(outcomes) != repeats*len(alone) || len(outcomes) <= replayBatch {
		t.Fatalf("%d outcomes, want %d, more than a batch of %d", len(outcomes), repeats*len(alone), replayBatch)
	}
	for i, o := range outcomes {
		want := alone[i%len(alone)]
		want.Message = fmt.Sprint(i + 1)
		if !reflect.DeepEqual(o, want) {
			t.Fatalf("message %d:\n got %+v\nwant %+v", i+1, o, want)
		}
	}
	var reencoded bytes.Buffer
	enc := json.NewEncoder(&reencoded)
	enc.SetIndent("", "  ")
	if err := enc.Encode(outcomes); err != nil {
		t.Fatal(err)
	}
	if reencoded.String() != stdout {
		t.Error("the JSON report is not the indented list of its outcomes")
	}
	text, stderr, code := run(t, input, "simulate", "-f", "examples/multi-namespace.yaml", "--no-step")
	if code != 0 {
		t.Fatal(stderr)
	}
	if got := strings.Count(text, "\nmessage ") + 1; got != len(outcomes) || !strings.Contains(text, fmt.Sprintf("\nmessage %d: ", len(outcomes))) {
		t.Errorf("the text report has %d messages, want %d", got, len(outcomes))
	}
}

// simulateJSON runs simulate -o json --no-step on mapping with the
// messages in files (stdin when none), and returns the report and its
// outcomes.
func simulateJSON(t *testing.T, stdin, mapping string, files ...string) (string, []simulate.Outcome) {
	t.Helper()
	stdout, stderr, code := run(t, stdin, append([]string{"simulate", "-f", mapping, "-o", "json", "--no-step"}, files...)...)
	if code != 0 {
		t.Fatalf("simulate -o json: exit %d: %s", code, stderr)
	}
	var outcomes []simulate.Outcome
	if err := json.Unmarshal([]byte(stdout), &outcomes); err != nil {
		t.Fatal(err)
	}
	return stdout, outcomes
}

// writeIndentedList writes items as json.Encoder with SetIndent("", "  ")
// would: null for nil, otherwise through a listWriter, two items per run.
func writeIndentedList[T any](w io.Writer, items []T) error {
	if items == nil {
		_, err := io.WriteString(w, "null\n")
		return err
	}
	list := &listWriter[T]{w: w}
	for run := range slices.Chunk(items, 2) {
		if err := list.items(run); err != nil {
			return err
		}
	}
	return list.close()
}

// TestSimulateStdinOnce: the pipeline (a mapping or manifests) and the
// messages cannot both come from stdin, which simulate reads for both at
// once; that is a usage error, not a race.
func TestSimulateStdinOnce(t *testing.T) {
	for _, args := range [][]string{
		{"-f", "-"},
		{"-f", "-", "-"},
		{"--manifests", "-"},
		{"--manifests", "testdata/examples/single-service.yaml,-", "testdata/simulate/single-service.jsonl", "-"},
	} {
		_, stderr, code := run(t, "", append([]string{"simulate"}, args...)...)
		if code != exitUsage || !strings.Contains(stderr, "stdin cannot hold both the pipeline and the messages") {
			t.Errorf("simulate %s: exit %d: %s", strings.Join(args, " "), code, stderr)
		}
	}
}

// TestSimulateGcloudPull: what `gcloud pubsub subscriptions pull
// --format=json` prints (an array of {ackId, message}, the message with
// both camelCase and snake_case names and an orderingKey) is replayed as
// the messages it holds, with their IDs and publish times.
func TestSimulateGcloudPull(t *testing.T) {
	_, outcomes := simulateJSON(t, "", "examples/single-service.yaml", "testdata/simulate/gcloud-pull.json")
	if len(outcomes) != 2 || outcomes[0].Message != "1" || outcomes[1].Message != "2" || len(outcomes[0].Fired) != 1 || len(outcomes[1].Fired) != 1 {
		t.Fatalf("outcomes %+v", outcomes)
	}
	if got := outcomes[0].Fired[0].Workflow.Arguments["published-at"]; got != "1796119201123000000" {
		t.Errorf("published-at %q: the publishTime was not read", got)
	}
}

// TestSimulateExpect: the text report ends with a summary; --expect fails
// the run (exit 1) and names each message that does not do what it says.
func TestSimulateExpect(t *testing.T) {
	const pulled = "testdata/simulate/gcloud-pull.json"
	stdout, stderr, code := run(t, "", "simulate", "-f", "examples/single-service.yaml", "--expect", "fired", pulled)
	if code != 0 || !strings.HasSuffix(stdout, "Summary: 2 messages: 2 fired (2 Workflows), 0 fired nothing; steps: 2 skipped\n") || stderr != "" {
		t.Errorf("--expect fired: exit %d, stderr %q, stdout ends %q", code, stderr, stdout[max(0, len(stdout)-120):])
	}
	for _, tt := range []struct{ expect, why string }{
		{"rolled", "no step rolled a target"},
		{"nothing", "1 triggers fired"},
	} {
		_, stderr, code := run(t, "", "simulate", "-f", "examples/single-service.yaml", "--expect", tt.expect, pulled)
		want := "argodeploy: --expect " + tt.expect + ": message 1 (1): " + tt.why + "\n" +
			"argodeploy: --expect " + tt.expect + ": message 2 (2): " + tt.why + "\n" +
			"Error: 2 of 2 messages not as --expect " + tt.expect + " says\n"
		if code != exitFailure || stderr != want {
			t.Errorf("--expect %s: exit %d, stderr\n%s\nwant\n%s", tt.expect, code, stderr, want)
		}
	}
	for _, args := range [][]string{{"--expect", "fires"}, {"--expect", "rolled", "--no-step"}} {
		if _, stderr, code := run(t, "", append([]string{"simulate", "-f", "examples/single-service.yaml", pulled}, args...)...); code != exitUsage {
			t.Errorf("%v: exit %d, %s", args, code, stderr)
		}
	}
	if _, stderr, code := run(t, "", "simulate", "-f", "examples/single-service.yaml", "--message", `"INSERT"`); code != exitFailure || !strings.Contains(stderr, "a string is not a message: give a JSON object") {
		t.Errorf(`--message '"INSERT"': exit %d, %s`, code, stderr)
	}
}
