package main

import (
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/argodeploy/argodeploy/pkg/status"
)

func newApproveCommand(s streams) *cobra.Command {
	return newDecideCommand(s, true)
}

func newRejectCommand(s streams) *cobra.Command {
	return newDecideCommand(s, false)
}

// newDecideCommand is approve (approve true) or reject.
func newDecideCommand(s streams, approve bool) *cobra.Command {
	var file, workflow string
	var cluster clusterFlags
	verb, done, short := "approve", "approved", "Let a release waiting for a target's approval roll it"
	long := `Let a release waiting for the approval of TARGET roll it: a target with
approval: true waits (an Argo suspend step, which holds no lock) before its
rollout step, at most workflow.approvalTimeout. approve resumes the newest
push waiting for TARGET (or the one of --workflow) and rejects the older
ones waiting for it, which the newer push supersedes. The rollout step then
decides as for any push: a push older than what the target has is still
skipped.`
	if !approve {
		verb, done, short = "reject", "rejected", "Stop a release waiting for a target's approval"
		long = `Stop a release waiting for the approval of TARGET: its approve step fails,
the target is not rolled, and the Workflow ends Failed (other targets of the
same push are not affected). reject takes the newest push waiting for
TARGET, or the one of --workflow.`
	}
	cmd := &cobra.Command{
		Use:   verb + " TARGET -f MAPPING [--workflow NAME]",
		Short: short,
		Long: long + `

argodeploy status lists what waits. It needs list, get and update on
Workflows in the pipeline's namespace: the Role NAME-approver that generate
writes grants exactly that, for a RoleBinding of your choosing.

Exit status: 0 ` + done + `; 1 nothing waits for TARGET, or the cluster refused;
2 bad usage.`,
		Example: fmt.Sprintf(`  # What waits, then %s the newest push waiting for web-prod
  argodeploy status -f mapping.yaml
  argodeploy %s web-prod -f mapping.yaml

  # A given release
  argodeploy %s web-prod -f mapping.yaml --workflow web-7xk2p`, verb, verb, verb),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := loadReadMapping(file, "text", s)
			if err != nil {
				return err
			}
			target := args[0]
			if names := targetNames(m); !slices.Contains(names, target) {
				return &exitError{code: exitUsage, err: fmt.Errorf("%s has no target %q; its targets: %v", file, target, names)}
			}
			client, err := cluster.dynamic()
			if err != nil {
				return err
			}
			ctx, ns := cmd.Context(), m.Spec.Namespace
			waiting, err := status.Approvals(ctx, client, ns, m.Metadata.Name, target)
			if err != nil {
				return fmt.Errorf("listing the Workflows of %s in %s: %w", m.Metadata.Name, ns, err)
			}
			i := 0
			if workflow != "" {
				i = slices.IndexFunc(waiting, func(a status.Approval) bool { return a.Workflow == workflow })
			}
			if len(waiting) == 0 || i < 0 {
				what := "no release"
				if workflow != "" {
					what = "workflow " + workflow
				}
				return fmt.Errorf("%s waits for the approval of %s in %s", what, target, ns)
			}
			chosen := waiting[i]
			if err := status.Decide(ctx, client, ns, chosen, approve, fmt.Sprintf("%s with argodeploy %s", done, verb)); err != nil {
				return err
			}
			fmt.Fprintf(s.out, "workflow %s/%s: %s %s for %s\n", ns, chosen.Workflow, done, chosen.Tag, target)
			if !approve {
				return nil
			}
			for _, older := range waiting[i+1:] {
				why := fmt.Sprintf("rejected: superseded by %s (workflow %s), approved with argodeploy approve", chosen.Tag, chosen.Workflow)
				if err := status.Decide(ctx, client, ns, older, false, why); err != nil {
					return fmt.Errorf("%s approved, but rejecting the older %s: %w", chosen.Workflow, older.Workflow, err)
				}
				fmt.Fprintf(s.out, "workflow %s/%s: rejected %s for %s, superseded\n", ns, older.Workflow, older.Tag, target)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", "service-mapping file, or - for stdin (required)")
	cmd.Flags().StringVar(&workflow, "workflow", "", "the waiting release's Workflow (default: the newest push waiting)")
	cluster.add(cmd)
	return cmd
}
