// Package mapping defines the service-mapping file: which pushed image
// redeploys which Deployment, and how the pipeline around it is configured.
package mapping

import (
	"maps"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
)

// APIVersion and Kind identify a service-mapping file.
const (
	APIVersion = "argodeploy.dev/v1alpha1"
	Kind       = "ServiceMapping"
)

// Defaults applied by Default when a field is left empty.
const (
	DefaultNamespace        = "argo-events"
	DefaultTopic            = "gcr"
	DefaultEventBusName     = "default"
	DefaultJetStreamVersion = "2.10.29" // listed in the argo-events v1.9.11 controller config
	DefaultJetStreamReplica = 3
	DefaultJetStreamStorage = "1Gi"
	DefaultImage            = "ghcr.io/argodeploy/argodeploy:v0.2.0"
	DefaultRetryLimit       = 3
	DefaultRetryDuration    = "10s"
	DefaultRetryFactor      = 2
	DefaultRetryMaxDuration = "5m"
	DefaultCPURequest       = "50m"
	DefaultMemoryRequest    = "64Mi"
	DefaultCPULimit         = "500m"
	DefaultMemoryLimit      = "256Mi"
	DefaultTTL              = "24h"
	DefaultRolloutTimeout   = "5m"
	DefaultApprovalTimeout  = "24h"
	// DefaultReconcileSchedule runs a reconcile pass every five minutes.
	DefaultReconcileSchedule = "*/5 * * * *"
	// DefaultDeadLetterKeep and DefaultDeadLetterMaxAge bound the dead
	// letters a reconcile pass leaves: the newest 100, none older than a week.
	DefaultDeadLetterKeep   = 100
	DefaultDeadLetterMaxAge = "168h"
	DefaultTagPattern       = ".*"
	StrategyRestart         = "restart"
	StrategySetImage        = "set-image"
	DefaultTriggerSteps     = 9    // tries of creating a push's Workflow
	DefaultTriggerDuration  = "2s" // the first wait; 2+4+...+256 s: 8.5 min in all
	DefaultTriggerFactor    = 2
	DefaultTriggerJitter    = 0.2
	PolicyPublishTime       = "publish-time"
	PolicySemver            = "semver"
)

// ServiceMapping is the whole mapping file.
type ServiceMapping struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Metadata   Metadata `json:"metadata"`
	Spec       Spec     `json:"spec"`
	// Warnings are what Parse accepted but a reader should know the cost
	// of, each at its file, line and field.
	Warnings ErrorList `json:"-"`
}

// Metadata names the pipeline; the name prefixes every generated object.
type Metadata struct {
	Name string `json:"name"`
}

// Spec is everything the pipeline is made of.
type Spec struct {
	// Namespace is where the EventSource, EventBus, Sensor, WorkflowTemplate
	// and cache ConfigMap live. Default: argo-events.
	Namespace string `json:"namespace,omitempty"`
	// CreateNamespace writes the Namespace itself, first in apply order.
	CreateNamespace bool      `json:"createNamespace,omitempty"`
	GCP             GCP       `json:"gcp"`
	EventBus        EventBus  `json:"eventBus,omitempty"`
	Sensor          Sensor    `json:"sensor,omitempty"`
	Reconcile       Reconcile `json:"reconcile,omitempty"`
	Workflow        Workflow  `json:"workflow,omitempty"`
	// Notify are the receivers of notifications of releases; a target
	// sends to all of them unless it names its own.
	Notify   []Receiver `json:"notify,omitempty"`
	Services []Service  `json:"services"`
}

// Notification types and the outcomes they are sent on.
const (
	ReceiverWebhook = "webhook"
	ReceiverSlack   = "slack"
	OnRolled        = "rolled"
	OnAlready       = "already"
	OnSkipped       = "skipped"
	OnFailed        = "failed"
	OnUndone        = "undone"
	OnWaiting       = "waiting"
)

// DefaultNotifyOn are the outcomes a receiver gets by default: what
// changed or needs a human, not each push a target skips.
var DefaultNotifyOn = []string{OnRolled, OnFailed, OnUndone, OnWaiting}

// Receiver is where notifications of releases are sent.
type Receiver struct {
	// Name identifies the receiver; a target's notify names it.
	Name string `json:"name"`
	// Type is webhook (a JSON body describing the release) or slack (a
	// Slack-compatible incoming webhook's {"text": ...}).
	Type string `json:"type"`
	// URLSecret holds the URL: it is read from the cluster when sending,
	// never written in the mapping, the manifests or event data.
	URLSecret SecretKeyRef `json:"urlSecret"`
	// On are the outcomes sent. Default: DefaultNotifyOn.
	On []string `json:"on,omitempty"`
}

