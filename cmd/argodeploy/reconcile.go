package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	eventsv1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"

	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/reconcile"
	"github.com/argodeploy/argodeploy/pkg/render"
	"github.com/argodeploy/argodeploy/pkg/rollout"
	"github.com/argodeploy/argodeploy/pkg/status"
)

func newReconcileCommand(s streams) *cobra.Command {
	var cacheDir, template, pipeline, eventBus, busAuth string
	var sensors []string
	var dryRun bool
	var keepDeadLetters int
	var deadLetterMaxAge time.Duration
	cmd := &cobra.Command{
		Use:   "reconcile --workflow-template NAME",
		Short: "Release again the pushes targets missed: the step of the reconcile CronWorkflow",
		Long: `Release again the pushes that targets missed: the step the pipeline's reconcile
CronWorkflow runs every few minutes, behind the event-driven path.

For each service in the cache (--cache-dir), it lists the image's tags in the
registry (Artifact Registry answers with every manifest and its upload time
in one request), finds the newest push each target takes (its tagPattern,
policy and semverRange; a restart target only the tag its container
references), and reads what the target last received from its Deployment's
argodeploy.dev/state annotation. For each push a target lacks it creates a
Workflow from --workflow-template with the push's digest, tag and upload
time, as the Sensor would have: the same route step, locks and policies
decide, and a newer push that arrived meanwhile wins. It never asks for a
push older than what a target has, nor again for one a target undid.

With --event-bus, a pass first checks the JetStream bus (from the
EventBus's status, with the client credentials in --bus-auth): a bus that
restarted empty has lost the stream and the Sensors' key-value buckets,
which an argo-events Sensor creates only when its pod starts; until then it
can never reconnect, and the EventSource leaves every push in Pub/Sub. The
pass recreates them with the Sensor's own code (--sensor, each), and the
Sensor reconnects within 5 s; the pushes the bus lost are then released
from the registry like any other.

With --keep-dead-letters, a pass also bounds the pipeline's dead letters
(the ConfigMaps of pushes whose Workflow the Sensor could not create): it
deletes those older than --dead-letter-max-age, then the oldest beyond the
count. The pushes they held are still found in the registry by the pass.

Registry credentials: Google's (Workload Identity's metadata server, or
gcloud), else Docker's config. Kubernetes: KUBECONFIG, else in-cluster.

Exit status: 0 every service was checked; 1 some registry or API call
failed (the others were still checked); 2 bad usage or cache.`,
		Example: `  # See what a pass would release, without creating anything
  argodeploy reconcile --workflow-template shop-rollout --cache-dir ./cache --dry-run

  # What the CronWorkflow runs: the bus check, the pass, then the dead-letter bound
  argodeploy reconcile --workflow-template shop-rollout --event-bus default --sensor shop \
    --bus-auth /etc/argodeploy/bus/auth.yaml --keep-dead-letters 100 --dead-letter-max-age 168h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if template == "" {
				return &exitError{code: exitUsage, err: errors.New("--workflow-template is required")}
			}
			if pipeline == "" {
				pipeline = strings.TrimSuffix(template, "-rollout")
			}
			if keepDeadLetters < 0 || deadLetterMaxAge < 0 {
				return &exitError{code: exitUsage, err: errors.New("--keep-dead-letters and --dead-letter-max-age cannot be negative")}
			}
			if (eventBus == "") != (len(sensors) == 0) {
				return &exitError{code: exitUsage, err: errors.New("--event-bus and --sensor go together: the bus to check and the Sensors that read it")}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			services, err := rollout.LoadServices(cacheDir)
			if err != nil {
				return &exitError{code: rollout.ExitPermanent, err: err}
			}
			config, err := localConfig(os.Getenv)
			if err != nil {
				return &exitError{code: rollout.ExitPermanent, err: fmt.Errorf("no client of the cluster: %v", err)}
			}
			local, err := localClientFor(config)
			if err != nil {
				return &exitError{code: rollout.ExitPermanent, err: fmt.Errorf("no client of the cluster: %v", err)}
			}
			workflows, err := dynamic.NewForConfig(config)
			if err != nil {
				return &exitError{code: rollout.ExitPermanent, err: err}
			}
			namespace := podNamespace(os.Getenv)
			var busErr error
			if eventBus != "" {
				if busErr = repairBus(ctx, workflows, namespace, eventBus, sensors, busAuth, s); busErr != nil {
					busErr = fmt.Errorf("event bus %s: %w", eventBus, busErr)
				}
			}
			registry := &reconcile.Registry{}
			sum, err := reconcile.Run(ctx, reconcile.Options{
				Services: services,
				List:     registry.List,
				Clusters: rollout.NewClusters(local, namespace),
				Release: func(ctx context.Context, svc *mapping.Service, r reconcile.Release) (string, error) {
					return createRelease(ctx, workflows, namespace, pipeline, template, "reconcile", r)
				},
				DryRun: dryRun,
				Log:    s.err,
			})
			fmt.Fprintf(s.err, "argodeploy: reconcile: %d services, %d targets: %d up to date, %d releases, %d failed; %d registry requests\n",
				sum.Services, sum.Targets, sum.UpToDate, sum.Releases, sum.Failed, registry.Requests.Load())
			var pruneErr error
			if keepDeadLetters > 0 {
				bound := status.Bound{Keep: keepDeadLetters, MaxAge: deadLetterMaxAge}
				pruneErr = status.PruneDeadLetters(ctx, local.core, namespace, pipeline, bound, time.Now(), dryRun, s.err)
			}
			if err = errors.Join(busErr, err, pruneErr); err != nil {
				return &exitError{code: rollout.ExitTransient, err: err}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cacheDir, "cache-dir", "/etc/argodeploy/cache", "the directory of the cache entries")
	f.StringVar(&template, "workflow-template", "", "the WorkflowTemplate the release Workflows run")
	f.StringVar(&pipeline, "pipeline", "", "the pipeline the release Workflows are part of (default: --workflow-template less -rollout)")
	f.BoolVar(&dryRun, "dry-run", false, "only say what would be released")
	f.StringVar(&eventBus, "event-bus", "", "the JetStream EventBus to check first, in the pod's namespace (none: no check)")
	f.StringSliceVar(&sensors, "sensor", nil, "a Sensor that reads --event-bus (repeat for each)")
	f.IntVar(&keepDeadLetters, "keep-dead-letters", 0, "keep at most this many dead letters of the pipeline, deleting the oldest (0: delete none)")
	f.DurationVar(&deadLetterMaxAge, "dead-letter-max-age", 168*time.Hour, "with --keep-dead-letters, also delete the dead letters older than this")
	f.StringVar(&busAuth, "bus-auth", "/etc/argodeploy/bus/auth.yaml", "the EventBus's client credentials (key client-auth of its Secret eventbus-NAME-js-client-auth)")
	return cmd
}

// repairBus reads the EventBus and the Sensors from the cluster and runs
// reconcile.RepairBus on them.
func repairBus(ctx context.Context, client dynamic.Interface, namespace, name string, sensorNames []string, authFile string, s streams) error {
	auth, err := reconcile.LoadBusAuth(authFile)
	if err != nil {
		return err
	}
	var bus eventsv1.EventBus
	if err := getTyped(ctx, client, "eventbus", namespace, name, &bus); err != nil {
		return err
	}
	js := bus.Status.Config.JetStream
	if js == nil || js.URL == "" {
		return fmt.Errorf("EventBus %s/%s has no JetStream address in its status yet", namespace, name)
	}
	var sensors []*eventsv1.Sensor
	for _, n := range sensorNames {
		sensor := &eventsv1.Sensor{}
		if err := getTyped(ctx, client, "sensors", namespace, n, sensor); err != nil {
			return err
		}
		sensors = append(sensors, sensor)
	}
	_, err = reconcile.RepairBus(reconcile.Bus{URL: js.URL, StreamConfig: js.StreamConfig, Auth: auth}, sensors, s.err)
	return err
}

// getTyped reads an argoproj.io object into out.
func getTyped(ctx context.Context, client dynamic.Interface, resource, namespace, name string, out any) error {
	u, err := client.Resource(eventsv1.SchemeGroupVersion.WithResource(resource)).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	return runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, out)
}

// createRelease creates the Workflow of release r from template in
// namespace, named and labelled as the pipeline's Sensor names its
// Workflows, with the arguments its trigger gives one, and labelled with
// its origin (reconcile, replay).
func createRelease(ctx context.Context, client dynamic.Interface, namespace, pipeline, template, origin string, r reconcile.Release, extra ...wfv1.Parameter) (string, error) {
	values := map[string]string{
		render.ParamDigest:      r.Digest,
		render.ParamTag:         r.Tag,
		render.ParamPublishedAt: strconv.FormatInt(r.PublishedAt, 10),
	}
	wf := &wfv1.Workflow{
		TypeMeta: metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: "Workflow"},
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: pipeline + "-",
			Namespace:    namespace,
			Labels:       map[string]string{render.LabelManagedBy: render.ManagerName, render.LabelPartOf: pipeline, render.LabelOrigin: origin},
		},
		Spec: wfv1.WorkflowSpec{WorkflowTemplateRef: &wfv1.WorkflowTemplateRef{Name: template}},
	}
	for _, name := range render.WorkflowParams() {
		wf.Spec.Arguments.Parameters = append(wf.Spec.Arguments.Parameters, wfv1.Parameter{Name: name, Value: wfv1.AnyStringPtr(values[name])})
	}
	wf.Spec.Arguments.Parameters = append(wf.Spec.Arguments.Parameters, extra...)
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(wf)
	if err != nil {
		return "", err
	}
	created, err := client.Resource(wfv1.SchemeGroupVersion.WithResource("workflows")).Namespace(namespace).Create(ctx, &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{})
	if err != nil {
		return "", err
	}
	return created.GetName(), nil
}
