package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	goruntime "runtime"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/argodeploy/argodeploy/pkg/check"
	"github.com/argodeploy/argodeploy/pkg/drift"
	"github.com/argodeploy/argodeploy/pkg/manifest"
	"github.com/argodeploy/argodeploy/pkg/render"
	"github.com/argodeploy/argodeploy/pkg/schema"
)

// knownKinds are the kinds a pipeline is made of; other kinds are skipped.
var knownKinds = map[string]bool{
	"EventSource": true, "EventBus": true, "Sensor": true, "WorkflowTemplate": true, "Workflow": true, "ClusterWorkflowTemplate": true, "CronWorkflow": true,
	"ConfigMap": true, "ServiceAccount": true, "Role": true, "RoleBinding": true,
	"ClusterRole": true, "ClusterRoleBinding": true, "Secret": true, "Namespace": true,
}

// validateOptions are the flags of validate.
type validateOptions struct {
	format             string
	allowExternal      bool
	allowUnknownFields bool
	allowEmpty         bool
	mapping            string
	maxBytes           int // 0: as recorded in the inputs, else the default
	diff               string
	verbose            bool
}

func newValidateCommand(s streams) *cobra.Command {
	opts := &validateOptions{}
	cmd := &cobra.Command{
		Use:   "validate PATH...",
		Short: "Check pipeline manifests with the upstream Argo validators and cross-resource checks",
		Long: `Check manifests (files, directories searched for .yaml, .yml and .json, or -
for stdin) the way a cluster cannot: the Argo CRDs accept a misspelled Sensor
field, an unanchored filter or a trigger whose WorkflowTemplate does not
exist, and the pipeline then never fires.

Layers, all run on every input:
  json-schema   each object against its kind's JSON Schema, derived from the
                pinned upstream schemas with their defects fixed (unknown
                fields are errors unless --allow-unknown-fields)
  decode        each object strictly into its upstream Go type
  upstream      ValidateSensor, ValidateEventBus, the Pub/Sub source's
                validation, ValidateWorkflowTemplate, ValidateWorkflow and
                ValidateCronWorkflow
  local         retry expressions compile, workflow parameters are declared,
                trigger parameters and conditions name real dependencies
  cross         dependencies name an existing EventSource and event; filter
                and parameter paths exist in a Pub/Sub (Artifact Registry)
                event; filters compile and are anchored; triggers reference
                an existing WorkflowTemplate and pass declared parameters
  access        referenced ServiceAccounts and ConfigMaps exist (Secrets are
                noted as external); each service account's Roles grant what
                its objects need and no more; the Deployment a Workflow
                restarts never comes from event data
  drift         with --mapping, PATH must be exactly what generate writes

Each problem is one line, FILE:LINE:COL: Kind/name: field.path: message
[layer]; notes (": note: ") do not fail the run.

Exit status: 0 all valid, 1 a problem was found, 2 bad usage.`,
		Example: `  # Check what generate writes, before applying it
  argodeploy generate -f mapping.yaml | argodeploy validate -

  # Check a directory of manifests, as a pre-commit hook does
  argodeploy validate deploy/pipeline/

  # Fail when the committed manifests are not what the mapping generates
  argodeploy validate --mapping mapping.yaml deploy/pipeline/

  # Reports for CI
  argodeploy validate -o json deploy/pipeline/
  argodeploy validate -o junit deploy/pipeline/ > validate-report.xml`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return &exitError{code: exitUsage, err: errors.New("give at least one file, directory or -")}
			}
			if opts.mapping != "" && (len(args) != 1 || args[0] == manifest.Stdin) {
				return &exitError{code: exitUsage, err: errors.New("--mapping compares one file or directory with what the mapping generates: give exactly one, not stdin")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runValidate(cmd.Context(), args, opts, s)
		},
	}
	cmd.Flags().StringVarP(&opts.format, "output", "o", "text", "report format: text, json or junit")
	cmd.Flags().BoolVar(&opts.allowExternal, "allow-external", false, "accept ServiceAccounts, ConfigMaps and EventSources that are referenced but not among the inputs (they must exist in the cluster): a note instead of an error")
	cmd.Flags().BoolVar(&opts.allowUnknownFields, "allow-unknown-fields", false, "ignore fields the upstream types do not have, instead of failing on them")
	cmd.Flags().BoolVar(&opts.allowEmpty, "allow-empty", false, "pass when the inputs hold no resource of the pipeline's kinds (by default that fails: nothing was validated)")
	cmd.Flags().StringVar(&opts.mapping, "mapping", "", "service-mapping file: also fail when PATH differs from what generate writes for it (unified diff)")
	cmd.Flags().IntVar(&opts.maxBytes, "max-object-bytes", 0, "with --mapping: the --max-object-bytes PATH was generated with (default: as its cache ConfigMaps record it, else 204800)")
	cmd.Flags().BoolVarP(&opts.verbose, "verbose", "v", false, "print one progress line on stderr (files, resources, elapsed), with each phase's time at the end; on a terminal it shows anyway once a run passes 2s")
	cmd.Flags().StringVar(&opts.diff, "diff", "short", "with --mapping: how drift is shown: short (diffs up to 200 lines, then one line per file), stat (one line per file) or full")
	return cmd
}