// GCP says where Artifact Registry publishes and how to subscribe.
type GCP struct {
	// Project is the project the subscription is created in.
	Project string `json:"project"`
	// Topic is the topic Artifact Registry publishes to. Default: gcr.
	Topic string `json:"topic,omitempty"`
	// TopicProject is the registry's project when it differs from Project.
	TopicProject string `json:"topicProject,omitempty"`
	// Subscription is the subscription ID. Default: argodeploy-<metadata.name>.
	Subscription string `json:"subscription,omitempty"`
	// CredentialSecret holds a service-account key; without it the
	// EventSource pod uses Workload Identity.
	CredentialSecret *SecretKeyRef `json:"credentialSecret,omitempty"`
	// ServiceAccount is the Google service account bound through Workload
	// Identity (annotation iam.gke.io/gcp-service-account).
	ServiceAccount string `json:"serviceAccount,omitempty"`
}

// SecretKeyRef points at one key of a Secret in the pipeline namespace.
type SecretKeyRef struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

// EventBus configures the JetStream EventBus between EventSource and Sensor.
type EventBus struct {
	// Name of the EventBus. Default: default.
	Name      string    `json:"name,omitempty"`
	JetStream JetStream `json:"jetstream,omitempty"`
}

// JetStream is the JetStream StatefulSet.
type JetStream struct {
	// Version must be listed in the argo-events controller config. Default: 2.10.29.
	Version string `json:"version,omitempty"`
	// Replicas is 1 or at least 3. Default: 3.
	Replicas int32 `json:"replicas,omitempty"`
	// Storage is the volume each JetStream server keeps the stream on.
	Storage JetStreamStorage `json:"storage,omitempty"`
}

// JetStreamStorage is the volume claim of each JetStream server, so that
// a restarted or rescheduled server comes back with the events it had
// accepted.
type JetStreamStorage struct {
	// Size of each server's claim. Default: 1Gi. The stream keeps at most
	// three quarters of it (StreamBytes), dropping the oldest events first.
	Size string `json:"size,omitempty"`
	// StorageClassName of the claim. Default: the cluster's default class.
	StorageClassName string `json:"storageClassName,omitempty"`
	// Ephemeral keeps the stream in an emptyDir instead, lost with the pod.
	Ephemeral bool `json:"ephemeral,omitempty"`
}

// StreamBytes is the most the stream may hold on a claim of Size: three
// quarters of it, leaving room for the Sensors' key-value buckets and the
// server's own files.
func (s JetStreamStorage) StreamBytes() int64 {
	q, err := resource.ParseQuantity(s.Size)
	if err != nil {
		return 0
	}
	return q.Value() / 4 * 3
}

// Sensor configures the Sensor's triggers.
type Sensor struct {
	Retry TriggerRetry `json:"retry,omitempty"`
}

// Reconcile is the loop behind the events: a CronWorkflow that releases
// again every push a target missed, found in the registry.
type Reconcile struct {
	// Schedule is a five-field cron expression. Default: */5 * * * *.
	Schedule string `json:"schedule,omitempty"`
	// Suspend renders the CronWorkflow suspended.
	Suspend bool `json:"suspend,omitempty"`
	// DeadLetters bounds the dead letters each pass leaves.
	DeadLetters DeadLetters `json:"deadLetters,omitempty"`
}

// DeadLetters bounds the pipeline's dead letters (the ConfigMaps of pushes
// whose Workflow the Sensor could not create): each reconcile pass deletes
// those older than MaxAge, then the oldest beyond Keep.
type DeadLetters struct {
	// Keep is how many dead letters are kept at most. Default: 100.
	Keep int32 `json:"keep,omitempty"`
	// MaxAge is how long a dead letter is kept (Go duration, at least 1h).
	// Default: 168h.
	MaxAge string `json:"maxAge,omitempty"`
}

// TriggerRetry is how long a Sensor keeps trying to create a push's
// Workflow (and then its dead letter) before it gives up: long enough to
// outlast a control-plane restart, bounded so that a message that can never
// succeed still ends. The message stays unacknowledged on the event bus
// meanwhile, and later pushes of the images of the same Sensor wait behind
// it, in order.
type TriggerRetry struct {
	// Steps is how many times creating the Workflow is tried. Default: 9.
	Steps int32 `json:"steps,omitempty"`
	// Duration is the first wait (Go duration). Default: 2s.
	Duration string `json:"duration,omitempty"`
	// Factor multiplies the wait after each try. Default: 2.
	Factor int32 `json:"factor,omitempty"`
	// Jitter adds up to this fraction of each wait, at random. Default: 0.2.
	Jitter *float64 `json:"jitter,omitempty"`
}

