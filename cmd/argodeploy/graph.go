package main

import (
	"bytes"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/argodeploy/argodeploy/pkg/check"
	"github.com/argodeploy/argodeploy/pkg/graph"
)

func newGraphCommand(s streams) *cobra.Command {
	source := &pipelineSource{}
	var format string
	cmd := &cobra.Command{
		Use:   "graph (-f MAPPING | --manifests PATH)",
		Short: "Draw the pipeline as a Mermaid flowchart or Graphviz DOT",
		Long: `Draw the pipeline: registry → Pub/Sub topic → EventSource → EventBus →
Sensor → (one edge per service, labelled with the image and tags its filter
accepts) → WorkflowTemplate → each Deployment, with its strategy.

The pipeline is what generate writes for a mapping (-f), or manifests
already generated (--manifests).`,
		Example: `  # Mermaid, e.g. for a README or a pull request
  argodeploy graph -f examples/multi-namespace.yaml

  # Graphviz
  argodeploy graph -f examples/multi-cluster.yaml -o dot | dot -Tsvg > pipeline.svg`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if format != "mermaid" && format != "dot" {
				return &exitError{code: exitUsage, err: fmt.Errorf("--output must be mermaid or dot, not %q", format)}
			}
			objs, err := source.objects(s)
			if err != nil {
				return err
			}
			typed, err := check.Typed(objs)
			if err != nil {
				return err
			}
			g, err := graph.Build(typed)
			if err != nil {
				return err
			}
			var buf bytes.Buffer
			if format == "dot" {
				err = g.DOT(&buf)
			} else {
				err = g.Mermaid(&buf)
			}
			if err != nil {
				return err
			}
			_, err = buf.WriteTo(s.out)
			return err
		},
	}
	source.addFlags(cmd, "draw")
	cmd.Flags().StringVarP(&format, "output", "o", "mermaid", "mermaid or dot")
	return cmd
}
