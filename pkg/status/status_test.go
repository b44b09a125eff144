package status

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/render"
	"github.com/argodeploy/argodeploy/pkg/rollout"
)

func deployment(ns, name string, state string, containers ...string) *appsv1.Deployment {
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Generation: 2}}
	d.Spec.Replicas = ptr.To(int32(1))
	if state != "" {
		d.Annotations = map[string]string{rollout.AnnotationState: state}
	}
	for _, c := range containers {
		d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers, corev1.Container{Name: c, Image: "img/" + c + ":1"})
	}
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 1, UpdatedReplicas: 1, AvailableReplicas: 1}
	return d
}

// TestRead: each target reads its own container's entry, two services in
// one Deployment included; a missing Deployment or container is said per
// target; the dead letters of this pipeline only, newest first.
func TestRead(t *testing.T) {
	m, err := mapping.Load("../../examples/multi-namespace.yaml")
	if err != nil {
		t.Fatal(err)
	}
	digest := "sha256:" + strings.Repeat("a", 64)
	worker := deployment("prod", "worker",
		`{"worker":{"digest":"`+digest+`","tag":"v1.2.0","publishedAt":"1700000000000000000","outcome":"healthy","healthyAt":"2026-01-02T03:04:05Z","workflow":"platform-abc"},`+
			`"batch":{"digest":"sha256:`+strings.Repeat("b", 64)+`","tag":"v1.1.0","outcome":"undone","undone":"sha256:`+strings.Repeat("c", 64)+`"}}`,
		"worker", "batch")
	rolling := deployment("prod", "api", "", "api")
	rolling.Status.UpdatedReplicas = 0
	dl := func(name string, created time.Time, part string) *corev1.ConfigMap {
		return &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: "argo-events", Name: name, CreationTimestamp: metav1.NewTime(created),
				Labels: map[string]string{render.LabelDeadLetter: "true", render.LabelPartOf: part}},
			Data: map[string]string{"message": `{"action":"INSERT","digest":"x@` + digest + `","tag":"x:v9"}`, "publishTime": "2026-01-01 00:00:00 +0000 UTC"},
		}
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	client := fake.NewSimpleClientset(worker, rolling, deployment("web", "docs", "", "other"),
		dl("platform-dead-letter-1", t0, "platform"), dl("platform-dead-letter-2", t0.Add(time.Hour), "platform"), dl("other-dead-letter-1", t0, "other"))
	r := Read(context.Background(), Options{Mapping: m, Clusters: rollout.NewClusters(client, "argo-events"), ConfigMaps: client.CoreV1()})

	byTarget := map[string]Target{}
	for _, tg := range r.Targets {
		byTarget[tg.Target] = tg
	}
	if got := byTarget["api-worker"]; got.Digest != digest || got.Tag != "v1.2.0" || got.Outcome != "healthy" || got.Workflow != "platform-abc" ||
		got.PublishedAt != "2023-11-14T22:13:20Z" || got.Image != "img/worker:1" || got.Rollout != "complete" || got.Error != "" {
		t.Errorf("api-worker: %+v", got)
	}
	if got := byTarget["api-worker-batch"]; got.Outcome != "undone" || got.Tag != "v1.1.0" || got.Undone != "sha256:"+strings.Repeat("c", 64) || got.Container != "batch" {
		t.Errorf("api-worker-batch: %+v", got)
	}
	if got := byTarget["api"]; got.Digest != "" || got.Rollout != `Waiting for deployment "api" rollout to finish: 0 out of 1 new replicas have been updated...` || got.Error != "" {
		t.Errorf("api: %+v", got)
	}
	if got := byTarget["api-staging"]; !strings.Contains(got.Error, `deployments.apps "api" not found`) {
		t.Errorf("api-staging: %+v", got)
	}
	if got := byTarget["docs"]; got.Error != "deployment web/docs has no container docs" {
		t.Errorf("docs: %+v", got)
	}
	if len(r.DeadLetters) != 2 || r.DeadLetters[0].Name != "platform-dead-letter-2" || r.DeadLetters[1].Tag != "x:v9" || r.DeadLetters[1].Digest != "x@"+digest {
		t.Errorf("dead letters: %+v", r.DeadLetters)
	}
	if got := r.Unread(); got != "2 of 5 targets" {
		t.Errorf("unread %q", got)
	}
}
