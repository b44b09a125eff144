package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/argoproj/argo-events/pkg/reconciler"
	"sigs.k8s.io/yaml"
)

// The images the real Argo Events controller puts in the pods it makes,
// built here (node_images.go) and imported into the node.
const (
	ArgoEventsImage = "example.com/argodeploy-e2e/argo-events:" + ArgoEventsVersion
	NATSImage       = "example.com/argodeploy-e2e/nats:" + NATSServerVersion
	// NATSReloaderImage and NATSExporterImage are the JetStream
	// StatefulSet's sidecars (nats-server-config-reloader from
	// github.com/nats-io/nack, prometheus-nats-exporter). The module proxy
	// here serves neither module: the node runs StandInImage under both
	// names (see the README).
	NATSReloaderImage = "example.com/argodeploy-e2e/nats-server-config-reloader:0.14.0"
	NATSExporterImage = "example.com/argodeploy-e2e/prometheus-nats-exporter:0.14.0"
)

// eventsConfigDir is where the controller reads controller-config.yaml
// (reconciler.LoadConfig); the path is fixed in its code.
const eventsConfigDir = "/etc/argo-events"

// EventsControllerConfig is the controller's ConfigMap,
// argo-events-controller-config, as upstream's install ships it
// (manifests/base/controller-manager/controller-config.yaml) with one
// JetStream version, 2.10.29 (what argodeploy's EventBus asks for), whose images are the local ones.
func EventsControllerConfig() *reconciler.GlobalConfig {
	return &reconciler.GlobalConfig{EventBus: &reconciler.EventBusConfig{
		// ValidateConfig wants a NATS Streaming version too; none is used.
		NATS: &reconciler.StanConfig{Versions: []reconciler.StanVersion{{
			Version: "0.22.1", NATSStreamingImage: "nats-streaming:0.22.1", MetricsExporterImage: NATSExporterImage,
		}}},
		JetStream: &reconciler.JetStreamConfig{
			Settings:     "max_memory_store: -1\nmax_file_store: 1TB\n",
			StreamConfig: "maxMsgs: 50000\nmaxAge: 168h\nmaxBytes: -1\nreplicas: 3\nduplicates: 300s\nretention: 0\ndiscard: 0\n",
			Versions: []reconciler.JetStreamVersion{{
				Version:              "2.10.29",
				NatsImage:            NATSImage,
				ConfigReloaderImage:  NATSReloaderImage,
				MetricsExporterImage: NATSExporterImage,
				StartCommand:         "/nats-server",
			}},
		},
	}}
}

// StartEventsController runs the real Argo Events controller
// (`argo-events controller`) against api with cfg as its
// controller-config.yaml, ARGO_EVENTS_IMAGE the local image (pulled
// IfNotPresent), cluster-wide
// (as the cluster install), its metrics and health ports free ones, and
// without leader election (one controller; outside a pod controller-runtime
// finds no namespace for the lease). The
// configuration is bind-mounted on /etc/argo-events in the controller's
// own mount namespace, as the ConfigMap volume is in its pod. It returns
// when it logs that its manager starts (its reconcilers log nothing more).
func (e *Env) StartEventsController(ctx context.Context, api *APIServer, cfg *reconciler.GlobalConfig) (*Proc, error) {
	bin, err := Binary("argo-events-" + ArgoEventsVersion)
	if err != nil {
		return nil, err
	}
	data, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(e.Path("events-controller", "config", "x"))
	if err := os.WriteFile(filepath.Join(dir, "controller-config.yaml"), data, 0o644); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(eventsConfigDir, 0o755); err != nil {
		return nil, fmt.Errorf("the controller reads %s, which must exist as a mount point: %w", eventsConfigDir, err)
	}
	var ports [2]int
	for i := range ports {
		if ports[i], err = FreePort(); err != nil {
			return nil, err
		}
	}
	// IMAGE_PULL_POLICY: the controller's pods would pull its image Always
	// by default; the node has it imported and reaches no registry.
	env := []string{"KUBECONFIG=" + api.Kubeconfig, "ARGO_EVENTS_IMAGE=" + ArgoEventsImage, "IMAGE_PULL_POLICY=IfNotPresent", "NAMESPACE=argo-events"}
	script := `mount --bind "$1" ` + eventsConfigDir + ` && shift && exec "$@"`
	p, err := e.Start("events-controller", env, "unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", dir,
		bin, "controller", "--leader-election=false", fmt.Sprintf("--metrics-port=%d", ports[0]), fmt.Sprintf("--health-port=%d", ports[1]))
	if err != nil {
		return nil, err
	}
	return p, WaitForLog(ctx, p, `Starting controller manager`, 60*time.Second)
}
