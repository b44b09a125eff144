package main

import (
	"fmt"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/argodeploy/argodeploy/pkg/reconcile"
	"github.com/argodeploy/argodeploy/pkg/render"
	"github.com/argodeploy/argodeploy/pkg/status"
)

func newReplayCommand(s streams) *cobra.Command {
	var file string
	var keep bool
	var cluster clusterFlags
	cmd := &cobra.Command{
		Use:   "replay DEAD-LETTER -f MAPPING",
		Short: "Release the push a dead letter holds, through the pipeline's WorkflowTemplate",
		Long: `Release the push a dead letter holds: a ConfigMap the Sensor wrote when it
could not create a push's Workflow (argodeploy status lists them). replay
creates that Workflow from the pipeline's WorkflowTemplate, with the push's
digest, tag and publish time as the Sensor would have, labelled
argodeploy.dev/origin=replay; the same route step, locks and policies then
decide, so a push older than what a target has is skipped, not rolled back.
Then it deletes the dead letter (--keep keeps it).

It needs create on Workflows and get, delete on ConfigMaps in the
pipeline's namespace.

Exit status: 0 released; 1 the cluster refused or the dead letter holds no
push; 2 bad usage.`,
		Example: `  # The dead letters, then the release of one of them
  argodeploy status -f mapping.yaml
  argodeploy replay shop-dead-letter-x7k2p -f mapping.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := loadReadMapping(file, "text", s)
			if err != nil {
				return err
			}
			local, err := cluster.client()
			if err != nil {
				return err
			}
			ctx, ns := cmd.Context(), m.Spec.Namespace
			cm, err := local.core.ConfigMaps(ns).Get(ctx, args[0], metav1.GetOptions{})
			if err != nil {
				return fmt.Errorf("reading dead letter %s/%s: %w", ns, args[0], err)
			}
			if cm.Labels[render.LabelDeadLetter] != "true" || cm.Labels[render.LabelPartOf] != m.Metadata.Name {
				return fmt.Errorf("ConfigMap %s/%s is not a dead letter of %s (labels %s=true, %s=%s)", ns, cm.Name, m.Metadata.Name, render.LabelDeadLetter, render.LabelPartOf, m.Metadata.Name)
			}
			digest, tag, at, err := status.ReadDeadLetter(cm).Push()
			if err != nil {
				return err
			}
			client, err := cluster.dynamic()
			if err != nil {
				return err
			}
			name, err := createRelease(ctx, client, ns, m.Metadata.Name, render.TemplateName(m.Metadata.Name), "replay", reconcile.Release{Digest: digest, Tag: tag, PublishedAt: at})
			if err != nil {
				return fmt.Errorf("creating the Workflow of %s: %w", cm.Name, err)
			}
			fmt.Fprintf(s.out, "workflow %s/%s releases %s (%s)\n", ns, name, tag, cm.Name)
			if keep {
				return nil
			}
			if err := local.core.ConfigMaps(ns).Delete(ctx, cm.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &cm.UID}}); err != nil {
				return fmt.Errorf("workflow %s created, but deleting the dead letter %s: %w", name, cm.Name, err)
			}
			fmt.Fprintf(s.out, "configmap %s/%s deleted\n", ns, cm.Name)
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", "service-mapping file, or - for stdin (required)")
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the dead letter after its Workflow is created")
	cluster.add(cmd)
	return cmd
}
