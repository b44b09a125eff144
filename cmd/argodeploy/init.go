package main

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/argodeploy/argodeploy/pkg/mapping"
)

// initOptions are the flags of init.
type initOptions struct {
	mapping.StarterOptions
	file  string
	force bool
}

func newInitCommand(s streams) *cobra.Command {
	opts := &initOptions{}
	cmd := &cobra.Command{
		Use:   "init --project PROJECT --image IMAGE --namespace NAMESPACE",
		Short: "Write a commented starter service-mapping file",
		Long: `Write a starter service mapping with one service, comments on the fields
most people change, and a yaml-language-server modeline so editors complete
and check it against the mapping's JSON Schema. The result is checked as
generate would check it; an existing file is only replaced with --force.`,
		Example: `  # Start a mapping for the web image, deployed as web in namespace shop
  argodeploy init --project acme-shop-prod \
    --image us-east1-docker.pkg.dev/acme-shop-prod/containers/web --namespace shop

  # Then
  argodeploy generate -f mapping.yaml | argodeploy validate -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runInit(opts, s)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Project, "project", "", "GCP project of the Pub/Sub subscription (required)")
	f.StringVar(&opts.Image, "image", "", "the service's image repository, without tag (required)")
	f.StringVar(&opts.Namespace, "namespace", "", "namespace of the Deployment it restarts (required)")
	f.StringVar(&opts.Service, "service", "", "the service's name (default: the image's last path segment)")
	f.StringVar(&opts.Deployment, "deployment", "", "the Deployment it restarts (default: the service's name)")
	f.StringVar(&opts.Name, "name", "", "the pipeline's name (default: the service's name)")
	f.StringVarP(&opts.file, "filename", "f", "mapping.yaml", "where to write the mapping (- for stdout)")
	f.BoolVar(&opts.force, "force", false, "replace an existing file")
	return cmd
}

func runInit(opts *initOptions, s streams) error {
	for flag, value := range map[string]string{"--project": opts.Project, "--image": opts.Image, "--namespace": opts.Namespace} {
		if value == "" {
			return &exitError{code: exitUsage, err: fmt.Errorf("%s is required", flag)}
		}
	}
	// A tag or digest on --image would also spoil the names drawn from
	// it: say so once, about the flag.
	if i := strings.LastIndexAny(opts.Image, ":@"); i > strings.LastIndex(opts.Image, "/") {
		return &exitError{code: exitUsage, err: fmt.Errorf("--image %s: give the repository without its tag or digest (%s); the mapping's tagPattern selects the tags that roll", opts.Image, opts.Image[:i])}
	}
	if opts.Service == "" {
		opts.Service = path.Base(opts.Image)
	}
	if opts.Name == "" {
		opts.Name = opts.Service
	}
	data, err := mapping.Starter(opts.StarterOptions)
	var bad *mapping.StarterError
	if errors.As(err, &bad) {
		return &exitError{code: exitUsage, err: errors.New(bad.Format("--"))}
	}
	if err != nil {
		return err
	}
	if opts.file == "-" {
		_, err := s.out.Write(data)
		return err
	}
	if _, err := os.Lstat(opts.file); err == nil && !opts.force {
		return fmt.Errorf("%s exists; use --force to replace it", opts.file)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	// Write beside the target and rename, so a failure leaves no half file;
	// create its directory first, as generate --output-dir does.
	if err := os.MkdirAll(filepath.Dir(opts.file), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(opts.file), "."+filepath.Base(opts.file)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), opts.file); err != nil {
		return err
	}
	fmt.Fprintf(s.err, "wrote %s\n", opts.file)
	return nil
}
