package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/argodeploy/argodeploy/schemas"
)

// targets are the modules whose APIs argodeploy writes and checks.
var targets = []struct{ name, module string }{
	{"argo-events", "github.com/argoproj/argo-events"},
	{"argo-workflows", "github.com/argoproj/argo-workflows/v3"},
	{"kubernetes API", "k8s.io/api"},
}

// Stamped by a release build (make release):
// -ldflags "-X main.version=v0.3.0 -X main.commit=... -X main.date=...".
var version, commit, date string

// versionInfo is what version prints.
type versionInfo struct {
	Version string            `json:"version"`
	Commit  string            `json:"commit,omitempty"`
	Date    string            `json:"date,omitempty"`
	Go      string            `json:"go"`
	Targets map[string]string `json:"targets"`
	// dated says what Date is: "built" (stamped) or "committed" (vcs.time).
	dated string
}

// short is the version, commit and date on one line.
func (v versionInfo) short() string {
	var extra []string
	if v.Commit != "" {
		extra = append(extra, "commit "+v.Commit)
	}
	if v.Date != "" {
		extra = append(extra, v.dated+" "+v.Date)
	}
	if len(extra) == 0 {
		return v.Version
	}
	return v.Version + " (" + strings.Join(extra, ", ") + ")"
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
				fmt.Fprintf(s.out, "argodeploy %s\n  %s\n", info.short(), info.Go)
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

// buildVersion reads the versions from what a release build stamps, else
// from the binary's build information: the module version (go install
// ...@v0.3.0) and, built from a checkout, its commit (vcs.revision, with
// -dirty when the tree had changes) and commit time.
func buildVersion() versionInfo {
	info := versionInfo{Version: "(devel)", Targets: map[string]string{}}
	bi, ok := debug.ReadBuildInfo()
	if ok {
		info.Go = bi.GoVersion
		if v := bi.Main.Version; v != "" {
			info.Version = v
		}
		settings := map[string]string{}
		for _, s := range bi.Settings {
			settings[s.Key] = s.Value
		}
		if rev := settings["vcs.revision"]; rev != "" {
			info.Commit = rev[:min(12, len(rev))]
			if settings["vcs.modified"] == "true" {
				info.Commit += "-dirty"
			}
			info.Date, info.dated = settings["vcs.time"], "committed"
		}
		for _, d := range bi.Deps {
			for _, t := range targets {
				if d.Path == t.module {
					info.Targets[t.name] = d.Version
				}
			}
		}
	}
	info.Version = cmp.Or(version, info.Version)
	info.Commit = cmp.Or(commit, info.Commit)
	if date != "" {
		info.Date, info.dated = date, "built"
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
