// Command plaincobra is make bench's peer for process start and binary
// size: a cobra program that links only the upstream API types argodeploy
// writes (Kubernetes core, apps and RBAC, Argo Events, Argo Workflows) and
// sigs.k8s.io/yaml, and prints its version. What argodeploy costs beyond
// it is what the validators, the Pub/Sub source's validation and the
// Sensor's filter and parameter code link.
package main

import (
	"fmt"
	"os"

	eventsv1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

func main() {
	root := &cobra.Command{Use: "plaincobra"}
	root.AddCommand(&cobra.Command{
		Use: "version",
		RunE: func(cmd *cobra.Command, _ []string) error {
			objs := []any{&eventsv1.Sensor{}, &eventsv1.EventSource{}, &wfv1.WorkflowTemplate{},
				&appsv1.Deployment{}, &corev1.ConfigMap{}, &rbacv1.Role{}}
			if _, err := yaml.Marshal(objs); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "plaincobra dev")
			return nil
		},
	})
	if err := root.Execute(); err != nil {
		os.Exit(1)
	}
}
