// Package render turns a checked service mapping into the typed Kubernetes
// objects of the redeploy pipeline: RBAC, cache ConfigMaps, EventBus,
// WorkflowTemplate, reconcile CronWorkflow, EventSource and Sensors.
package render

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/argodeploy/argodeploy/pkg/mapping"
)

// Object is a typed Kubernetes object with its TypeMeta set.
type Object interface {
	runtime.Object
	metav1.Object
}

// Convert returns objs as a slice of an interface every Object satisfies,
// such as runtime.Object for the checks or output.Object for the writers.
func Convert[T any](objs []Object) []T {
	out := make([]T, len(objs))
	for i, o := range objs {
		out[i] = any(o).(T)
	}
	return out
}

// Labels and annotations that generated objects carry.
const (
	LabelManagedBy  = "app.kubernetes.io/managed-by"
	LabelPartOf     = "app.kubernetes.io/part-of"
	LabelDeadLetter = "argodeploy.dev/dead-letter"
	// LabelOrigin marks a release Workflow that the Sensor did not create:
	// reconcile or replay.
	LabelOrigin = "argodeploy.dev/origin"
	ManagerName = "argodeploy"
)

// EventName is the name of the Pub/Sub event inside the EventSource.
const EventName = "artifact-registry"

// DefaultShardBytes keeps every Sensor and cache ConfigMap small enough for
// client-side `kubectl apply`, which copies the object into an annotation
// limited to 256 KiB.
const DefaultShardBytes = 200 * 1024

// ShardBytesAnnotation records a ShardBytes other than the default on each
// cache ConfigMap, so that validate --mapping regenerates the same shards.
const ShardBytesAnnotation = "argodeploy.dev/max-object-bytes"

// MaxSensorBytes caps the JSON of each Sensor, whatever ShardBytes says:
// the Argo Events controller hands a Sensor to its pod as one environment
// variable, SENSOR_OBJECT, the base64 of the Sensor's metadata and spec
// (pkg/reconciler/sensor/resource.go), and Linux refuses to start a
// program with a single environment string over 128 KiB (MAX_ARG_STRLEN):
// the pod would fail with "argument list too long". 90 KiB of JSON is
// 120 KiB of base64.
const MaxSensorBytes = 90 * 1024

// Options tune rendering; the zero value is the default.
type Options struct {
	// ShardBytes caps the JSON size of each Sensor and cache ConfigMap
	// (default DefaultShardBytes).
	ShardBytes int
}

// Render turns a checked, defaulted mapping into the pipeline's objects, in
// apply order: the Namespace (when the mapping asks for it), service accounts, roles, role bindings, cache ConfigMaps,
// EventBus, WorkflowTemplate, reconcile CronWorkflow, EventSource, Sensors.
func Render(m *mapping.ServiceMapping, opts Options) ([]Object, error) {
	if opts.ShardBytes <= 0 {
		opts.ShardBytes = DefaultShardBytes
	}
	p := newPipeline(m)
	caches, err := p.cacheConfigMaps(opts.ShardBytes)
	if err != nil {
		return nil, err
	}
	sensors, err := p.sensors(min(opts.ShardBytes, MaxSensorBytes))
	if err != nil {
		return nil, err
	}
	var objs []Object
	if m.Spec.CreateNamespace {
		objs = append(objs, p.namespace())
	}
	objs = append(objs, p.serviceAccounts()...)
	roles, bindings := p.rbac(names(sensors))
	objs = append(objs, roles...)
	objs = append(objs, bindings...)
	objs = append(objs, caches...)
	objs = append(objs, p.eventBus())
	objs = append(objs, p.workflowTemplate(caches), p.cronWorkflow(caches, names(sensors)))
	objs = append(objs, p.eventSource())
	objs = append(objs, sensors...)
	return objs, nil
}

// names are the objects' names, in order.
func names(objs []Object) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = o.GetName()
	}
	return out
}
