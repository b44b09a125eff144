package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/clock"

	"github.com/argodeploy/argodeploy/pkg/rollout"
)

// serviceAccountNamespace holds the pod's namespace in a pod that mounts
// its service account token.
const serviceAccountNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// rolloutOptions are the flags of rollout.
type rolloutOptions struct {
	service, target, cacheDir string
	timeout                   time.Duration
	retryLimit                int
}

// rolloutEnv is what rollout takes from around it: the environment and the
// client of the cluster it runs in.
type rolloutEnv struct {
	getenv func(string) string
	client func(getenv func(string) string) (rollout.Local, error)
}

func newRolloutCommand(s streams) *cobra.Command {
	return newRolloutCommandWith(s, rolloutEnv{getenv: os.Getenv, client: localClient})
}

func newRolloutCommandWith(s streams, env rolloutEnv) *cobra.Command {
	opts := &rolloutOptions{}
	cmd := &cobra.Command{
		Use:   "rollout --service NAME --target NAME",
		Short: "Roll one target of a service to a pushed image: the step the WorkflowTemplate runs",
		Long: `Roll one target of a service to a pushed image: the step the pipeline's
WorkflowTemplate runs for each push and target.

The service comes from its cache entry (--cache-dir/--service, the JSON the
pipeline's cache ConfigMap holds) and the target from --target; the push
from the event, in the environment: DIGEST (<image>@sha256:<hex>), TAG
(<image>:<tag>) and PUBLISHED_AT (Unix nanoseconds). Event values are
checked before use, and nothing from the event names what to roll.

The step decides from the target's tagPattern, strategy (set-image pins the
digest; restart restarts the pods when the pushed tag is the one the
container references) and policy (publish-time: a newer push wins;
semver: never a lower version), and from what the container last received,
recorded per container in the Deployment's argodeploy.dev/state
annotation. A target with "after" waits until that target has run the
digest healthily for its soak. The step then updates the Deployment, waits
up to --rollout-timeout for it to be rolled out (as kubectl rollout status
judges), and undoes its change when it is not, or when SIGTERM or SIGINT
ends the step first.

With ROLLBACK set to --target (argodeploy rollback sets it, never the
event), the step pins the pushed digest whatever its order or version, does
not wait for the after target, and records the digest it rolled back from,
which no later delivery of that push and no reconcile pass brings back. It
skips when a push published after PUBLISHED_AT has reached the target since
the rollback was asked.

Then it sends the outcome to the target's receivers (spec.notify; the URL
read from its Secret), at most 30 seconds, three attempts each; a failed
notification is logged and changes nothing. A transient failure that the
Workflow retries (RETRY below --retry-limit) is not sent.

Environment: DIGEST, TAG, PUBLISHED_AT (the push); ROLLBACK; RETRY; WORKFLOW_NAME (recorded
in the state); POD_NAMESPACE (where kubeconfig Secrets of other clusters
are); KUBECONFIG (a kubeconfig file; without it, the in-cluster config).

Exit status: 0 rolled out, already running, or nothing to do; 1 a
transient failure (the Workflow retries); 2 a permanent failure or bad
usage; 3 not healthy in time, undone.`,
		Example: `  # What the WorkflowTemplate's step runs (the Sensor sets the environment)
  DIGEST=us-east1-docker.pkg.dev/acme-shop-prod/containers/web@sha256:1111111111111111111111111111111111111111111111111111111111111111 \
  TAG=us-east1-docker.pkg.dev/acme-shop-prod/containers/web:1.4.2 \
  PUBLISHED_AT=1748858400000000000 \
    argodeploy rollout --service web --target web --rollout-timeout 10m`,
		// The flags are checked with the arguments, so that validate's
		// check of the WorkflowTemplate's steps (parseStep) finds a step
		// that lacks one.
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.NoArgs(cmd, args); err != nil {
				return err
			}
			if err := opts.check(); err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRollout(cmd.Context(), opts, s, env)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.service, "service", "", "the service, a DNS label naming its cache entry")
	f.StringVar(&opts.target, "target", "", "the target of the service to roll")
	f.StringVar(&opts.cacheDir, "cache-dir", "/etc/argodeploy/cache", "the directory of the cache entries")
	f.DurationVar(&opts.timeout, "rollout-timeout", rollout.DefaultRolloutTimeout, "how long the rolled Deployment may take to become healthy")
	f.IntVar(&opts.retryLimit, "retry-limit", 0, "the Workflow's retries of the step: a transient failure of an attempt (RETRY, Argo's {{retries}}) below it is not notified")
	return cmd
}

