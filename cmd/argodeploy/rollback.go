package main

import (
	"errors"
	"fmt"
	"slices"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/spf13/cobra"

	"github.com/argodeploy/argodeploy/pkg/reconcile"
	"github.com/argodeploy/argodeploy/pkg/render"
	"github.com/argodeploy/argodeploy/pkg/rollout"
	"github.com/argodeploy/argodeploy/pkg/status"
)

func newRollbackCommand(s streams) *cobra.Command {
	var file, to, tag string
	var previous, dryRun bool
	var cluster clusterFlags
	cmd := &cobra.Command{
		Use:   "rollback TARGET -f MAPPING (--previous | --to DIGEST)",
		Short: "Return a target to an earlier digest through the pipeline's WorkflowTemplate",
		Long: `Return one target to an earlier digest: the one it ran before its current
push (--previous, which the rollout step records), or any digest of its
service's image (--to). rollback creates a Workflow from the pipeline's
WorkflowTemplate, labelled argodeploy.dev/origin=rollback, with the digest,
its tag and the target's name as the rollback argument; so it runs with the
same account, the target's lock, and the same health check and undo as a
release.

How a rollback and new pushes interact:
  - the rollback pins the digest whatever the target's policy: a lower
    version under semver, an older push under publish-time;
  - the target then records the digest it rolled back from: a later
    delivery of that push (a redelivery, a replay, a re-tag) is skipped,
    and reconcile does not release it again;
  - any newer push (published after the one rolled back from; under semver,
    a higher version than the one rolled back to) rolls as usual;
  - a push that reaches the target after the rollback was asked, before its
    Workflow runs, wins: the rollback step skips rather than undo it.
Strategy restart targets run a tag, which a rollback cannot pin: push the
old digest under that tag instead.

It needs get on the target's Deployment and create on Workflows in the
pipeline's namespace.

Exit status: 0 the Workflow is created (or the target already runs the
digest); 1 the cluster refused or the target's state cannot tell what to
return to; 2 bad usage.`,
		Example: `  # Back to what web-prod ran before its current push
  argodeploy rollback web-prod -f mapping.yaml --previous

  # To a given digest, with the tag to record
  argodeploy rollback web-prod -f mapping.yaml --to sha256:4f1c…e9 --tag v1.4.2

  # Print the Workflow's arguments without creating it
  argodeploy rollback web-prod -f mapping.yaml --previous --dry-run`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if previous == (to != "") {
				return &exitError{code: exitUsage, err: errors.New("give one of --previous and --to DIGEST")}
			}
			m, err := loadReadMapping(file, "text", s)
			if err != nil {
				return err
			}
			if names := targetNames(m); !slices.Contains(names, args[0]) {
				return &exitError{code: exitUsage, err: fmt.Errorf("%s has no target %q; its targets: %v", file, args[0], names)}
			}
			local, err := cluster.client()
			if err != nil {
				return err
			}
			ctx, ns := cmd.Context(), m.Spec.Namespace
			r, err := status.PlanRollback(ctx, rollout.NewClusters(local, ns), m, args[0], to, tag)
			if err != nil {
				return err
			}
			from := "from " + describePush(r.FromTag, r.From)
			if r.Already {
				fmt.Fprintf(s.out, "%s already runs %s (%s)\n", r.Target, r.Push.Digest, r.Push.Tag)
				return nil
			}
			if dryRun {
				fmt.Fprintf(s.out, "would create a Workflow of %s in %s: %s=%s %s=%s %s=%d %s=%s (%s)\n", render.TemplateName(m.Metadata.Name), ns,
					render.ParamDigest, r.Push.Digest, render.ParamTag, r.Push.Tag, render.ParamPublishedAt, r.Push.PublishedAt, render.ParamRollback, r.Target, from)
				return nil
			}
			client, err := cluster.dynamic()
			if err != nil {
				return err
			}
			release := reconcile.Release{Digest: r.Push.Digest, Tag: r.Push.Tag, PublishedAt: r.Push.PublishedAt}
			name, err := createRelease(ctx, client, ns, m.Metadata.Name, render.TemplateName(m.Metadata.Name), "rollback", release,
				wfv1.Parameter{Name: render.ParamRollback, Value: wfv1.AnyStringPtr(r.Target)})
			if err != nil {
				return fmt.Errorf("creating the rollback Workflow of %s: %w", r.Target, err)
			}
			fmt.Fprintf(s.out, "workflow %s/%s rolls %s back to %s, %s\n", ns, name, r.Target, describePush(r.Tag, r.Digest), from)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&file, "filename", "f", "", "service-mapping file, or - for stdin (required)")
	f.BoolVar(&previous, "previous", false, "return to the digest the target ran before its current push")
	f.StringVar(&to, "to", "", "return to this digest (sha256:… or IMAGE@sha256:…)")
	f.StringVar(&tag, "tag", "", "the tag to record for --to's digest (default: the one the target's state records)")
	f.BoolVar(&dryRun, "dry-run", false, "print the Workflow's arguments, create nothing")
	cluster.add(cmd)
	return cmd
}

// describePush names a push by tag and bare digest.
func describePush(tag, digest string) string {
	if tag == "" {
		return digest
	}
	return tag + " (" + digest + ")"
}
