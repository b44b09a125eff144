package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/status"
)

func newHistoryCommand(s streams) *cobra.Command {
	var file, format string
	var limit int
	var cluster clusterFlags
	cmd := &cobra.Command{
		Use:   "history TARGET -f MAPPING",
		Short: "List a target's last rollouts: Workflow, push, outcome, attempts and duration",
		Long: `List the last rollouts of one target of a mapping, newest first: each
Workflow of the pipeline (from the Sensor, or from the reconcile loop) whose
route step sent its push to TARGET, with the push's tag and digest, how the
target's rollout step ended (Succeeded, Failed, Running), its attempts and
how long it took. Workflows garbage-collected by their TTL are gone.

It only reads: list on Workflows in the pipeline's namespace.

Exit status: 0 listed; 1 the cluster could not be read; 2 bad usage (an
unknown target among them).`,
		Example: `  # The last 10 rollouts of web-prod
  argodeploy history web-prod -f mapping.yaml -n 10

  # As JSON, from another cluster
  argodeploy history web-prod -f mapping.yaml --context prod -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := loadReadMapping(file, format, s)
			if err != nil {
				return err
			}
			if names := targetNames(m); !slices.Contains(names, args[0]) {
				return &exitError{code: exitUsage, err: fmt.Errorf("%s has no target %q; its targets: %v", file, args[0], names)}
			}
			client, err := cluster.dynamic()
			if err != nil {
				return err
			}
			rollouts, err := status.History(cmd.Context(), client, m.Spec.Namespace, m.Metadata.Name, args[0], limit)
			if err != nil {
				return fmt.Errorf("listing the Workflows of %s in %s: %w", m.Metadata.Name, m.Spec.Namespace, err)
			}
			if format == "json" {
				enc := json.NewEncoder(s.out)
				enc.SetIndent("", "  ")
				return enc.Encode(rollouts)
			}
			return writeHistory(s.out, args[0], rollouts)
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", "service-mapping file, or - for stdin (required)")
	cmd.Flags().StringVarP(&format, "output", "o", "text", "output format: text or json")
	cmd.Flags().IntVarP(&limit, "limit", "n", 20, "list at most this many rollouts (0: all)")
	cluster.add(cmd)
	return cmd
}

// targetNames are the mapping's target names, in order.
func targetNames(m *mapping.ServiceMapping) []string {
	var names []string
	for _, svc := range m.Spec.Services {
		for _, t := range svc.Targets {
			names = append(names, t.Name)
		}
	}
	return names
}

func writeHistory(w io.Writer, target string, rollouts []status.Rollout) error {
	if len(rollouts) == 0 {
		_, err := fmt.Fprintf(w, "No rollout of %s among the pipeline's Workflows.\n", target)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKFLOW\tORIGIN\tCREATED\tTAG\tPHASE\tATTEMPTS\tDURATION\tMESSAGE")
	for _, r := range rollouts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", r.Workflow, r.Origin, r.Created, dash(r.Tag), r.Phase, r.Attempts, dash(r.Duration), r.Message)
	}
	return tw.Flush()
}
