package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/argodeploy/argodeploy/pkg/manifest"
	"github.com/argodeploy/argodeploy/pkg/render"
	"github.com/argodeploy/argodeploy/pkg/simulate"
	"golang.org/x/sync/errgroup"
)

// simulateOptions are the flags of simulate.
type simulateOptions struct {
	pipelineSource
	messages []string
	noStep   bool
	state    string
	exact    bool
	format   string
	expect   string
}

func newSimulateCommand(s streams) *cobra.Command {
	opts := &simulateOptions{}
	cmd := &cobra.Command{
		Use:   "simulate (-f MAPPING | --manifests PATH) [MESSAGES...]",
		Short: "Replay Artifact Registry messages through the pipeline offline, judged as Argo Events judges them",
		Long: `Replay Pub/Sub messages through the pipeline's Sensors before applying anything.

The pipeline is what generate writes for a mapping (-f), or manifests already
generated (--manifests, files or directories). Messages come from MESSAGES
files (- for stdin; stdin when none are given) or --message: JSON values, one
or many (JSON Lines works), each an Artifact Registry notification
({"action":"INSERT","digest":"...","tag":"..."}), a Pub/Sub message with
base64 "data", or a push envelope {"message": {...}}.

For each message: the event the Pub/Sub EventSource would send, each
dependency's filters, each trigger's conditions, the trigger parameters, and
so the Workflow that would be created: or, when nothing fires, the
dependencies that came closest and the filter that said no. Filters and
parameters are judged as Argo Events' Sensor judges them (its
dependencies.Filter and ApplyResourceParameters), with each expression and
template compiled once rather than for every message; --exact runs Argo
Events' own code for every trigger that fires, as a Sensor does, three to
five times slower, with the same results.

Then each Workflow's release runs: argodeploy rollout's own code, one step per
target, with the Workflow's cache entry, against one simulated cluster that
every message of the run shares, so a sequence of pushes shows what a
cluster would do with it (a re-tag, an older push arriving late, a stage
waiting for its soak). The cluster starts with a healthy Deployment per
target whose container runs IMAGE@` + simulate.CurrentDigest + `
(set-image) or IMAGE:latest (restart), or the Deployments of --state (for
example kubectl get deployments -o yaml); a rolled Deployment is healthy at
once, and time is each message's publish time, moved on by every wait. Each
step shows the API requests it made, its outcome and why, and the image
before and after. --no-step skips the releases.

The text report ends with a summary line: messages, what fired, Workflows
and the outcome of their steps. With --expect, every message must do what it
says: fired (some trigger fires), nothing (none fires: e.g. a pull-request tag
that must not reach prod) or rolled (a trigger fires and a step rolls a
target); each message that does not is named on stderr.

Exit status: 0 replayed (whatever fired, or as --expect says), 1 an error or
a message not as --expect says, 2 bad usage.`,
		Example: `  # What does a push of web:1.4.2 do?
  argodeploy simulate -f examples/single-service.yaml --message \
    '{"action":"INSERT","digest":"us-east1-docker.pkg.dev/acme-shop-prod/containers/web@sha256:1111111111111111111111111111111111111111111111111111111111111111","tag":"us-east1-docker.pkg.dev/acme-shop-prod/containers/web:1.4.2"}'

  # Replay messages pulled from a subscription against committed manifests
  gcloud pubsub subscriptions pull SUB --format=json --limit=10 > messages.json
  argodeploy simulate --manifests deploy/pipeline/ messages.json

  # Machine-readable
  argodeploy simulate -f mapping.yaml -o json messages.jsonl

  # In CI: what gcloud pulled must fire (exit 1 names each message that does not)
  argodeploy simulate -f examples/single-service.yaml --expect fired pulled.json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSimulate(cmd.Context(), opts, args, s)
		},
	}
	opts.addFlags(cmd, "replay against")
	cmd.Flags().StringArrayVar(&opts.messages, "message", nil, "a message as JSON (repeatable)")
	cmd.Flags().BoolVar(&opts.noStep, "no-step", false, "do not run the triggered Workflows' releases")
	cmd.Flags().StringVar(&opts.state, "state", "", "YAML or JSON file of Deployments the simulated cluster starts with (kubectl get deployments -o yaml)")
	cmd.Flags().BoolVar(&opts.exact, "exact", false, "decide every trigger that fires with Argo Events' own Filter and ApplyResourceParameters (slower)")
	cmd.Flags().StringVarP(&opts.format, "output", "o", "text", "report format: text or json")
	cmd.Flags().StringVar(&opts.expect, "expect", "", "fail (exit 1) unless every message does this: fired, nothing or rolled")
	_ = cmd.RegisterFlagCompletionFunc("expect", cobra.FixedCompletions([]string{simulate.ExpectFired, simulate.ExpectNothing, simulate.ExpectRolled}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func runSimulate(ctx context.Context, opts *simulateOptions, files []string, s streams) error {
	switch {
	case opts.format != "text" && opts.format != "json":
		return &exitError{code: exitUsage, err: fmt.Errorf("--output must be text or json, not %q", opts.format)}
	case opts.expect != "" && opts.expect != simulate.ExpectFired && opts.expect != simulate.ExpectNothing && opts.expect != simulate.ExpectRolled:
		return &exitError{code: exitUsage, err: fmt.Errorf("--expect must be fired, nothing or rolled, not %q", opts.expect)}
	case opts.expect == simulate.ExpectRolled && opts.noStep:
		return &exitError{code: exitUsage, err: errors.New("--expect rolled needs the steps: drop --no-step")}
	case (opts.mapping == "-" || slices.Contains(opts.manifests, "-")) && (len(files) == 0 && len(opts.messages) == 0 || slices.Contains(files, "-")):
		return &exitError{code: exitUsage, err: errors.New("stdin cannot hold both the pipeline and the messages")}
	}
	// The messages are read while the pipeline loads (they never share
	// stdin); a pipeline that fails to load is still reported first.
	type read struct {
		msgs []simulate.Message
		err  error
	}
	messages := make(chan read, 1)
	go func() {
		msgs, err := readMessages(opts.messages, files, s.in)
		messages <- read{msgs, err}
	}()
	objs, err := opts.objects(s)
	if err != nil {
		return err
	}
	pipeline, err := simulate.NewPipeline(objs)
	if err != nil {
		return err
	}
	if opts.exact {
		pipeline = pipeline.Exact()
	}
	r := <-messages
	msgs, err := r.msgs, r.err
	if err != nil {
		return err
	}
	var cluster *simulate.Cluster
	if !opts.noStep {
		given, err := readDeployments(opts.state)
		if err != nil {
			return err
		}
		if cluster, err = pipeline.NewCluster(given); err != nil {
			return err
		}
	}
	// Messages are independent: replay them on every CPU, a batch at a
	// time, then follow the steps in message order. Without steps nothing
	// can fail once the messages are read, so each batch's report is
	// written as it is done and a long replay holds one batch at a time;
	// with steps, the report is written only once every step has run.
	buffered := bufio.NewWriterSize(s.out, 64<<10)
	var held bytes.Buffer
	var out io.Writer = buffered
	if !opts.noStep {
		out = &held
	}
	list := &listWriter[simulate.Outcome]{w: out}
	var sum simulate.Summary
	var unmet []string
	for start := 0; start < len(msgs); start += replayBatch {
		batch := msgs[start:min(start+replayBatch, len(msgs))]
		outcomes := make([]simulate.Outcome, len(batch))
		var g errgroup.Group
		g.SetLimit(goruntime.GOMAXPROCS(0))
		for i := range batch {
			g.Go(func() error {
				outcomes[i] = pipeline.Replay(batch[i])
				return nil
			})
		}
		g.Wait()
		for i, msg := range batch {
			if opts.noStep {
				continue
			}
			for j := range outcomes[i].Fired {
				w := outcomes[i].Fired[j].Workflow
				if w == nil {
					continue
				}
				if err := pipeline.Follow(ctx, cluster, w, msg.PublishTime); err != nil {
					return fmt.Errorf("message %s: %w", msg.ID, err)
				}
			}
		}
		for i, o := range outcomes {
			sum.Add(o)
			if opts.expect == "" {
				continue
			}
			if ok, why := o.Meets(opts.expect); !ok {
				unmet = append(unmet, fmt.Sprintf("message %d (%s): %s", start+i+1, cmp.Or(o.Message, "no id"), why))
			}
		}
		if opts.format == "json" {
			err = list.items(outcomes)
		} else {
			for _, o := range outcomes {
				writeOutcome(out, o)
			}
		}
		if err != nil {
			return err
		}
	}
	if opts.format == "json" {
		if err := list.close(); err != nil {
			return err
		}
	}
	if _, err := held.WriteTo(buffered); err != nil { // empty without steps
		return err
	}
	if opts.format == "text" {
		fmt.Fprintf(buffered, "Summary: %s\n", sum)
	}
	if err := buffered.Flush(); err != nil {
		return err
	}
	if len(unmet) > 0 {
		for _, u := range unmet {
			fmt.Fprintf(s.err, "argodeploy: --expect %s: %s\n", opts.expect, u)
		}
		return &exitError{code: exitFailure, err: fmt.Errorf("%d of %d messages not as --expect %s says", len(unmet), len(msgs), opts.expect)}
	}
	return nil
}

// replayBatch is how many messages simulate replays before it reports
// them.
const replayBatch = 1024

// pipelineSource is how simulate and graph are given a pipeline: a
// mapping to render, or manifests already generated.
type pipelineSource struct {
	mapping   string
	manifests []string
}

func (p *pipelineSource) addFlags(cmd *cobra.Command, what string) {
	cmd.Flags().StringVarP(&p.mapping, "filename", "f", "", "service-mapping file to render the pipeline from (- for stdin)")
	cmd.Flags().StringSliceVar(&p.manifests, "manifests", nil, "generated manifests to "+what+": files or directories")
}

// objects are the pipeline's objects: rendered from the mapping, or read
// from the manifests. Giving both or neither is a usage error.
func (p *pipelineSource) objects(s streams) ([]runtime.Object, error) {
	if (p.mapping == "") == (len(p.manifests) == 0) {
		return nil, &exitError{code: exitUsage, err: errors.New("give the pipeline as -f MAPPING or as --manifests PATH, one of them")}
	}
	if p.mapping != "" {
		m, err := loadMapping(p.mapping, s)
		if err != nil {
			return nil, err
		}
		rendered, err := render.Render(m, render.Options{})
		if err != nil {
			return nil, err
		}
		return render.Convert[runtime.Object](rendered), nil
	}
	docs, err := manifest.Read(p.manifests, s.in)
	if err != nil {
		return nil, err
	}
	objs := make([]runtime.Object, len(docs))
	for i, d := range docs {
		objs[i] = d.Object
	}
	return objs, nil
}

// readMessages reads the --message values, then the files (stdin when
// neither is given).
func readMessages(inline, files []string, stdin io.Reader) ([]simulate.Message, error) {
	var msgs []simulate.Message
	for i, m := range inline {
		found, err := simulate.ReadMessages(fmt.Sprintf("--message %d", i+1), strings.NewReader(m))
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, found...)
	}
	if len(files) == 0 && len(inline) == 0 {
		files = []string{"-"}
	}
	for _, f := range files {
		r, name := stdin, "<stdin>"
		if f != "-" {
			file, err := os.Open(f)
			if err != nil {
				return nil, err
			}
			defer file.Close()
			r, name = file, f
		}
		found, err := simulate.ReadMessages(name, r)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, found...)
	}
	for i := range msgs {
		if msgs[i].ID == "" {
			msgs[i].ID = strconv.Itoa(i + 1) // its position in the run
		}
	}
	if len(msgs) == 0 {
		return nil, errors.New("no messages given")
	}
	return msgs, nil
}

// writeOutcome prints what one message did, for people.
func writeOutcome(w io.Writer, o simulate.Outcome) {
	fmt.Fprintf(w, "message %s: %s\n", o.Message, o.Payload)
	switch {
	case o.Error != "":
		fmt.Fprintf(w, "  error: %s\n", o.Error)
	case len(o.Fired) == 0 && len(o.Rejected) == 0:
		fmt.Fprintln(w, "  nothing fires: no dependency passes any filter")
	case len(o.Fired) == 0:
		fmt.Fprintln(w, "  nothing fires; closest:")
		for _, v := range o.Rejected {
			fmt.Fprintf(w, "    %s dependency %s: filter %s says no: %s\n", v.Sensor, v.Dependency, v.Filter, v.Reason)
		}
		if o.More > 0 {
			fmt.Fprintf(w, "    and %d more as close\n", o.More)
		}
	}
	for _, t := range o.Fired {
		fmt.Fprintf(w, "  fires %s trigger %s: %s\n", t.Sensor, t.Name, t.Operation)
		wf := t.Workflow
		if wf == nil {
			fmt.Fprintf(w, "    resource: %s\n", t.Resource)
			continue
		}
		fmt.Fprintf(w, "    Workflow in %s from WorkflowTemplate %s\n", wf.Namespace, wf.Template)
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range wf.Arguments {
				if !yield(k) {
					return
				}
			}
		}) {
			fmt.Fprintf(w, "      %s=%s\n", k, wf.Arguments[k])
		}
		if r := wf.Route; r != nil {
			var targets []string
			for _, t := range r.Targets {
				targets = append(targets, t.Service+"/"+t.Target)
			}
			switch {
			case r.Error != "":
				fmt.Fprintf(w, "    route (cache %s): refused, exit %d\n      why: %s\n", r.Cache, r.Exit, r.Error)
			case len(targets) == 0:
				fmt.Fprintf(w, "    route (cache %s): no target takes the push\n", r.Cache)
			default:
				fmt.Fprintf(w, "    route (cache %s): %s\n", r.Cache, strings.Join(targets, ", "))
			}
			for _, line := range r.Log {
				fmt.Fprintf(w, "      | %s\n", line)
			}
		}
		for _, step := range wf.Steps {
			fmt.Fprintf(w, "    step of target %s/%s: %s, exit %d\n", step.Service, step.Target, step.Outcome, step.Exit)
			fmt.Fprintf(w, "      why: %s\n", step.Reason)
			for _, c := range step.Calls {
				fmt.Fprintf(w, "      > %s\n", c)
			}
			if step.Before != step.After {
				fmt.Fprintf(w, "      image %s -> %s\n", step.Before, step.After)
			} else {
				fmt.Fprintf(w, "      image %s\n", step.After)
			}
			if step.State != "" {
				fmt.Fprintf(w, "      state %s\n", step.State)
			}
			for _, line := range step.Log {
				fmt.Fprintf(w, "      | %s\n", line)
			}
		}
	}
}

// readDeployments reads the Deployments of --state: a YAML or JSON file
// of Deployments, or of a List of them as kubectl get prints.
func readDeployments(path string) ([]*appsv1.Deployment, error) {
	if path == "" {
		return nil, nil
	}
	docs, err := manifest.Read([]string{path}, nil)
	if err != nil {
		return nil, err
	}
	var out []*appsv1.Deployment
	add := func(d manifest.Doc, obj map[string]any) error {
		var dep appsv1.Deployment
		if kind, _ := obj["kind"].(string); kind != "Deployment" {
			return fmt.Errorf("%s:%d: --state holds Deployments, not a %s", d.File, d.Line, kind)
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj, &dep); err != nil {
			return fmt.Errorf("%s:%d: %v", d.File, d.Line, err)
		}
		out = append(out, &dep)
		return nil
	}
	for _, d := range docs {
		if d.Object.IsList() {
			items, _ := d.Object.Object["items"].([]any)
			for _, item := range items {
				obj, _ := item.(map[string]any)
				if err := add(d, obj); err != nil {
					return nil, err
				}
			}
			continue
		}
		if err := add(d, d.Object.Object); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// listWriter writes a JSON array indented two spaces, byte for byte what a
// json.Encoder with SetIndent("", "  ") writes for a non-nil slice, from
// items given a run at a time and encoded on every CPU.
type listWriter[T any] struct {
	w       io.Writer
	written int
}

// items encodes items on every CPU, then writes them; nothing is written
// unless all of them encode.
func (l *listWriter[T]) items(items []T) error {
	encoded := make([][]byte, len(items))
	var g2 errgroup.Group
	g2.SetLimit(goruntime.GOMAXPROCS(0))
	for i := range items {
		g2.Go(func() error {
			var err error
			encoded[i], err = json.MarshalIndent(items[i], "  ", "  ")
			return err
		})
	}
	if err := g2.Wait(); err != nil {
		return err
	}
	for _, item := range encoded {
		sep := ",\n  "
		if l.written == 0 {
			sep = "[\n  "
		}
		if _, err := io.WriteString(l.w, sep); err != nil {
			return err
		}
		if _, err := l.w.Write(item); err != nil {
			return err
		}
		l.written++
	}
	return nil
}

// close ends the array.
func (l *listWriter[T]) close() error {
	end := "\n]\n"
	if l.written == 0 {
		end = "[]\n"
	}
	_, err := io.WriteString(l.w, end)
	return err
}
