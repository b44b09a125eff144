package main

import (
	"bufio"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/output"
	"github.com/argodeploy/argodeploy/pkg/render"
)

// generateOptions are the flags of `argodeploy generate`.
type generateOptions struct {
	file      string
	format    string
	outputDir string
	maxBytes  int
}

// Bounds of --max-object-bytes: below the lower one a single service may
// not fit; above the upper one the API server may refuse the object.
const (
	minObjectBytes = 16 * 1024
	maxObjectBytes = 1024 * 1024
)

func newGenerateCommand(s streams) *cobra.Command {
	opts := &generateOptions{}
	cmd := &cobra.Command{
		Use:   "generate -f MAPPING",
		Short: "Write every manifest of the pipeline for a service-mapping file",
		Long: `Write every manifest of the pipeline for a service-mapping file: service
accounts and RBAC, cache ConfigMaps, EventBus, WorkflowTemplates, EventSource
and Sensors, in apply order.

The output is deterministic: the same mapping gives byte-identical output.
A mapping with an error writes nothing and exits 1.`,
		Example: `  # Apply the pipeline for a mapping
  argodeploy generate -f examples/single-service.yaml | kubectl apply -f -

  # Write one file per object plus kustomization.yaml
  argodeploy generate -f mapping.yaml --output-dir deploy/pipeline

  # Read the mapping from stdin, print a JSON List
  cat mapping.yaml | argodeploy generate -f - -o json

  # 10,000 services in fewer, larger cache ConfigMaps (needs server-side
  # apply; Sensors stay under 90 KiB, what their pod's environment holds)
  argodeploy generate -f big.yaml --max-object-bytes 900000 | kubectl apply --server-side -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runGenerate(opts, s)
		},
	}
	cmd.Flags().StringVarP(&opts.file, "filename", "f", "", "service-mapping file, or - for stdin (required)")
	cmd.Flags().StringVarP(&opts.format, "output", "o", "yaml", "output format: yaml or json")
	cmd.Flags().StringVar(&opts.outputDir, "output-dir", "", "write one YAML file per object and a kustomization.yaml into this directory, replacing it atomically")
	cmd.Flags().IntVar(&opts.maxBytes, "max-object-bytes", render.DefaultShardBytes,
		"split cache ConfigMaps so each stays under this many bytes of JSON, and Sensors under the smaller of this and 92160; above 262144 apply with kubectl apply --server-side")
	return cmd
}

func runGenerate(opts *generateOptions, s streams) error {
	if opts.format == "yml" { // as kubectl takes it
		opts.format = "yaml"
	}
	if opts.format != "yaml" && opts.format != "json" {
		return &exitError{code: exitUsage, err: fmt.Errorf("--output must be yaml or json, not %q", opts.format)}
	}
	if opts.outputDir != "" && opts.format != "yaml" {
		return &exitError{code: exitUsage, err: fmt.Errorf("--output-dir writes YAML; drop -o %s", opts.format)}
	}
	if opts.file == "" {
		return &exitError{code: exitUsage, err: fmt.Errorf("-f/--filename is required (a service-mapping file, or - for stdin)")}
	}
	if opts.maxBytes < minObjectBytes || opts.maxBytes > maxObjectBytes {
		return &exitError{code: exitUsage, err: fmt.Errorf("--max-object-bytes must be between %d and %d", minObjectBytes, maxObjectBytes)}
	}
	outObjs, err := renderMapping(opts.file, opts.maxBytes, s)
	if err != nil {
		return err
	}
	if opts.outputDir != "" {
		return output.Dir(opts.outputDir, outObjs)
	}
	// Both writers encode every object before they write anything, so a
	// failure writes nothing; the buffer only saves system calls.
	out := bufio.NewWriterSize(s.out, 64<<10)
	if opts.format == "json" {
		err = output.JSON(out, outObjs)
	} else {
		err = output.YAML(out, outObjs)
	}
	if err != nil {
		return err
	}
	return out.Flush()
}

// renderMapping loads a mapping file (- for stdin) and renders its objects.
func renderMapping(file string, maxBytes int, s streams) ([]output.Object, error) {
	m, err := loadMapping(file, s)
	if err != nil {
		return nil, err
	}
	objs, err := render.Render(m, render.Options{ShardBytes: maxBytes})
	if err != nil {
		return nil, err
	}
	return render.Convert[output.Object](objs), nil
}

// loadMapping reads a mapping from a file, or from stdin when the name is
// -, and prints its warnings on stderr.
func loadMapping(file string, s streams) (*mapping.ServiceMapping, error) {
	var m *mapping.ServiceMapping
	var err error
	if file == "-" {
		var data []byte
		if data, err = io.ReadAll(s.in); err != nil {
			return nil, err
		}
		m, err = mapping.Parse("<stdin>", data)
	} else {
		m, err = mapping.Load(file)
	}
	if err != nil {
		return nil, err
	}
	for _, w := range m.Warnings {
		fmt.Fprintf(s.err, "warning: %v\n", w)
	}
	return m, nil
}
