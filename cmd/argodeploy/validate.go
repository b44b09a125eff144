package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/argodeploy/argodeploy/pkg/check"
	"github.com/argodeploy/argodeploy/pkg/manifest"
)

// knownKinds are the kinds a pipeline is made of; other kinds are skipped.
var knownKinds = map[string]bool{
	"EventSource": true, "EventBus": true, "Sensor": true, "WorkflowTemplate": true, "Workflow": true,
	"ConfigMap": true, "ServiceAccount": true, "Role": true, "RoleBinding": true,
	"ClusterRole": true, "ClusterRoleBinding": true, "Secret": true,
}

func newValidateCommand(s streams) *cobra.Command {
	var format string
	var allowExternal bool
	cmd := &cobra.Command{
		Use:   "validate PATH...",
		Short: "Check pipeline manifests with the upstream Argo validators and cross-resource checks",
		Long: `Check manifests (files, directories searched for .yaml, .yml and .json, or -
for stdin) the way a cluster cannot: the Argo CRDs accept a misspelled Sensor
field, an unanchored filter or a trigger whose WorkflowTemplate does not
exist, and the pipeline then never fires.

Each object is decoded strictly into its upstream type (unknown fields are
errors), run through the upstream validators (ValidateSensor, ValidateEventBus,
the Pub/Sub source's validation, ValidateWorkflowTemplate/ValidateWorkflow),
and checked against the other objects: dependencies name an existing
EventSource and event, triggers reference an existing WorkflowTemplate with
declared parameters, data filters compile and are anchored.

Exit status: 0 all valid, 1 a problem was found, 2 bad usage.`,
		Example: `  # Check what generate writes, before applying it
  argodeploy generate -f mapping.yaml | argodeploy validate -

  # Check a directory of manifests, as a pre-commit hook does
  argodeploy validate deploy/pipeline/

  # A machine-readable report for CI
  argodeploy validate -o json deploy/pipeline/`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return &exitError{code: exitUsage, err: errors.New("give at least one file, directory or -")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runValidate(cmd.Context(), args, format, allowExternal, s)
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "text", "report format: text or json")
	cmd.Flags().BoolVar(&allowExternal, "allow-external", false, "accept ServiceAccounts and ConfigMaps that are referenced but not among the inputs (they must exist in the cluster)")
	return cmd
}

// problem is one finding, placed in its source. A note (Severity "note")
// leaves its object valid.
type problem struct {
	File      string `json:"file"`
	Line      int    `json:"line"`
	Column    int    `json:"column"`
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Field     string `json:"field,omitempty"`
	Message   string `json:"message"`
	Validator string `json:"validator"`
	Severity  string `json:"severity"`
}

const (
	severityError = "error"
	severityNote  = "note"
)

// String is the problem as one line: file:line:col: Kind/name: field: message [validator].
func (p problem) String() string {
	field := ""
	if p.Field != "" {
		field = p.Field + ": "
	}
	if p.Severity == severityNote {
		field = "note: " + field
	}
	return fmt.Sprintf("%s:%d:%d: %s/%s: %s%s [%s]", p.File, p.Line, p.Column, p.Kind, p.Name, field, p.Message, p.Validator)
}

// report is the outcome of one validate run.
type report struct {
	Resources int       `json:"resources"`
	Files     int       `json:"files"`
	Valid     int       `json:"valid"`
	Invalid   int       `json:"invalid"`
	Skipped   int       `json:"skipped"`
	Problems  []problem `json:"problems"`
}

func runValidate(ctx context.Context, paths []string, format string, allowExternal bool, s streams) error {
	if format != "text" && format != "json" {
		return &exitError{code: exitUsage, err: fmt.Errorf("--output must be text or json, not %q", format)}
	}
	docs, err := manifest.Read(paths, s.in)
	if err != nil {
		return err
	}
	rep := validateDocs(ctx, docs, check.AccessOptions{External: allowExternal})
	if format == "json" {
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		for _, p := range rep.Problems {
			fmt.Fprintln(s.out, p)
		}
		fmt.Fprintf(s.out, "Summary: %d resources in %d files - valid %d, invalid %d, skipped %d\n",
			rep.Resources, rep.Files, rep.Valid, rep.Invalid, rep.Skipped)
	}
	if rep.Invalid > 0 {
		return &exitError{code: exitFailure, err: fmt.Errorf("%d of %d resources invalid", rep.Invalid, rep.Resources)}
	}
	return nil
}

// validateDocs runs every check over docs and places each finding.
func validateDocs(ctx context.Context, docs []manifest.Doc, opts check.AccessOptions) report {
	objs := make([]runtime.Object, len(docs))
	where := map[string]manifest.Doc{}
	files := map[string]bool{}
	for i, d := range docs {
		objs[i] = d.Object
		where[objectKey(d.Object.GetKind(), d.Object.GetNamespace(), d.Object.GetName())] = d
		files[d.File] = true
	}
	rep := report{Resources: len(docs), Files: len(files), Problems: []problem{}}
	invalid := map[string]bool{}
	for _, r := range check.All(ctx, objs, opts) {
		key := objectKey(r.Kind, r.Namespace, r.Name)
		d := where[key]
		add := func(err error, severity string) {
			for _, f := range findings(err) {
				line, col := d.Position(f.field)
				if f.field == "" {
					line, col = d.Line, 1
				}
				rep.Problems = append(rep.Problems, problem{d.File, line, col, r.Kind, r.Name, f.field, f.message, r.Validator, severity})
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
		return []finding{{fe.Path, fe.Err.Error()}}
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