// check says which required flag is missing or wrong.
func (opts *rolloutOptions) check() error {
	switch {
	case opts.service == "":
		return errors.New("--service is required")
	case opts.target == "":
		return errors.New("--target is required")
	case opts.timeout <= 0:
		return fmt.Errorf("--rollout-timeout must be positive, not %s", opts.timeout)
	}
	return nil
}

func runRollout(ctx context.Context, opts *rolloutOptions, s streams, env rolloutEnv) error {
	if err := opts.check(); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	var rollback bool
	switch target := env.getenv("ROLLBACK"); target {
	case "":
	case opts.target:
		rollback = true
	default:
		return &exitError{code: rollout.ExitPermanent, err: fmt.Errorf("ROLLBACK names target %q, not --target %s", target, opts.target)}
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	svc, err := rollout.LoadService(opts.cacheDir, opts.service)
	if err != nil {
		return &exitError{code: rollout.ExitPermanent, err: err}
	}
	text := env.getenv("PUBLISHED_AT")
	published, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return &exitError{code: rollout.ExitPermanent, err: fmt.Errorf("PUBLISHED_AT %q is not a Unix time in nanoseconds", text)}
	}
	client, err := env.client(env.getenv)
	if err != nil {
		return &exitError{code: rollout.ExitPermanent, err: fmt.Errorf("no client of the cluster: %v", err)}
	}
	namespace := podNamespace(env.getenv)
	started := time.Now()
	push := rollout.Push{Digest: env.getenv("DIGEST"), Tag: env.getenv("TAG"), PublishedAt: published}
	res := rollout.Run(ctx, rollout.Options{
		Service:        svc,
		Target:         opts.target,
		Push:           push,
		RolloutTimeout: opts.timeout,
		Clock:          clock.RealClock{},
		Log:            s.err,
		Workflow:       env.getenv("WORKFLOW_NAME"),
		Clusters:       rollout.NewClusters(client, namespace),
		Rollback:       rollback,
	})
	notifyStep(client, namespace, &svc, opts.target, push, res, env.getenv, opts.retryLimit, started, rollback, s.err)
	if res.Exit != rollout.ExitOK {
		return &exitError{code: res.Exit, err: fmt.Errorf("rollout %s: %s", res.Outcome, res.Reason)}
	}
	return nil
}

// localClient is the client of the cluster the step runs in: from the
// kubeconfig files KUBECONFIG lists when it is set, else the pod's
// in-cluster config. It has the apps/v1 and core/v1 clients alone, not a
// whole kubernetes.Clientset, whose other API groups would add some 14 MB
// to the binary.
func localClient(getenv func(string) string) (rollout.Local, error) {
	config, err := localConfig(getenv)
	if err != nil {
		return nil, err
	}
	return localClientFor(config)
}

// localClientFor is localClient for a config already read.
func localClientFor(config *rest.Config) (localClients, error) {
	httpClient, err := rest.HTTPClientFor(config)
	if err != nil {
		return localClients{}, err
	}
	apps, err := appsv1client.NewForConfigAndClient(config, httpClient)
	if err != nil {
		return localClients{}, err
	}
	core, err := corev1client.NewForConfigAndClient(config, httpClient)
	if err != nil {
		return localClients{}, err
	}
	return localClients{apps, core}, nil
}

// localConfig is the config of the cluster the step runs in: from the
// kubeconfig files KUBECONFIG lists when it is set, else the pod's.
func localConfig(getenv func(string) string) (*rest.Config, error) {
	if paths := getenv("KUBECONFIG"); paths != "" {
		rules := &clientcmd.ClientConfigLoadingRules{Precedence: filepath.SplitList(paths)}
		return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	}
	return rest.InClusterConfig()
}

// podNamespace is the namespace the step runs in: POD_NAMESPACE, else the
// pod's service account's.
func podNamespace(getenv func(string) string) string {
	if ns := getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	if data, err := os.ReadFile(serviceAccountNamespace); err == nil {
		return strings.TrimSpace(string(data))
	}
	return ""
}

// localClients is a rollout.Local of two typed clients.
type localClients struct {
	apps appsv1client.AppsV1Interface
	core corev1client.CoreV1Interface
}

func (c localClients) AppsV1() appsv1client.AppsV1Interface { return c.apps }
func (c localClients) CoreV1() corev1client.CoreV1Interface { return c.core }