// Workflow holds the defaults of the rollout workflow.
type Workflow struct {
	// Image is argodeploy's own image; its "argodeploy rollout" is the
	// rollout step. Pin a version or a digest.
	Image     string    `json:"image,omitempty"`
	Retry     Retry     `json:"retry,omitempty"`
	Resources Resources `json:"resources,omitempty"`
	// TTL keeps finished workflows this long (Go duration). Default: 24h.
	TTL string `json:"ttl,omitempty"`
	// RolloutTimeout bounds the wait for a rolled Deployment to become
	// healthy (Go duration). Default: 5m.
	RolloutTimeout string `json:"rolloutTimeout,omitempty"`
	// ApprovalTimeout bounds how long a release waits for the approval of
	// a target with approval (Go duration). Default: 24h.
	ApprovalTimeout string `json:"approvalTimeout,omitempty"`
}

// Retry is how often and how patiently a transient failure is retried.
type Retry struct {
	Limit   *int32  `json:"limit,omitempty"`
	Backoff Backoff `json:"backoff,omitempty"`
}

// Backoff is an exponential backoff: duration, duration*factor, ... up to maxDuration.
type Backoff struct {
	Duration    string `json:"duration,omitempty"`
	Factor      int32  `json:"factor,omitempty"`
	MaxDuration string `json:"maxDuration,omitempty"`
}

// Resources are the rollout container's requests and limits.
type Resources struct {
	Requests ResourceList `json:"requests,omitempty"`
	Limits   ResourceList `json:"limits,omitempty"`
}

// ResourceList is CPU and memory as Kubernetes quantities.
type ResourceList struct {
	CPU    string `json:"cpu,omitempty"`
	Memory string `json:"memory,omitempty"`
}

// Service maps one image repository to the targets it feeds. A service
// with one target may give the target's fields on the service itself, as
// in the first mapping files; Default moves them into Targets.
type Service struct {
	// Name identifies the service (a DNS label); it names its cache entry.
	Name string `json:"name"`
	// Image is the full repository path without tag or digest,
	// e.g. us-east1-docker.pkg.dev/my-proj/my-repo/app.
	Image string `json:"image"`
	// TagPattern, Strategy, Policy and SemverRange given here are the
	// defaults of the service's targets.
	TagPattern  string `json:"tagPattern,omitempty"`
	Strategy    string `json:"strategy,omitempty"`
	Policy      string `json:"policy,omitempty"`
	SemverRange string `json:"semverRange,omitempty"`
	// Deployment, Namespace, Container, Cluster, Approval and Notify
	// describe the one target of a service without targets.
	Deployment string    `json:"deployment,omitempty"`
	Namespace  string    `json:"namespace,omitempty"`
	Container  string    `json:"container,omitempty"`
	Cluster    *Cluster  `json:"cluster,omitempty"`
	Approval   bool      `json:"approval,omitempty"`
	Notify     *[]string `json:"notify,omitempty"`
	// Targets are the Deployment containers the image rolls to.
	Targets []Target `json:"targets,omitempty"`
	// Metadata is free single-line data carried into the cache ConfigMap,
	// e.g. a post-rollout hook or a notification channel.
	Metadata map[string]string `json:"metadata,omitempty"`
}

