package render

import (
	eventsv1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/argodeploy/argodeploy/pkg/mapping"
)

var (
	eventSourceType = metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: "EventSource"}
	eventBusType    = metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: "EventBus"}
)

// eventSource subscribes to the registry's Pub/Sub topic and hands each
// message to the EventBus as JSON (jsonBody), so the Sensor can filter on
// body.action, body.digest and body.tag.
func (p *pipeline) eventSource() Object {
	gcp := p.m.Spec.GCP
	src := eventsv1.PubSubEventSource{
		ProjectID:      gcp.Project,
		TopicProjectID: gcp.TopicProject,
		Topic:          gcp.Topic,
		SubscriptionID: gcp.Subscription,
		JSONBody:       true,
	}
	if c := gcp.CredentialSecret; c != nil {
		src.CredentialSecret = &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: c.Name}, Key: c.Key}
	}
	return &eventsv1.EventSource{
		TypeMeta:   eventSourceType,
		ObjectMeta: p.meta(p.eventSourceName(), p.ns),
		Spec: eventsv1.EventSourceSpec{
			EventBusName: p.m.Spec.EventBus.Name,
			Template:     p.argoEventsPod(p.eventSourceAccount()),
			PubSub:       map[string]eventsv1.PubSubEventSource{EventName: src},
		},
	}
}

// eventBus is a JetStream bus. A single replica also needs a single-replica
// stream, or the bus never becomes ready.
func (p *pipeline) eventBus() Object {
	js := p.m.Spec.EventBus.JetStream
	bus := &eventsv1.JetStreamBus{
		Version:                   js.Version,
		Replicas:                  ptr.To(js.Replicas),
		SecurityContext:           restrictedPodSecurity(),
		ContainerTemplate:         &eventsv1.ContainerTemplate{Resources: natsResources, SecurityContext: restrictedContainerSecurity()},
		ReloaderContainerTemplate: &eventsv1.ContainerTemplate{Resources: sidecarResources, SecurityContext: restrictedContainerSecurity()},
		MetricsContainerTemplate:  &eventsv1.ContainerTemplate{Resources: sidecarResources, SecurityContext: restrictedContainerSecurity()},
	}
	if c := streamConfig(js); c != "" {
		bus.StreamConfig = &c
	}
	if st := js.Storage; !st.Ephemeral {
		bus.Persistence = &eventsv1.PersistenceStrategy{VolumeSize: ptr.To(resource.MustParse(st.Size))}
		if st.StorageClassName != "" {
			bus.Persistence.StorageClassName = ptr.To(st.StorageClassName)
		}
	}
	return &eventsv1.EventBus{
		TypeMeta:   eventBusType,
		ObjectMeta: p.meta(p.m.Spec.EventBus.Name, p.ns),
		Spec:       eventsv1.EventBusSpec{JetStream: bus},
	}
}

// streamConfig is what the bus changes of the controller's stream
// settings (argo-events merges it over them): a single replica needs a
// single-replica stream, or the bus never becomes ready; on a claim, the
// stream is bounded to fit it, oldest events dropped first.
func streamConfig(js mapping.JetStream) string {
	settings := map[string]int64{}
	if js.Replicas == 1 {
		settings["replicas"] = 1
	}
	if !js.Storage.Ephemeral {
		settings["maxBytes"] = js.Storage.StreamBytes()
	}
	if len(settings) == 0 {
		return ""
	}
	out, err := yaml.Marshal(settings)
	if err != nil {
		panic(err) // a map of numbers always marshals
	}
	return string(out)
}

// argoEventsPod is the pod template of an EventSource or Sensor: its own
// service account and the "restricted" Pod Security Standard.
func (p *pipeline) argoEventsPod(account string) *eventsv1.Template {
	return &eventsv1.Template{
		ServiceAccountName: account,
		SecurityContext:    restrictedPodSecurity(),
		Container:          &eventsv1.Container{Resources: argoEventsResources, SecurityContext: restrictedContainerSecurity()},
	}
}

// Requests and limits of the pods Argo Events runs for the pipeline, so
// that none is unbounded: an EventSource or Sensor pod holds one Pub/Sub
// subscription or a shard of dependencies; the JetStream server keeps its
// streams on disk; its reloader and metrics sidecars are small.
var (
	argoEventsResources = resources("50m", "64Mi", "500m", "256Mi")
	natsResources       = resources("100m", "128Mi", "1", "1Gi")
	sidecarResources    = resources("10m", "16Mi", "100m", "64Mi")
)

func resources(cpuRequest, memoryRequest, cpuLimit, memoryLimit string) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpuRequest), corev1.ResourceMemory: resource.MustParse(memoryRequest)},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpuLimit), corev1.ResourceMemory: resource.MustParse(memoryLimit)},
	}
}

// nobody is the unprivileged user every generated pod runs as.
const nobody = 65534

func restrictedPodSecurity() *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{
		RunAsNonRoot:   ptr.To(true),
		RunAsUser:      ptr.To[int64](nobody),
		RunAsGroup:     ptr.To[int64](nobody),
		FSGroup:        ptr.To[int64](nobody),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// restrictedContainerSecurity is what the "restricted" Pod Security Standard
// asks of every container.
func restrictedContainerSecurity() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		RunAsNonRoot:             ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}
