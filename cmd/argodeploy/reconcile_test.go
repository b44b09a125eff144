package main

import (
	"context"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/argodeploy/argodeploy/pkg/reconcile"
	"github.com/argodeploy/argodeploy/pkg/render"
)

// TestCreateRelease: a reconcile release is a Workflow of the template
// with the push as its only arguments, as the Sensor's trigger makes it,
// and a label saying where it came from.
func TestCreateRelease(t *testing.T) {
	gvr := wfv1.SchemeGroupVersion.WithResource("workflows")
	client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{gvr: "WorkflowList"})
	r := reconcile.Release{Digest: rolloutDigest, Tag: rolloutImage + ":1.4.2", PublishedAt: 1748858400000000000, Targets: []string{"web"}}
	if _, err := createRelease(context.Background(), client, "argo-events", "shop", "shop-rollout", "reconcile", r); err != nil {
		t.Fatal(err)
	}
	list, err := client.Resource(gvr).Namespace("argo-events").List(context.Background(), metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("workflows %v, %v", list, err)
	}
	var wf wfv1.Workflow
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(list.Items[0].Object, &wf); err != nil {
		t.Fatal(err)
	}
	args := map[string]string{}
	for _, p := range wf.Spec.Arguments.Parameters {
		args[p.Name] = p.Value.String()
	}
	if wf.GenerateName != "shop-" || wf.Labels["app.kubernetes.io/part-of"] != "shop" || wf.Spec.WorkflowTemplateRef.Name != "shop-rollout" || wf.Labels[render.LabelOrigin] != "reconcile" ||
		len(args) != 3 || args["digest"] != r.Digest || args["tag"] != r.Tag || args["published-at"] != "1748858400000000000" {
		t.Errorf("Workflow %+v, arguments %v", wf.ObjectMeta, args)
	}
}
