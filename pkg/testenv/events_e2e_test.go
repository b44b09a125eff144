//go:build e2e

package testenv_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	aev1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/argodeploy/argodeploy/pkg/testenv"
)

// TestArgoEventsController runs the real Argo Events controller on the
// manifests argodeploy generates for examples/single-service.yaml and
// checks what it makes of them: the JetStream StatefulSet of the local
// images with the securityContext, resources and volume size argodeploy
// wrote, the bus's Service and Secrets and status, and the EventSource's
// and Sensor's Deployments of the local argo-events image.
func TestArgoEventsController(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	e := testenv.New(t)
	step := stepper(t)
	start := time.Now()
	api := startKube(ctx, e, step)
	step("start argo-events controller", func() error {
		_, err := e.StartEventsController(ctx, api, testenv.EventsControllerConfig())
		return err
	})
	applyPipeline(ctx, t, step, api, generateWith(t, "../../examples/single-service.yaml"), "argo-events", "shop")

	var sts appsv1.StatefulSet
	pollGet(ctx, t, api, "the JetStream StatefulSet", 60*time.Second, &sts, func() string { return "" },
		"statefulset", "eventbus-default-js", "-n", "argo-events")
	if got := *sts.Spec.Replicas; got != 3 {
		t.Errorf("StatefulSet replicas = %d, want the EventBus's 3", got)
	}
	pod := sts.Spec.Template.Spec
	if sc := pod.SecurityContext; sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != 65534 || sc.FSGroup == nil || *sc.FSGroup != 65534 {
		t.Errorf("StatefulSet pod securityContext = %+v, want argodeploy's (65534, fsGroup 65534)", sc)
	}
	images := map[string]string{"main": testenv.NATSImage, "reloader": testenv.NATSReloaderImage, "metrics": testenv.NATSExporterImage}
	for _, c := range pod.Containers {
		if want, ok := images[c.Name]; !ok || c.Image != want {
			t.Errorf("container %s image %s, want %q", c.Name, c.Image, want)
		}
		delete(images, c.Name)
		if c.SecurityContext == nil || c.SecurityContext.AllowPrivilegeEscalation == nil || *c.SecurityContext.AllowPrivilegeEscalation ||
			c.SecurityContext.RunAsNonRoot == nil || !*c.SecurityContext.RunAsNonRoot {
			t.Errorf("container %s securityContext %+v, want argodeploy's restricted one", c.Name, c.SecurityContext)
		}
		if c.Resources.Limits.Memory().IsZero() {
			t.Errorf("container %s has no memory limit", c.Name)
		}
	}
	if len(images) != 0 {
		t.Errorf("StatefulSet lacks containers %v", images)
	}
	if len(sts.Spec.VolumeClaimTemplates) != 1 || sts.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests.Storage().String() != "1Gi" {
		t.Errorf("volumeClaimTemplates = %+v, want one of 1Gi", sts.Spec.VolumeClaimTemplates)
	}
	var svc corev1.Service
	pollGet(ctx, t, api, "the bus Service", 30*time.Second, &svc, func() string { return "" },
		"service", "eventbus-default-js-svc", "-n", "argo-events")
	for _, name := range []string{"eventbus-default-js-client-auth", "eventbus-default-js-server", "eventbus-default-js-config"} {
		kind := "secret"
		if name == "eventbus-default-js-config" {
			kind = "configmap"
		}
		var obj map[string]any
		pollGet(ctx, t, api, name, 30*time.Second, &obj, func() string { return "" }, kind, name, "-n", "argo-events")
	}
	var bus aev1.EventBus
	pollGet(ctx, t, api, "the EventBus's status", 30*time.Second, &bus, func() string {
		if bus.Status.Config.JetStream == nil || bus.Status.Config.JetStream.URL == "" {
			return "no status.config.jetstream.url"
		}
		return ""
	}, "eventbus", "default", "-n", "argo-events")
	if want := "nats://eventbus-default-js-svc.argo-events.svc:4222"; bus.Status.Config.JetStream.URL != want {
		t.Errorf("bus URL %q, want %q", bus.Status.Config.JetStream.URL, want)
	}
	for _, kind := range []string{"eventsource", "sensor"} {
		var list appsv1.DeploymentList
		pollGet(ctx, t, api, "the "+kind+" Deployment", 60*time.Second, &list, func() string {
			if len(list.Items) != 1 {
				return fmt.Sprintf("%d Deployments", len(list.Items))
			}
			return ""
		}, "deployments", "-n", "argo-events", "-l", kind+"-name=shop")
		d := list.Items[0]
		c := d.Spec.Template.Spec.Containers[0]
		if c.Image != testenv.ArgoEventsImage {
			t.Errorf("%s Deployment %s image %q, want %q", kind, d.Name, c.Image, testenv.ArgoEventsImage)
		}
		b, _ := json.Marshal(d.Spec.Template.Spec.SecurityContext)
		t.Logf("%s Deployment %s: args %v, pod securityContext %s", kind, d.Name, c.Args, b)
	}
	t.Logf("TestArgoEventsController: %.1fs", time.Since(start).Seconds())
}

// pollGet reads ARGS (kubectl get -o json) into v until it exists and
// check returns "", or fails the test after timeout with the last reason.
func pollGet(ctx context.Context, t *testing.T, api *testenv.APIServer, what string, timeout time.Duration, v any, check func() string, args ...string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out, err := api.Kubectl(ctx, "", append(append([]string{"get"}, args...), "-o", "json")...)
		reason := ""
		if err != nil {
			reason = err.Error()
		} else if err := json.Unmarshal([]byte(out), v); err != nil {
			reason = err.Error()
		} else {
			reason = check()
		}
		if reason == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s after %s: %s", what, timeout, reason)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}
