package render

import (
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/argodeploy/argodeploy/pkg/testcorpus/randjson"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// k8sResourceByMaps is how k8sResource was written before it split the
// JSON itself: decode the members into a map, drop status and the creation
// timestamp, marshal again. k8sResource must give the same bytes.
func k8sResourceByMaps(obj any) ([]byte, error) {
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, err
	}
	delete(fields, "status")
	if meta, ok := fields["metadata"]; ok {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(meta, &m); err != nil {
			return nil, err
		}
		delete(m, "creationTimestamp")
		if fields["metadata"], err = json.Marshal(m); err != nil {
			return nil, err
		}
	}
	return json.Marshal(fields)
}

// TestK8sResourceMatchesMaps: on the objects triggers carry, on objects
// with a status, odd strings and numbers last, and on 2,000 random
// objects, k8sResource writes what the map-based version wrote.
func TestK8sResourceMatchesMaps(t *testing.T) {
	replicas := int32(3)
	objs := []any{
		&wfv1.Workflow{TypeMeta: metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: "Workflow"},
			ObjectMeta: metav1.ObjectMeta{GenerateName: "web-", Namespace: "ns", Labels: map[string]string{"a": `q"uote\\`}},
			Spec:       wfv1.WorkflowSpec{Entrypoint: "main", Arguments: wfv1.Arguments{Parameters: []wfv1.Parameter{{Name: "p", Value: wfv1.AnyStringPtr("{x}[y],z:")}}}}},
		&corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: metav1.ObjectMeta{Name: "c", Annotations: map[string]string{"creationTimestamp": "kept"}},
			Data:       map[string]string{"message": "", "é": "<&>"}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d"}, Spec: appsv1.DeploymentSpec{Replicas: &replicas},
			Status: appsv1.DeploymentStatus{ReadyReplicas: 2}},
		struct {
			Metadata map[string]any `json:"metadata"`
			Z        int            `json:"z"`
			A        bool           `json:"a"`
		}{map[string]any{"creationTimestamp": nil, "x": []any{1.5, "]"}}, -7, true},
		map[string]any{"status": 1, "b": nil, "a": "\u2028"},
		map[string]any{},
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 2000 {
		obj := randjson.Object(rng, 4)
		if rng.IntN(2) == 0 {
			obj["metadata"] = map[string]any{"creationTimestamp": nil, "name": randjson.Value(rng, 1)}
		}
		objs = append(objs, obj)
	}
	for _, obj := range objs {
		want, wantErr := k8sResourceByMaps(obj)
		got, err := k8sResource(obj)
		if wantErr != nil {
			if err == nil {
				t.Errorf("%#v: no error, the map-based version says %v", obj, wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%#v: %v", obj, err)
			continue
		}
		if string(got.Value) != string(want) {
			t.Errorf("%#v:\n got %s\nwant %s", obj, got.Value, want)
		}
	}
}
