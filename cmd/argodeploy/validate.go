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
}

func newValidateCommand(s streams) *cobra.Command {
	var format string
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
			return runValidate(cmd.Context(), args, format, s)
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "text", "report format: text or json")
	return cmd
}

// problem is one finding, placed in its source.
type problem struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column,omitempty"`
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Check   string `json:"check"`
	Message string `json:"message"`
}

func (p problem) String() string {
	at := fmt.Sprintf("%s:%d", p.File, p.Line)
	if p.Column > 0 {
		at += fmt.Sprintf(":%d", p.Column)
	}
	return fmt.Sprintf("%s: %s/%s: %s: %s", at, p.Kind, p.Name, p.Check, p.Message)
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

func runValidate(ctx context.Context, paths []string, format string, s streams) error {
	if format != "text" && format != "json" {
		return &exitError{code: exitUsage, err: fmt.Errorf("--output must be text or json, not %q", format)}
	}
	docs, err := manifest.Read(paths, s.in)
	if err != nil {
		return err
	}
	rep := validateDocs(ctx, docs)
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
	if len(rep.Problems) > 0 {
		return &exitError{code: exitFailure, err: fmt.Errorf("%d problems found", len(rep.Problems))}
	}
	return nil
}

// validateDocs runs every check over docs and places each finding.
func validateDocs(ctx context.Context, docs []manifest.Doc) report {
	objs := make([]runtime.Object, len(docs))
	where := map[string]manifest.Doc{}
	files := map[string]bool{}
	for i, d := range docs {
		objs[i] = d.Object
		where[objectKey(d.Object.GetKind(), d.Object.GetNamespace(), d.Object.GetName())] = d
		files[d.File] = true
	}
	results := check.All(ctx, objs)

	rep := report{Resources: len(docs), Files: len(files), Problems: []problem{}}
	invalid := map[string]bool{}
	for _, r := range results {
		if r.Err == nil {
			continue
		}
		key := objectKey(r.Kind, r.Namespace, r.Name)
		invalid[key] = true
		d := where[key]
		for _, msg := range strings.Split(r.Err.Error(), "\n") {
			line, col := position(d, msg)
			rep.Problems = append(rep.Problems, problem{d.File, line, col, r.Kind, r.Name, r.Validator, msg})
		}
	}
	sort.SliceStable(rep.Problems, func(i, j int) bool { return rep.Problems[i].String() < rep.Problems[j].String() })
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

// unknownField finds the field path in apimachinery's strict decoding errors.
var unknownField = regexp.MustCompile(`unknown field "([^"]+)"`)

// position is the line and column of the field a message names, or the
// line of the object's document.
func position(d manifest.Doc, msg string) (line, column int) {
	if m := unknownField.FindStringSubmatch(msg); m != nil {
		return d.Position(m[1])
	}
	return d.Line, 0
}

func objectKey(kind, namespace, name string) string { return kind + "/" + namespace + "/" + name }
