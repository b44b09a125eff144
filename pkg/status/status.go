// Package status reads, for each target of a mapping, what its Deployment
// container runs and what the rollout step last recorded there
// (argodeploy.dev/state), and the pipeline's dead letters: argodeploy
// status. It only reads, with whatever access the caller has, and says
// what it could not read.
package status

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/rollout"
)

// Target is one target's state. Image is what its container runs; the
// fields from Digest on are what the last step recorded. Error says why
// the target could not be read.
type Target struct {
	Service    string `json:"service"`
	Target     string `json:"target"`
	Cluster    string `json:"cluster,omitempty"`
	Namespace  string `json:"namespace"`
	Deployment string `json:"deployment"`
	Container  string `json:"container"`
	Strategy   string `json:"strategy"`
	Image      string `json:"image,omitempty"`
	// Rollout is the Deployment's rollout as kubectl rollout status judges
	// it: "complete", or its message.
	Rollout     string `json:"rollout,omitempty"`
	Digest      string `json:"digest,omitempty"`
	Tag         string `json:"tag,omitempty"`
	PublishedAt string `json:"publishedAt,omitempty"`
	Outcome     string `json:"outcome,omitempty"`
	HealthyAt   string `json:"healthyAt,omitempty"`
	Workflow    string `json:"workflow,omitempty"`
	Undone      string `json:"undone,omitempty"`
	// RolledBack is the digest argodeploy rollback took the target away from.
	RolledBack string `json:"rolledBack,omitempty"`
	Error      string `json:"error,omitempty"`
}

// ReadDeadLetter reads a dead-letter ConfigMap as the Sensor's dead-letter
// trigger writes it: the push's digest and tag (else those of the registry
// message), its Pub/Sub publish time, and whether the message was cut.
func ReadDeadLetter(cm *corev1.ConfigMap) DeadLetter {
	dl := DeadLetter{Name: cm.Name, Created: cm.CreationTimestamp.UTC().Format(time.RFC3339), PublishTime: cm.Data["publishTime"],
		Digest: cm.Data["digest"], Tag: cm.Data["tag"]}
	var msg struct{ Digest, Tag string }
	if (dl.Digest == "" || dl.Tag == "") && json.Unmarshal([]byte(cm.Data["message"]), &msg) == nil {
		dl.Digest, dl.Tag = msg.Digest, msg.Tag // written before argodeploy v0.3
	}
	if n, err := strconv.Atoi(cm.Data["messageBytes"]); err == nil && n > len(cm.Data["message"]) {
		dl.CutFrom = n
	}
	return dl
}

// publishTimeLayout is how the Pub/Sub EventSource writes a publish time
// (time.Time's String).
const publishTimeLayout = "2006-01-02 15:04:05.999999999 -0700 MST"

// Push is the push a dead letter holds, as a release Workflow takes it:
// the digest and tag as the registry sent them and the publish time in
// Unix nanoseconds. It fails when the message lacks them.
func (d DeadLetter) Push() (digest, tag string, publishedAt int64, err error) {
	if d.Digest == "" || d.Tag == "" {
		return "", "", 0, fmt.Errorf("dead letter %s holds no registry message with a digest and a tag", d.Name)
	}
	at, err := time.Parse(publishTimeLayout, d.PublishTime)
	if err != nil {
		return "", "", 0, fmt.Errorf("dead letter %s: publish time %q: %v", d.Name, d.PublishTime, err)
	}
	return d.Digest, d.Tag, at.UnixNano(), nil
}

// DeadLetter is a push whose Workflow the Sensor could not create.
type DeadLetter struct {
	Name        string `json:"name"`
	Created     string `json:"created"`
	PublishTime string `json:"publishTime,omitempty"`
	Digest      string `json:"digest,omitempty"`
	Tag         string `json:"tag,omitempty"`
	// CutFrom is the registry message's length in bytes when the dead
	// letter holds only its first part (render.MaxDeadLetterMessage).
	CutFrom int `json:"cutFrom,omitempty"`
}

// Report is what Read found.
type Report struct {
	Namespace   string       `json:"namespace"`
	Targets     []Target     `json:"targets"`
	DeadLetters []DeadLetter `json:"deadLetters"`
	// DeadLettersError says why the dead letters could not be listed.
	DeadLettersError string `json:"deadLettersError,omitempty"`
	// Approvals are the releases waiting for approval, newest push first,
	// when a target of the mapping waits for approval; ApprovalsError
	// says why they could not be listed.
	Approvals      []Approval `json:"approvals,omitempty"`
	ApprovalsError string     `json:"approvalsError,omitempty"`
}

// Unread says what could not be read ("2 of 6 targets, the dead
// letters"), or nothing when everything was.
func (r *Report) Unread() string {
	n := 0
	for _, t := range r.Targets {
		if t.Error != "" {
			n++
		}
	}
	var parts []string
	if n > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d targets", n, len(r.Targets)))
	}
	if r.DeadLettersError != "" {
		parts = append(parts, "the dead letters")
	}
	if r.ApprovalsError != "" {
		parts = append(parts, "the releases waiting for approval")
	}
	return strings.Join(parts, " and ")
}

