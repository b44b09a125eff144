package reconcile

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"

	"github.com/argodeploy/argodeploy/pkg/mapping"
)

func deploymentRunning(ns, ref string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "web", Image: ref}},
		}}},
	}
}

// TestRun: a pass releases what is behind, once per push, leaves what is
// up to date, and goes on past a service whose registry fails, which it
// reports.
func TestRun(t *testing.T) {
	api := image
	other := "europe-docker.pkg.dev/acme/apps/api"
	broken := "europe-docker.pkg.dev/acme/apps/broken"
	services := []mapping.Service{
		{Name: "web", Image: api, Targets: []mapping.Target{target("prod", mapping.StrategySetImage, mapping.DefaultTagPattern, mapping.PolicyPublishTime)}},
		{Name: "broken", Image: broken, Targets: []mapping.Target{target("broken", mapping.StrategySetImage, mapping.DefaultTagPattern, mapping.PolicyPublishTime)}},
		{Name: "api", Image: other, Targets: []mapping.Target{target("api", mapping.StrategySetImage, mapping.DefaultTagPattern, mapping.PolicyPublishTime)}},
	}
	cs := fake.NewClientset(
		deploymentRunning("prod", api+"@"+dig(1)),
		deploymentRunning("api", other+"@"+dig(7)),
	)
	registry := map[string][]Pushed{
		api:   {{dig(1), []string{"v1"}, at(1)}, {dig(2), []string{"v2"}, at(2)}},
		other: {{dig(7), []string{"v7"}, at(7)}},
	}
	var released []string
	var log bytes.Buffer
	sum, err := Run(context.Background(), Options{
		Services: services,
		List: func(_ context.Context, image string, _ func(string) bool) ([]Pushed, error) {
			if image == broken {
				return nil, errors.New("403 Forbidden")
			}
			return registry[image], nil
		},
		Clusters: func(context.Context, *mapping.Target) (appsv1client.DeploymentsGetter, error) {
			return cs.AppsV1(), nil
		},
		Release: func(_ context.Context, svc *mapping.Service, r Release) (string, error) {
			released = append(released, svc.Name+" "+r.Tag)
			return "web-rollout-x1", nil
		},
		Log: &log,
	})
	if err == nil || !strings.Contains(err.Error(), "1 of 3") {
		t.Errorf("err = %v, want the broken service counted", err)
	}
	if strings.Join(released, ";") != "web "+api+":v2" {
		t.Errorf("released %v", released)
	}
	if sum.Services != 3 || sum.Releases != 1 || sum.UpToDate != 1 || sum.Failed != 1 {
		t.Errorf("summary %+v", sum)
	}
	for _, want := range []string{"broken: registry: 403 Forbidden", "web/prod behind: release " + api + ":v2", "Workflow web-rollout-x1", "api/api: runs " + dig(7)} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
}
