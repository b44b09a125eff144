package main

import (
	"encoding/json"
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/argodeploy/argodeploy/schemas"
)

// targets are the modules whose APIs argodeploy writes and checks.
var targets = []struct{ name, module string }{
	{"argo-events", "github.com/argoproj/argo-events"},
	{"argo-workflows", "github.com/argoproj/argo-workflows/v3"},
	{"kubernetes API", "k8s.io/api"},
}

// versionInfo is what version prints.
type versionInfo struct {
	Version string            `json:"version"`
	Go      string            `json:"go"`
	Targets map[string]string `json:"targets"`
}

func newVersionCommand(s streams) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print argodeploy's version and the Argo and Kubernetes versions it targets",
		Example: `  argodeploy version
  argodeploy version -o json`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			info := buildVersion()
			switch format {
			case "json":
				enc := json.NewEncoder(s.out)
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			case "text":
				fmt.Fprintf(s.out, "argodeploy %s (%s)\n", info.Version, info.Go)
				for _, t := range targets {
					fmt.Fprintf(s.out, "  %s %s\n", t.name, info.Targets[t.name])
				}
				return nil
			}
			return &exitError{code: exitUsage, err: fmt.Errorf("--output must be text or json, not %q", format)}
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "text", "text or json")
	return cmd
}

// buildVersion reads the versions from the binary's build information.
func buildVersion() versionInfo {
	info := versionInfo{Version: "(devel)", Targets: map[string]string{}}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return info
	}
	info.Go = bi.GoVersion
	if v := bi.Main.Version; v != "" {
		info.Version = v
	}
	for _, d := range bi.Deps {
		for _, t := range targets {
			if d.Path == t.module {
				info.Targets[t.name] = d.Version
			}
		}
	}
	return info
}

func newSchemaCommand(s streams) *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of the service-mapping file",
		Long: `Print the JSON Schema (draft-07) of the service-mapping file, for editors
and other tools. Editors that read yaml-language-server modelines (the first
line argodeploy init writes) find it on their own.`,
		Example: `  argodeploy schema > servicemapping.schema.json`,
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := s.out.Write(schemas.ServiceMapping)
			return err
		},
	}
}