// Options say where to read.
type Options struct {
	Mapping *mapping.ServiceMapping
	// Clusters gives each target's Deployments client (rollout.NewClusters).
	Clusters rollout.Clusters
	// ConfigMaps lists the dead letters in the pipeline's namespace.
	ConfigMaps corev1client.ConfigMapsGetter
	// Workflows lists the releases waiting for approval, for a mapping
	// with a target that waits for approval.
	Workflows dynamic.Interface
}

// Read reads every target of the mapping, in mapping order, and the dead
// letters, newest first.
func Read(ctx context.Context, o Options) *Report {
	r := &Report{Namespace: o.Mapping.Spec.Namespace}
	for i := range o.Mapping.Spec.Services {
		svc := &o.Mapping.Spec.Services[i]
		for j := range svc.Targets {
			r.Targets = append(r.Targets, readTarget(ctx, o.Clusters, svc, &svc.Targets[j]))
		}
	}
	r.DeadLetters, r.DeadLettersError = deadLetters(ctx, o.ConfigMaps, o.Mapping)
	if o.Mapping.Approvals() && o.Workflows != nil {
		var err error
		if r.Approvals, err = Approvals(ctx, o.Workflows, o.Mapping.Spec.Namespace, o.Mapping.Metadata.Name, ""); err != nil {
			r.ApprovalsError = err.Error()
		}
	}
	return r
}

func readTarget(ctx context.Context, clusters rollout.Clusters, svc *mapping.Service, t *mapping.Target) Target {
	out := Target{Service: svc.Name, Target: t.Name, Namespace: t.Namespace, Deployment: t.Deployment, Container: t.Container, Strategy: t.Strategy}
	if t.Cluster != nil {
		out.Cluster = t.Cluster.Name
	}
	d, image, e, err := readContainer(ctx, clusters, t)
	if d != nil {
		out.Image, out.Rollout = image, rolloutState(d)
	}
	if err != nil {
		out.Error = err.Error()
		return out
	}
	if e != nil {
		out.Digest, out.Tag, out.Outcome, out.HealthyAt, out.Workflow, out.Undone, out.RolledBack = e.Digest, e.Tag, e.Outcome, e.HealthyAt, e.Workflow, e.Undone, e.RolledBack
		if e.PublishedAt > 0 {
			out.PublishedAt = time.Unix(0, e.PublishedAt).UTC().Format(time.RFC3339)
		}
	}
	return out
}

// readContainer reads target t's Deployment, the image its container runs
// and the container's recorded entry (nil when none). The Deployment and
// image are returned also when the entry does not decode.
func readContainer(ctx context.Context, clusters rollout.Clusters, t *mapping.Target) (*appsv1.Deployment, string, *rollout.Entry, error) {
	client, err := clusters(ctx, t)
	if err != nil {
		return nil, "", nil, err
	}
	d, err := client.Deployments(t.Namespace).Get(ctx, t.Deployment, metav1.GetOptions{})
	if err != nil {
		return nil, "", nil, err
	}
	i := findContainer(d.Spec.Template.Spec.Containers, t.Container)
	if i < 0 {
		return nil, "", nil, fmt.Errorf("deployment %s/%s has no container %s", t.Namespace, t.Deployment, t.Container)
	}
	e, err := rollout.ReadState(d, t.Container)
	return d, d.Spec.Template.Spec.Containers[i].Image, e, err
}

// rolloutState is kubectl rollout status's verdict on d: "complete", or
// what it waits for, or why it failed.
func rolloutState(d *appsv1.Deployment) string {
	msg, done, err := rollout.DeploymentStatus(d)
	switch {
	case err != nil:
		return err.Error()
	case done:
		return "complete"
	}
	return msg
}

// deadLetters lists the dead-letter ConfigMaps of the pipeline, newest
// first.
func deadLetters(ctx context.Context, cms corev1client.ConfigMapsGetter, m *mapping.ServiceMapping) ([]DeadLetter, string) {
	list, err := cms.ConfigMaps(m.Spec.Namespace).List(ctx, metav1.ListOptions{LabelSelector: deadLetterSelector(m.Metadata.Name)})
	if err != nil {
		return nil, err.Error()
	}
	out := []DeadLetter{}
	for _, cm := range list.Items {
		out = append(out, ReadDeadLetter(&cm))
	}
	slices.SortFunc(out, func(a, b DeadLetter) int {
		return strings.Compare(b.Created+b.Name, a.Created+a.Name)
	})
	return out, ""
}

// findContainer is the index of the container named name, or -1.
func findContainer(cs []corev1.Container, name string) int {
	return slices.IndexFunc(cs, func(c corev1.Container) bool { return c.Name == name })
}