// Target is one Deployment container that a service's image rolls to.
type Target struct {
	// Name identifies the target across the mapping (a DNS label).
	// Default, for a service's only target: the service's name.
	Name string `json:"name,omitempty"`
	// Namespace of the Deployment.
	Namespace string `json:"namespace"`
	// Deployment to roll. Default: the service's name.
	Deployment string `json:"deployment,omitempty"`
	// Container that the image runs in. Default: Deployment.
	Container string `json:"container,omitempty"`
	// Cluster is set when the Deployment lives in another cluster.
	Cluster *Cluster `json:"cluster,omitempty"`
	// Strategy is restart (restart the pods when the tag the container
	// references was pushed) or set-image (pin the pushed digest).
	// Default: the service's, else restart.
	Strategy string `json:"strategy,omitempty"`
	// TagPattern is a Go regexp, matched against the whole tag, that a
	// pushed tag must match to reach this target. Default: the service's,
	// else every tag.
	TagPattern string `json:"tagPattern,omitempty"`
	// Policy orders pushes: publish-time (a newer push wins) or semver
	// (never move to a lower version; tags must be semantic versions).
	// Default: the service's, else publish-time.
	Policy string `json:"policy,omitempty"`
	// SemverRange, with policy semver, is a constraint a version must meet,
	// e.g. "^1.2" or ">=1.0.0 <2.0.0". Default: the service's, else any.
	SemverRange string `json:"semverRange,omitempty"`
	// After names a target of the same service that must have run a digest
	// healthily for Soak before this target receives it.
	After string `json:"after,omitempty"`
	// Soak is how long the After target must have run the digest
	// healthily (Go duration). Default: 0 (healthy is enough).
	Soak string `json:"soak,omitempty"`
	// Approval makes a release wait, before it rolls this target, until
	// argodeploy approve lets it (argodeploy reject stops it).
	Approval bool `json:"approval,omitempty"`
	// Notify names the receivers of spec.notify this target sends to; nil
	// sends to all of them, an empty list to none.
	Notify *[]string `json:"notify,omitempty"`
	// Receivers are the receivers the target sends to, resolved by
	// ServiceMapping.Default: what the cache entry carries to the steps,
	// never written in the mapping file (tag mapping:"cache").
	Receivers []Receiver `json:"receivers,omitempty" mapping:"cache"`
}

// Cluster is a target cluster reached through a kubeconfig Secret.
type Cluster struct {
	// Name identifies the cluster in locks and logs.
	Name             string       `json:"name"`
	KubeconfigSecret SecretKeyRef `json:"kubeconfigSecret"`
}

// Default fills every empty optional field with its default.
func (m *ServiceMapping) Default() {
	s := &m.Spec
	setDefault(&s.Namespace, DefaultNamespace)
	setDefault(&s.GCP.Topic, DefaultTopic)
	setDefault(&s.GCP.Subscription, "argodeploy-"+m.Metadata.Name)
	setDefault(&s.EventBus.Name, DefaultEventBusName)
	setDefault(&s.Reconcile.Schedule, DefaultReconcileSchedule)
	if s.Reconcile.DeadLetters.Keep == 0 {
		s.Reconcile.DeadLetters.Keep = DefaultDeadLetterKeep
	}
	setDefault(&s.Reconcile.DeadLetters.MaxAge, DefaultDeadLetterMaxAge)
	setDefault(&s.EventBus.JetStream.Version, DefaultJetStreamVersion)
	if s.EventBus.JetStream.Replicas == 0 {
		s.EventBus.JetStream.Replicas = DefaultJetStreamReplica
	}
	if st := &s.EventBus.JetStream.Storage; !st.Ephemeral {
		setDefault(&st.Size, DefaultJetStreamStorage)
	}
	r := &s.Sensor.Retry
	if r.Steps == 0 {
		r.Steps = DefaultTriggerSteps
	}
	setDefault(&r.Duration, DefaultTriggerDuration)
	if r.Factor == 0 {
		r.Factor = DefaultTriggerFactor
	}
	if r.Jitter == nil {
		jitter := DefaultTriggerJitter
		r.Jitter = &jitter
	}
	w := &s.Workflow
	setDefault(&w.Image, DefaultImage)
	if w.Retry.Limit == nil {
		limit := int32(DefaultRetryLimit)
		w.Retry.Limit = &limit
	}
	setDefault(&w.Retry.Backoff.Duration, DefaultRetryDuration)
	if w.Retry.Backoff.Factor == 0 {
		w.Retry.Backoff.Factor = DefaultRetryFactor
	}
	setDefault(&w.Resources.Requests.CPU, DefaultCPURequest)
	setDefault(&w.Resources.Requests.Memory, DefaultMemoryRequest)
	setDefault(&w.Resources.Limits.CPU, DefaultCPULimit)
	setDefault(&w.Resources.Limits.Memory, DefaultMemoryLimit)
	setDefault(&w.TTL, DefaultTTL)
	setDefault(&w.RolloutTimeout, DefaultRolloutTimeout)
	setDefault(&w.ApprovalTimeout, DefaultApprovalTimeout)
	for i := range s.Notify {
		if len(s.Notify[i].On) == 0 {
			s.Notify[i].On = slices.Clone(DefaultNotifyOn)
		}
	}
	for i := range s.Services {
		s.Services[i].Default()
		for j := range s.Services[i].Targets {
			t := &s.Services[i].Targets[j]
			t.Receivers = nil
			for _, r := range s.Notify {
				if t.Notify == nil || slices.Contains(*t.Notify, r.Name) {
					t.Receivers = append(t.Receivers, r)
				}
			}
		}
	}
	if w.Retry.Backoff.MaxDuration == "" {
		d, _ := time.ParseDuration(DefaultRetryMaxDuration)
		w.Retry.Backoff.MaxDuration = shortDuration(max(d, m.LongestStep()))
	}
}

