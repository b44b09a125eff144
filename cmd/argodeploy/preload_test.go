package main

import (
	"reflect"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/argodeploy/argodeploy/cmd/argodeploy/internal/preload"
)

// TestPreloadPlansAsCobraParses holds preload's reading of the command line
// to cobra's: with every flag of generate, simulate and validate, in every
// form, between the arguments, preload plans to read the mapping that
// cobra's -f holds, and validate's arguments and nothing else.
func TestPreloadPlansAsCobraParses(t *testing.T) {
	for _, name := range []string{"generate", "simulate", "validate"} {
		var forms [][]string
		var isFile []bool // whether the form is of -f
		find(t, name).Flags().VisitAll(func(f *pflag.Flag) {
			defer func() {
				for len(isFile) < len(forms) {
					isFile = append(isFile, f.Name == "filename")
				}
			}()
			if f.Value.Type() == "bool" {
				forms = append(forms, []string{"--" + f.Name}, []string{"--" + f.Name + "=true"})
				return
			}
			value := "value.yaml"
			if f.Value.Type() == "int" {
				value = "90000"
			}
			forms = append(forms, []string{"--" + f.Name, value}, []string{"--" + f.Name + "=" + value})
			if f.Shorthand != "" {
				forms = append(forms, []string{"-" + f.Shorthand, value}, []string{"-" + f.Shorthand + value}, []string{"-" + f.Shorthand + "=" + value})
			}
		})
		if len(forms) < 6 {
			t.Fatalf("%s: only %d flag forms", name, len(forms))
		}
		for i, form := range forms {
			args := append(append([]string{name, "a.yaml"}, form...), "b.yaml")
			if name != "validate" && !isFile[i] {
				args = append(args, "-f", "m.yaml")
			}
			cmd := find(t, name)
			if err := cmd.ParseFlags(args[1:]); err != nil {
				t.Fatalf("%q: %v", args, err)
			}
			var want preload.Plan
			if name == "validate" {
				want.Manifests = cmd.Flags().Args()
			} else {
				want.Mappings = []string{cmd.Flags().Lookup("filename").Value.String()}
			}
			if got := preload.PlanFor(args); !reflect.DeepEqual(got, want) {
				t.Errorf("PlanFor(%q) = %+v; cobra parses %+v", args, got, want)
			}
		}
	}
}

// find is the subcommand name of a new root command, with fresh flags.
func find(t *testing.T, name string) *cobra.Command {
	t.Helper()
	cmd, _, err := newRootCommand(streams{}).Find([]string{name})
	if err != nil || cmd.Name() != name {
		t.Fatalf("find %s: %v", name, err)
	}
	return cmd
}
