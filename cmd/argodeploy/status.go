package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/render"
	"github.com/argodeploy/argodeploy/pkg/rollout"
	"github.com/argodeploy/argodeploy/pkg/status"
)

// clusterFlags select the cluster as kubectl does.
type clusterFlags struct {
	kubeconfig, context string
}

func (c *clusterFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&c.kubeconfig, "kubeconfig", "", "kubeconfig file (default: KUBECONFIG, else ~/.kube/config)")
	cmd.Flags().StringVar(&c.context, "context", "", "kubeconfig context (default: the current one)")
}

// config is the selected cluster's client config.
func (c *clusterFlags) config() (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = c.kubeconfig
	config, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: c.context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("no cluster to read: %v", err)
	}
	return config, nil
}

// dynamic is a dynamic client of the selected cluster (for the Argo kinds).
func (c *clusterFlags) dynamic() (dynamic.Interface, error) {
	config, err := c.config()
	if err != nil {
		return nil, err
	}
	return dynamic.NewForConfig(config)
}

// client is a typed client of the selected cluster.
func (c *clusterFlags) client() (localClients, error) {
	config, err := c.config()
	if err != nil {
		return localClients{}, err
	}
	return localClientFor(config)
}

func newStatusCommand(s streams) *cobra.Command {
	var file, format string
	var cluster clusterFlags
	cmd := &cobra.Command{
		Use:   "status -f MAPPING",
		Short: "Show what each target runs, from which push and Workflow, and the dead letters",
		Long: `Show, for each target of a mapping, what its Deployment container runs and
what the rollout step last recorded there (the argodeploy.dev/state
annotation): the digest and tag of the push, when it was published, how the
last step ended (healthy, undone, interrupted, rolling), since when it runs
healthily, and the Workflow that rolled it; then the Deployment's rollout as
kubectl rollout status judges it, and the pipeline's dead letters (pushes
whose Workflow the Sensor could not create), newest first.

It only reads: get on the Deployments, list on ConfigMaps in the pipeline's
namespace, and for targets in other clusters get on their kubeconfig
Secrets. What it may not read is said per target.

Exit status: 0 everything was read; 1 something could not be (the rest is
still shown); 2 bad usage.`,
		Example: `  # What runs where, from the cluster of the current context
  argodeploy status -f mapping.yaml

  # Another cluster, as JSON
  argodeploy status -f mapping.yaml --context prod -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := loadReadMapping(file, format, s)
			if err != nil {
				return err
			}
			local, err := cluster.client()
			if err != nil {
				return err
			}
			workflows, err := cluster.dynamic()
			if err != nil {
				return err
			}
			rep := status.Read(cmd.Context(), status.Options{
				Mapping:    m,
				Clusters:   rollout.NewClusters(local, m.Spec.Namespace),
				ConfigMaps: local.core,
				Workflows:  workflows,
			})
			if format == "json" {
				enc := json.NewEncoder(s.out)
				enc.SetIndent("", "  ")
				err = enc.Encode(rep)
			} else {
				err = writeStatus(s.out, rep)
			}
			if err != nil {
				return err
			}
			if unread := rep.Unread(); unread != "" {
				return &exitError{code: exitFailure, err: fmt.Errorf("could not read %s (see above)", unread)}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", "service-mapping file, or - for stdin (required)")
	cmd.Flags().StringVarP(&format, "output", "o", "text", "output format: text or json")
	cluster.add(cmd)
	return cmd
}

// loadReadMapping checks the flags the cluster-reading commands share (-f,
// -o text|json) and loads the mapping.
func loadReadMapping(file, format string, s streams) (*mapping.ServiceMapping, error) {
	if format != "text" && format != "json" {
		return nil, &exitError{code: exitUsage, err: fmt.Errorf("--output must be text or json, not %q", format)}
	}
	if file == "" {
		return nil, &exitError{code: exitUsage, err: fmt.Errorf("-f/--filename is required (a service-mapping file, or - for stdin)")}
	}
	return loadMapping(file, s)
}

// writeStatus prints the report as two tables and the errors.
func writeStatus(w io.Writer, r *status.Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tDEPLOYMENT\tTAG\tDIGEST\tPUBLISHED\tOUTCOME\tHEALTHY SINCE\tWORKFLOW\tROLLOUT")
	var problems []string
	for _, t := range r.Targets {
		where := t.Namespace + "/" + t.Deployment + ":" + t.Container
		if t.Cluster != "" {
			where = t.Cluster + "/" + where
		}
		if t.Error != "" {
			problems = append(problems, fmt.Sprintf("%s: could not read %s: %s", t.Target, where, t.Error))
			fmt.Fprintf(tw, "%s\t%s\t?\t?\t?\t?\t?\t?\t?\n", t.Target, where)
			continue
		}
		outcome := dash(t.Outcome)
		if t.RolledBack != "" {
			outcome += " (rolled back from " + shortDigest(t.RolledBack) + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Target, where, dash(t.Tag), dash(shortDigest(t.Digest)),
			dash(t.PublishedAt), outcome, dash(t.HealthyAt), dash(t.Workflow), t.Rollout)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	switch {
	case r.DeadLettersError != "":
		problems = append(problems, fmt.Sprintf("dead letters: could not list ConfigMaps in %s: %s", r.Namespace, r.DeadLettersError))
	case len(r.DeadLetters) == 0:
		fmt.Fprintf(w, "\nDead letters in %s: none\n", r.Namespace)
	default:
		fmt.Fprintf(w, "\nDead letters in %s: %d\n", r.Namespace, len(r.DeadLetters))
		rows := [][]string{{"NAME", "CREATED", "TAG", "DIGEST"}}
		for _, d := range r.DeadLetters {
			rows = append(rows, []string{d.Name, d.Created, dash(d.Tag), dash(d.Digest)})
		}
		if err := writeTable(w, rows); err != nil {
			return err
		}
		for _, d := range r.DeadLetters {
			if d.CutFrom > 0 {
				fmt.Fprintf(w, "%s: the registry message was %d bytes; the dead letter keeps its first %d\n", d.Name, d.CutFrom, render.MaxDeadLetterMessage)
			}
		}
	}
	switch {
	case r.ApprovalsError != "":
		problems = append(problems, fmt.Sprintf("approvals: could not list Workflows in %s: %s", r.Namespace, r.ApprovalsError))
	case len(r.Approvals) > 0:
		fmt.Fprintf(w, "\nWaiting for approval: %d (argodeploy approve TARGET, or reject)\n", len(r.Approvals))
		rows := [][]string{{"TARGET", "WORKFLOW", "TAG", "SINCE"}}
		for _, a := range r.Approvals {
			rows = append(rows, []string{a.Target, a.Workflow, dash(a.Tag), dash(a.Since)})
		}
		if err := writeTable(w, rows); err != nil {
			return err
		}
	}
	if len(problems) > 0 {
		fmt.Fprintf(w, "\n%s\n", strings.Join(problems, "\n"))
	}
	return nil
}

// writeTable writes rows as aligned columns, the first row the header.
func writeTable(w io.Writer, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, row := range rows {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

// shortDigest is sha256: and the first 12 hex digits, as docker prints.
func shortDigest(d string) string {
	if len(d) > len("sha256:")+12 {
		return d[:len("sha256:")+12]
	}
	return d
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