// problem is one finding, placed in its source. A note (Severity "note")
// leaves its object valid.
type problem struct {
	File      string `json:"file"`
	Line      int    `json:"line"`
	Column    int    `json:"column"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Field     string `json:"field,omitempty"`
	Message   string `json:"message"`
	Layer     string `json:"layer"`
	Validator string `json:"validator"`
	Severity  string `json:"severity"`
}

const (
	severityError = "error"
	severityNote  = "note"
)

// String is the problem as one line: file:line:col: Kind/name: field:
// message [layer], the upstream function named after the layer when an
// upstream validator or decoder found it.
func (p problem) String() string {
	field := ""
	if p.Field != "" {
		field = p.Field + ": "
	}
	if p.Severity == severityNote {
		field = "note: " + field
	}
	tag := p.Layer
	if p.Layer == check.LayerUpstream || p.Layer == check.LayerDecode {
		tag += ": " + p.Validator
	}
	return fmt.Sprintf("%s:%d:%d: %s/%s: %s%s [%s]", p.File, p.Line, p.Column, p.Kind, p.Name, field, p.Message, tag)
}

// report is the outcome of one validate run.
type report struct {
	Resources int                `json:"resources"`
	Files     int                `json:"files"`
	Valid     int                `json:"valid"`
	Invalid   int                `json:"invalid"`
	Skipped   int                `json:"skipped"`
	Problems  []problem          `json:"problems"`
	Drift     []drift.Difference `json:"drift,omitempty"`

	// resources are the resources, in input order; not the documents,
	// which --mapping lets go before it generates.
	resources []resource
}

// resource names one resource of a report.
type resource struct {
	file, kind, namespace, name string
}

func runValidate(ctx context.Context, paths []string, opts *validateOptions, s streams) error {
	if opts.format != "text" && opts.format != "json" && opts.format != "junit" {
		return &exitError{code: exitUsage, err: fmt.Errorf("--output must be text, json or junit, not %q", opts.format)}
	}
	if opts.maxBytes != 0 && (opts.maxBytes < minObjectBytes || opts.maxBytes > maxObjectBytes) {
		return &exitError{code: exitUsage, err: fmt.Errorf("--max-object-bytes must be between %d and %d", minObjectBytes, maxObjectBytes)}
	}
	if opts.diff != "short" && opts.diff != "stat" && opts.diff != "full" {
		return &exitError{code: exitUsage, err: fmt.Errorf("--diff must be short, stat or full, not %q", opts.diff)}
	}
	prog := startProgress(s.err, opts.verbose)
	defer prog.finish()
	checkOpts := check.Options{External: opts.allowExternal, AllowUnknownFields: opts.allowUnknownFields, Prepared: &check.Prepared{}}
	checks := startDocChecks(checkOpts)
	docs, err := manifest.ReadCounted(paths, s.in, &prog.counts, checks.add)
	done := checks.wait()
	if err != nil {
		return err
	}
	prog.next("checking")
	rep := validateChecked(ctx, docs, done, checkOpts)
	if opts.mapping != "" {
		// Generated after the checks, which by then hold nothing: the
		// run's peak is the larger of the two, not their sum.
		maxBytes := opts.maxBytes
		if maxBytes == 0 {
			if maxBytes, err = recordedShardBytes(docs); err != nil {
				return err
			}
		}
		prog.next("generating")
		generated, err := renderMapping(opts.mapping, maxBytes, s)
		if err != nil {
			return err
		}
		prog.next("comparing")
		if rep.Drift, err = drift.Compare(paths[0], generated); err != nil {
			return err
		}
		if opts.diff == "stat" {
			for i := range rep.Drift {
				rep.Drift[i].Diff = ""
			}
		}
	}
	switch opts.format {
	case "json":
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	case "junit":
		err = writeJUnit(s.out, rep)
	default:
		for _, p := range rep.Problems {
			fmt.Fprintln(s.out, p)
		}
		fmt.Fprintf(s.out, "Summary: %s in %s - valid %d, invalid %d, skipped %d\n",
			count(rep.Resources, "resource"), count(rep.Files, "file"), rep.Valid, rep.Invalid, rep.Skipped)
		if opts.mapping != "" {
			fmt.Fprintf(s.out, "Drift: %s from what %s generates%s\n", differ(len(rep.Drift)), opts.mapping, lineCounts(rep.Drift))
			writeDrift(s.out, rep.Drift, opts.diff)
		}
	}
	if err != nil {
		return err
	}
	switch {
	case rep.Valid+rep.Invalid == 0 && !opts.allowEmpty && len(rep.Drift) == 0:
		return &exitError{code: exitFailure, err: fmt.Errorf("nothing validated: %s, none of a pipeline's kinds (EventSource, EventBus, Sensor, WorkflowTemplate, ...); is this the mapping file rather than generated manifests? --allow-empty passes such a run", count(rep.Resources, "resource"))}
	case rep.Invalid > 0:
		return &exitError{code: exitFailure, err: fmt.Errorf("%d of %s invalid", rep.Invalid, count(rep.Resources, "resource"))}
	case len(rep.Drift) > 0:
		return &exitError{code: exitFailure, err: fmt.Errorf("%s from what %s generates; regenerate with: %s", differ(len(rep.Drift)), opts.mapping, regenerate(opts.mapping, paths[0]))}
	}
	return nil
}

// shortDiffLines is how many lines of diff --diff=short prints before it
// shows the remaining files as one line each.
const shortDiffLines = 200

// writeDrift prints the differences: their unified diffs (full), one line
// each (stat), or the diffs while they fit in shortDiffLines and one line
// for each file after that (short).
func writeDrift(w io.Writer, diffs []drift.Difference, mode string) {
	printed, stats := 0, 0
	for _, d := range diffs {
		n := strings.Count(d.Diff, "\n")
		switch {
		case mode == "full" || mode == "short" && stats == 0 && printed+n <= shortDiffLines:
			fmt.Fprint(w, d.Diff)
			printed += n
		default:
			fmt.Fprintln(w, d.Stat())
			stats++
		}
	}
	if mode == "short" && stats > 0 {
		fmt.Fprintf(w, "(%s shown as one line each, past %d lines of diff; --diff=full prints every line)\n", count(stats, "file"), shortDiffLines)
	}
}

// lineCounts is ", +A -R lines" over diffs, or nothing when there are none.
func lineCounts(diffs []drift.Difference) string {
	if len(diffs) == 0 {
		return ""
	}
	added, removed := 0, 0
	for _, d := range diffs {
		added += d.Added
		removed += d.Removed
	}
	return fmt.Sprintf(" (+%d -%d lines)", added, removed)
}

// recordedShardBytes is the --max-object-bytes the cache ConfigMaps among
// docs record (render.ShardBytesAnnotation), or the default when none does.
// ConfigMaps that record different values are an error.
func recordedShardBytes(docs []manifest.Doc) (int, error) {
	value, from := "", ""
	for _, d := range docs {
		if d.Object.GetKind() != "ConfigMap" {
			continue
		}
		v, ok := d.Object.GetAnnotations()[render.ShardBytesAnnotation]
		switch {
		case !ok || v == value:
		case value != "":
			return 0, fmt.Errorf("%s:%d: ConfigMap/%s records %s %s, but %s records %s: the inputs were generated with different --max-object-bytes",
				d.File, d.Line, d.Object.GetName(), render.ShardBytesAnnotation, v, from, value)
		default:
			value, from = v, fmt.Sprintf("%s:%d", d.File, d.Line)
		}
	}
	if value == "" {
		return render.DefaultShardBytes, nil
	}
	n, err := strconv.Atoi(value)
	if err != nil || n < minObjectBytes || n > maxObjectBytes {
		return 0, fmt.Errorf("%s: %s is %q, not a number of bytes between %d and %d", from, render.ShardBytesAnnotation, value, minObjectBytes, maxObjectBytes)
	}
	return n, nil
}

// count is "1 file" or "n files".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// differ is "1 file differs" or "n files differ".
func differ(n int) string {
	if n == 1 {
		return count(n, "file") + " differs"
	}
	return count(n, "file") + " differ"
}

// regenerate is the command that rewrites path, the one directory or file
// validate --mapping compared, from mapping.
func regenerate(mapping, path string) string {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Sprintf("argodeploy generate -f %s --output-dir %s", mapping, path)
	}
	return fmt.Sprintf("argodeploy generate -f %s > %s", mapping, path)
}

// duplicatesValidator names the check that each object is given once.
const duplicatesValidator = "argodeploy duplicates"

// namesValidator names the check that each object has a name.
const namesValidator = "argodeploy names"

// schemaValidator names the JSON Schema layer in reports.
const schemaValidator = "json-schema"

// validateDocs runs the JSON Schema layer and every check over docs and
// places each finding. A decode error of an object that fails its schema
// is left out: the schema layer already says the same, at the field.
func validateDocs(ctx context.Context, docs []manifest.Doc, opts check.Options) report {
	opts.Prepared = &check.Prepared{}
	return validateChecked(ctx, docs, checkDocs(docs, opts), opts)
}

// validateChecked is validateDocs for docs that docChecks has checked.
func validateChecked(ctx context.Context, docs []manifest.Doc, done map[*unstructured.Unstructured]checked, opts check.Options) report {
	objs := make([]runtime.Object, len(docs))
	schemaProblems := make([][]problem, len(docs))
	for i, d := range docs {
		c := done[d.Object]
		objs[i], schemaProblems[i] = c.obj, c.problems
	}
	where := map[string]manifest.Doc{}
	files := map[string]bool{}
	var twice []manifest.Doc // the second and later of one kind, namespace and name
	for _, d := range docs {
		key := objectKey(d.Object.GetKind(), d.Object.GetNamespace(), d.Object.GetName())
		if _, dup := where[key]; dup {
			twice = append(twice, d)
		} else {
			where[key] = d
		}
		files[d.File] = true
	}
	rep := report{Resources: len(docs), Files: len(files), Problems: []problem{}, resources: make([]resource, len(docs))}
	for i, d := range docs {
		o := d.Object
		rep.resources[i] = resource{d.File, o.GetKind(), o.GetNamespace(), o.GetName()}
	}
	invalid := map[string]bool{}
	for _, d := range twice {
		o := d.Object
		first := where[objectKey(o.GetKind(), o.GetNamespace(), o.GetName())]
		rep.Problems = append(rep.Problems, problem{d.File, d.Line, 1, o.GetKind(), o.GetNamespace(), o.GetName(), "",
			fmt.Sprintf("defined twice: first at %s:%d; kubectl apply would keep whichever comes last, and kustomize refuses both: keep one", first.File, first.Line),
			check.LayerCross, duplicatesValidator, severityError})
		invalid[objectKey(o.GetKind(), o.GetNamespace(), o.GetName())] = true
	}
	for _, d := range docs {
		if o := d.Object; o.GetName() == "" && !strings.HasPrefix(o.GetAPIVersion(), "kustomize.config.k8s.io/") {
			rep.Problems = append(rep.Problems, problem{d.File, d.Line, 1, o.GetKind(), o.GetNamespace(), o.GetName(), "metadata.name",
				"has no name: kubectl apply refuses it (resource name may not be empty)", check.LayerLocal, namesValidator, severityError})
			invalid[objectKey(o.GetKind(), o.GetNamespace(), o.GetName())] = true
		}
	}
	schemaFailed := map[string]bool{} // objects whose decode errors the schema layer already explains
	for _, found := range schemaProblems {
		for _, p := range found {
			rep.Problems = append(rep.Problems, p)
			invalid[objectKey(p.Kind, p.Namespace, p.Name)], schemaFailed[objectKey(p.Kind, p.Namespace, p.Name)] = true, true
		}
	}
	opts.ParseCommand = parseStep
	results := check.All(ctx, objs, opts)
	for _, r := range results {
		key := objectKey(r.Kind, r.Namespace, r.Name)
		if r.Validator == check.DecodeValidator && schemaFailed[key] {
			r.Err = nil // the schema layer says it, at the field; its notes stay
		}
		d := where[key]
		add := func(err error, severity string) {
			for _, f := range findings(err) {
				line, col := d.Position(f.field)
				if f.field == "" {
					line, col = d.Line, 1
				}
				rep.Problems = append(rep.Problems, problem{d.File, line, col, r.Kind, r.Namespace, r.Name, f.field, f.message, check.Layer(r.Validator), r.Validator, severity})
			}
		}
		if r.Err != nil {
			invalid[key] = true
			add(r.Err, severityError)
		}
		for _, note := range r.Notes {
			add(note, severityNote)
		}
	}
	sort.SliceStable(rep.Problems, func(i, j int) bool {
		a, b := rep.Problems[i], rep.Problems[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		return a.String() < b.String()
	})
	for _, d := range docs {
		switch key := objectKey(d.Object.GetKind(), d.Object.GetNamespace(), d.Object.GetName()); {
		case invalid[key]:
			rep.Invalid++
		case knownKinds[d.Object.GetKind()]:
			rep.Valid++
		default:
			rep.Skipped++
		}
	}
	return rep
}

// docChecks checks each document it is handed against its kind's JSON
// Schema and decodes it for the checks, on every CPU, while the read that
// hands them goes on (manifest.ReadCounted's each). A document that decodes
// is then cut down in place to what the rest of the run reads of it
// (keepOnly): the checks read the decoded object.
type docChecks struct {
	opts  check.Options
	queue chan manifest.Doc
	wg    sync.WaitGroup
	mu    sync.Mutex
	done  map[*unstructured.Unstructured]checked
}

// checked is what docChecks found of one document: its schema problems,
// placed, and the object the checks get.
type checked struct {
	problems []problem
	obj      runtime.Object
}

// startDocChecks starts its workers, one per CPU; wait ends them.
func startDocChecks(opts check.Options) *docChecks {
	c := &docChecks{opts: opts, queue: make(chan manifest.Doc, 1024), done: map[*unstructured.Unstructured]checked{}}
	for range goruntime.GOMAXPROCS(0) {
		c.wg.Go(func() {
			for d := range c.queue {
				found := c.check(d)
				c.mu.Lock()
				c.done[d.Object] = found
				c.mu.Unlock()
			}
		})
	}
	return c
}

// add hands d to the checks.
func (c *docChecks) add(d manifest.Doc) { c.queue <- d }

// wait returns what the checks found, by document, once every document
// handed is checked.
func (c *docChecks) wait() map[*unstructured.Unstructured]checked {
	close(c.queue)
	c.wg.Wait()
	return c.done
}

func (c *docChecks) check(d manifest.Doc) checked {
	var found checked
	o := d.Object
	problems, err := schema.Validate(o.Object, schema.Options{Relaxed: c.opts.AllowUnknownFields})
	switch {
	case errors.Is(err, schema.ErrNoSchema):
		problems = nil
	case err != nil:
		problems = []schema.Problem{{Message: err.Error()}}
	}
	for _, p := range problems {
		line, col := d.Position(p.Path)
		if p.Path == "" {
			line, col = d.Line, 1
		}
		found.problems = append(found.problems, problem{d.File, line, col, o.GetKind(), o.GetNamespace(), o.GetName(), p.Path, p.Message, check.LayerSchema, schemaValidator, severityError})
	}
	found.obj = o
	if typed, err := check.Decode(o, !c.opts.AllowUnknownFields); err == nil && typed != runtime.Object(o) {
		found.obj = typed
		o.Object = keepOnly(o)
		c.opts.Prepared.Prepare(typed)
	}
	return found
}

// checkDocs is docChecks over docs, read already.
func checkDocs(docs []manifest.Doc, opts check.Options) map[*unstructured.Unstructured]checked {
	c := startDocChecks(opts)
	for _, d := range docs {
		c.add(d)
	}
	return c.wait()
}

// keepOnly is what the run reads of o once it is decoded: its apiVersion,
// kind, namespace and name, and the shard size a ConfigMap records
// (recordedShardBytes).
func keepOnly(o *unstructured.Unstructured) map[string]any {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(o.GetAPIVersion())
	u.SetKind(o.GetKind())
	u.SetNamespace(o.GetNamespace())
	u.SetName(o.GetName())
	if v, ok := o.GetAnnotations()[render.ShardBytesAnnotation]; ok && o.GetKind() == "ConfigMap" {
		u.SetAnnotations(map[string]string{render.ShardBytesAnnotation: v})
	}
	return u.Object
}

// finding is one leaf of a check's error: a message and the field path it
// concerns, "" when it names none.
type finding struct{ field, message string }

// unknownField finds the field paths in apimachinery's strict decoding
// errors, e.g. `strict decoding error: unknown field "spec.x", unknown field "spec.y"`.
var unknownField = regexp.MustCompile(`unknown field "([^"]+)"`)

// findings flattens err (errors.Join trees, check.FieldErrors, multi-line
// and strict-decoding messages) into one finding per problem.
func findings(err error) []finding {
	if fe, ok := err.(*check.FieldError); ok {
		// One line per problem: later lines (an expression parser's caret
		// display, say) only repeat the first one's position.
		msg, _, _ := strings.Cut(fe.Err.Error(), "\n")
		return []finding{{fe.Path, msg}}
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var out []finding
		for _, e := range joined.Unwrap() {
			out = append(out, findings(e)...)
		}
		return out
	}
	var out []finding
	for _, msg := range strings.Split(err.Error(), "\n") {
		if fields := unknownField.FindAllStringSubmatch(msg, -1); fields != nil {
			for _, m := range fields {
				out = append(out, finding{m[1], "unknown field"})
			}
			continue
		}
		out = append(out, finding{"", msg})
	}
	return out
}

func objectKey(kind, namespace, name string) string { return kind + "/" + namespace + "/" + name }
