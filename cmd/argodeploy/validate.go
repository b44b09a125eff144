package main

import (
	"context"
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
	return &cobra.Command{
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
  argodeploy validate deploy/pipeline/`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return &exitError{code: exitUsage, err: errors.New("give at least one file, directory or -")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runValidate(cmd.Context(), args, s)
		},
	}
}

func runValidate(ctx context.Context, paths []string, s streams) error {
	docs, err := manifest.Read(paths, s.in)
	if err != nil {
		return err
	}
	objs := make([]runtime.Object, len(docs))
	where := map[string]manifest.Doc{}
	files := map[string]bool{}
	for i, d := range docs {
		objs[i] = d.Object
		where[objectKey(d.Object.GetKind(), d.Object.GetNamespace(), d.Object.GetName())] = d
		files[d.File] = true
	}
	if ctx == nil {
		ctx = context.Background()
	}
	results := check.Upstream(ctx, objs)
	results = append(results, check.Local(objs)...)
	results = append(results, check.CrossResource(objs)...)

	invalid := map[string]bool{}
	var problems []string
	for _, r := range results {
		if r.Err == nil {
			continue
		}
		key := objectKey(r.Kind, r.Namespace, r.Name)
		invalid[key] = true
		d := where[key]
		for _, msg := range strings.Split(r.Err.Error(), "\n") {
			problems = append(problems, fmt.Sprintf("%s: %s/%s: %s: %s", position(d, msg), r.Kind, r.Name, r.Validator, msg))
		}
	}
	sort.Strings(problems)
	for _, p := range problems {
		fmt.Fprintln(s.out, p)
	}
	valid, skipped := 0, 0
	for _, d := range docs {
		switch key := objectKey(d.Object.GetKind(), d.Object.GetNamespace(), d.Object.GetName()); {
		case invalid[key]:
		case knownKinds[d.Object.GetKind()]:
			valid++
		default:
			skipped++
		}
	}
	fmt.Fprintf(s.out, "Summary: %d resources in %d files - valid %d, invalid %d, skipped %d\n",
		len(docs), len(files), valid, len(docs)-valid-skipped, skipped)
	if len(problems) > 0 {
		return &exitError{code: exitFailure, err: fmt.Errorf("%d problems found", len(problems))}
	}
	return nil
}

// unknownField finds the field path in apimachinery's strict decoding errors.
var unknownField = regexp.MustCompile(`unknown field "([^"]+)"`)

// position is FILE:LINE:COLUMN of the field a message names, or FILE:LINE
// of the object's document.
func position(d manifest.Doc, msg string) string {
	if m := unknownField.FindStringSubmatch(msg); m != nil {
		line, col := d.Position(m[1])
		return fmt.Sprintf("%s:%d:%d", d.File, line, col)
	}
	return fmt.Sprintf("%s:%d", d.File, d.Line)
}

func objectKey(kind, namespace, name string) string { return kind + "/" + namespace + "/" + name }