// LongestStep is how long a rollout step of the defaulted mapping may
// take: its rolloutTimeout, plus, for the target that waits for the
// longest stage chain, a rollout and a soak per stage of the chain, as
// pkg/rollout's stage wait allows itself. Argo Workflows v3.7 kills a step
// pod at retry.backoff.maxDuration, so that defaults to this. Invalid
// durations count as zero; a cycle ends the chain.
func (m *ServiceMapping) LongestStep() time.Duration {
	rollout, _ := time.ParseDuration(m.Spec.Workflow.RolloutTimeout)
	longest := rollout
	for _, svc := range m.Spec.Services {
		for i := range svc.Targets {
			step := rollout
			seen := map[string]bool{}
			for t := &svc.Targets[i]; t != nil && t.After != "" && !seen[t.Name]; t = svc.Target(t.After) {
				seen[t.Name] = true
				soak, _ := time.ParseDuration(t.Soak)
				step += rollout + max(soak, 0)
			}
			longest = max(longest, step)
		}
	}
	return longest
}

// Default moves the target fields of a service without targets into its
// one target and fills each target's empty fields from the service and
// the defaults. The service's own target fields are cleared.
func (svc *Service) Default() {
	if len(svc.Targets) == 0 {
		svc.Targets = []Target{{
			Namespace:  svc.Namespace,
			Deployment: svc.Deployment,
			Container:  svc.Container,
			Cluster:    svc.Cluster,
			Approval:   svc.Approval,
			Notify:     svc.Notify,
		}}
	}
	for i := range svc.Targets {
		t := &svc.Targets[i]
		if len(svc.Targets) == 1 {
			setDefault(&t.Name, svc.Name)
		}
		setDefault(&t.Deployment, svc.Name)
		setDefault(&t.Container, t.Deployment)
		setDefault(&t.Strategy, svc.Strategy)
		setDefault(&t.Strategy, StrategyRestart)
		setDefault(&t.TagPattern, svc.TagPattern)
		setDefault(&t.TagPattern, DefaultTagPattern)
		setDefault(&t.Policy, svc.Policy)
		setDefault(&t.Policy, PolicyPublishTime)
		setDefault(&t.SemverRange, svc.SemverRange)
	}
	svc.TagPattern, svc.Strategy, svc.Policy, svc.SemverRange = "", "", "", ""
	svc.Deployment, svc.Namespace, svc.Container, svc.Cluster, svc.Approval, svc.Notify = "", "", "", nil, false, nil
}

// Notifies reports whether a target of the defaulted mapping sends
// notifications.
func (m *ServiceMapping) Notifies() bool {
	for _, svc := range m.Spec.Services {
		for _, t := range svc.Targets {
			if len(t.Receivers) > 0 {
				return true
			}
		}
	}
	return false
}

// NotifySecrets are the sorted names of the Secrets that hold the URLs of
// the receivers the targets send to.
func (m *ServiceMapping) NotifySecrets() []string {
	seen := map[string]bool{}
	for _, svc := range m.Spec.Services {
		for _, t := range svc.Targets {
			for _, r := range t.Receivers {
				seen[r.URLSecret.Name] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// Approvals reports whether a target of the mapping waits for approval.
func (m *ServiceMapping) Approvals() bool {
	for _, svc := range m.Spec.Services {
		for _, t := range svc.Targets {
			if t.Approval {
				return true
			}
		}
	}
	return false
}

// Target returns the service's target named name, or nil.
func (svc *Service) Target(name string) *Target {
	for i := range svc.Targets {
		if svc.Targets[i].Name == name {
			return &svc.Targets[i]
		}
	}
	return nil
}

// LocalCluster is the name of the cluster the pipeline runs in.
const LocalCluster = "local"

// ClusterName is the name of the target's cluster, LocalCluster for the
// one the pipeline runs in.
func (t *Target) ClusterName() string {
	if t.Cluster == nil {
		return LocalCluster
	}
	return t.Cluster.Name
}

// Lock names the Deployment the target rolls, cluster included, so that
// two targets sharing a Deployment never roll it at the same time.
func (t *Target) Lock() string {
	return t.ClusterName() + "." + t.Namespace + "." + t.Deployment
}

func setDefault(field *string, value string) {
	if *field == "" {
		*field = value
	}
}
