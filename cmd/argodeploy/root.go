package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// exitError carries the process exit code of a failed command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// Exit codes: 1 for bad input or a failed check, 2 for bad usage.
const (
	exitFailure = 1
	exitUsage   = 2
)

// streams are the standard streams a command reads and writes.
type streams struct {
	in       io.Reader
	out, err io.Writer
}

func newRootCommand(s streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "argodeploy",
		Short: "Generate and check an event-driven redeploy pipeline for Argo Events and Argo Workflows",
		Long: `argodeploy turns one service-mapping file (which image deploys to which
Deployment, and how) into every manifest of an event-driven redeploy pipeline:

  Artifact Registry push → Pub/Sub topic → Argo Events EventSource → EventBus
  → Sensor → Argo Workflows WorkflowTemplate → Deployment rollout

A push rolls the mapped Deployment within seconds, without polling.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(s.in)
	root.SetOut(s.out)
	root.SetErr(s.err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitError{code: exitUsage, err: err}
	})
	root.AddCommand(newInitCommand(s), newGenerateCommand(s), newValidateCommand(s), newSimulateCommand(s), newVersionCommand(s), newSchemaCommand(s), newGraphCommand(s), newRolloutCommand(s), newRouteCommand(s), newReconcileCommand(s))
	return root
}

// execute runs the CLI and returns the process exit code; it alone decides
// how a failure is reported.
func execute(args []string, in io.Reader, out, errOut io.Writer) int {
	root := newRootCommand(streams{in: in, out: out, err: errOut})
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	if err == nil {
		return 0
	}
	fmt.Fprintf(errOut, "Error: %v\n", err)
	var exit *exitError
	if errors.As(err, &exit) {
		return exit.code
	}
	return exitFailure
}
