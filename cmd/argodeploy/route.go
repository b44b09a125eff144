package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/rollout"
)

func newRouteCommand(s streams) *cobra.Command {
	return newRouteCommandWith(s, rolloutEnv{getenv: os.Getenv, client: localClient})
}

func newRouteCommandWith(s streams, env rolloutEnv) *cobra.Command {
	getenv := env.getenv
	var cacheDir string
	cmd := &cobra.Command{
		Use:   "route",
		Short: "Print the targets a push reaches: the first step the WorkflowTemplate runs",
		Long: `Print the targets a push reaches, as a JSON list of {service, target, lock}:
the first step of the pipeline's WorkflowTemplate, whose output the rollout
steps run over (one argodeploy rollout per element).

The push is read from the environment as the Sensor sets it: DIGEST
(<image>@sha256:<hex>), TAG (<image>:<tag>) and PUBLISHED_AT (Unix
nanoseconds). The digest's image is only a lookup key: the service, its
targets and their Deployments come from the cache entries in --cache-dir
(the pipeline's cache ConfigMap). A target whose tagPattern, policy or
semverRange does not take the tag is left out, with the reason on stderr.

Exit status: 0 the list is printed (it may be empty); 2 the image has no
cache entry, or the push is malformed.

For each target that waits for approval, route tells the target's
receivers (spec.notify, on: waiting) how to approve; a failed notification
changes nothing.

ROLLBACK, set only by argodeploy rollback (the Workflow's rollback
argument, never from the event), names one target: the list is that target
alone, and the digest must be an image of its service, pinned by strategy
set-image.`,
		Example: `  # What the WorkflowTemplate's first step runs (the Sensor sets the environment)
  DIGEST=us-east1-docker.pkg.dev/acme-shop-prod/containers/web@sha256:1111111111111111111111111111111111111111111111111111111111111111 \
  TAG=us-east1-docker.pkg.dev/acme-shop-prod/containers/web:1.4.2 \
  PUBLISHED_AT=1748858400000000000 \
    argodeploy route --cache-dir /etc/argodeploy/cache`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			text := getenv("PUBLISHED_AT")
			published, err := strconv.ParseInt(text, 10, 64)
			if err != nil {
				return &exitError{code: rollout.ExitPermanent, err: fmt.Errorf("PUBLISHED_AT %q is not a Unix time in nanoseconds", text)}
			}
			push := rollout.Push{Digest: getenv("DIGEST"), Tag: getenv("TAG"), PublishedAt: published}
			var routes []rollout.Route
			// The routes are all of the service the lookup found, which the
			// notifications then describe.
			var svc mapping.Service
			lookup := func(image string) (mapping.Service, error) {
				found, err := rollout.DirLookup(cacheDir)(image)
				svc = found
				return found, err
			}
			if target := getenv("ROLLBACK"); target != "" {
				routes, err = rollout.RollbackRoute(lookup, push, target)
			} else {
				routes, err = rollout.Routes(lookup, push, s.err)
			}
			if err != nil {
				return &exitError{code: rollout.ExitPermanent, err: fmt.Errorf("route: %v", err)}
			}
			data, err := json.Marshal(routes)
			if err != nil {
				return err
			}
			if _, err = fmt.Fprintf(s.out, "%s\n", data); err != nil {
				return err
			}
			if waits(routes) {
				client, err := env.client(getenv)
				if err != nil {
					fmt.Fprintf(s.err, "argodeploy: notify: no client of the cluster: %v; nothing sent\n", err)
					return nil
				}
				notifyWaiting(client, podNamespace(getenv), &svc, routes, push, getenv("WORKFLOW_NAME"), s.err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&cacheDir, "cache-dir", "/etc/argodeploy/cache", "the directory of the cache entries")
	return cmd
}

// waits reports whether a route waits for approval.
func waits(routes []rollout.Route) bool {
	for _, r := range routes {
		if r.Approval {
			return true
		}
	}
	return false
}
