package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

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
	root.AddCommand(newInitCommand(s), newGenerateCommand(s), newValidateCommand(s), newSimulateCommand(s), newVersionCommand(s), newSchemaCommand(s), newGraphCommand(s), newRolloutCommand(s), newRouteCommand(s), newReconcileCommand(s), newStatusCommand(s), newHistoryCommand(s), newReplayCommand(s), newRollbackCommand(s), newApproveCommand(s), newRejectCommand(s))
	// argodeploy alone prints its help; an unknown command is a usage
	// error, as cobra's own check would say it, with suggestions.
	root.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
		}
		return errors.New(msg)
	}
	root.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	root.Version = buildVersion().short()
	root.SetVersionTemplate("argodeploy {{.Version}}\n")
	usageArgs(root)
	completeFlags(root)
	return root
}

// outputFormats are the values of each command's -o, for completion.
var outputFormats = map[string][]string{
	"generate": {"yaml", "json"},
	"graph":    {"mermaid", "dot"},
	"simulate": {"text", "json"},
	"validate": {"text", "json", "junit"},
	"version":  {"text", "json"},
}

// completeFlags completes -o with its command's formats, the flags that
// take a mapping or manifests with YAML and JSON files, and the directory
// flags with directories.
func completeFlags(root *cobra.Command) {
	for _, cmd := range root.Commands() {
		if formats, ok := outputFormats[cmd.Name()]; ok {
			_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(formats, cobra.ShellCompDirectiveNoFileComp))
		}
		for _, name := range []string{"filename", "mapping", "manifests"} {
			if cmd.Flags().Lookup(name) != nil {
				_ = cmd.MarkFlagFilename(name, "yaml", "yml", "json")
			}
		}
		for _, name := range []string{"output-dir", "cache-dir"} {
			if cmd.Flags().Lookup(name) != nil {
				_ = cmd.MarkFlagDirname(name)
			}
		}
	}
}

// usageArgs makes the positional-argument errors of cmd and its
// subcommands usage errors (exit 2), as flag errors are.
func usageArgs(cmd *cobra.Command) {
	if check := cmd.Args; check != nil {
		cmd.Args = func(c *cobra.Command, args []string) error {
			if err := check(c, args); err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			return nil
		}
	}
	for _, sub := range cmd.Commands() {
		usageArgs(sub)
	}
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
