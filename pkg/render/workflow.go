package render

import (
	"encoding/json"
	"fmt"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/argodeploy/argodeploy/pkg/mapping"
)

var workflowTemplateType = metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: "WorkflowTemplate"}

// Workflow parameters, in the order the Sensor's trigger sets them. The
// first ones are constants of the trigger (from the mapping); the event
// fills the last three.
const (
	ParamService         = "service"
	ParamTargets         = "targets"
	ParamCache           = "cache"
	ParamDigest          = "digest"
	ParamTag             = "tag"
	ParamPublishedAt     = "published-at"
	releaseTemplate      = "release"
	RolloutTemplate      = "rollout"
	InputTarget          = "target"
	InputLock            = "lock"
	cacheMountPath       = "/etc/argodeploy/cache"
	scratchMountPath     = "/tmp"
	exitTransientFailure = 1
)

// WorkflowParams lists the parameters of the rollout WorkflowTemplate.
func WorkflowParams() []string {
	return []string{ParamService, ParamTargets, ParamCache, ParamDigest, ParamTag, ParamPublishedAt}
}

// TargetItem is one element of a Workflow's targets parameter: the target
// a step of the release rolls, and the lock that serialises rollouts of
// its Deployment.
type TargetItem struct {
	Name string `json:"name"`
	Lock string `json:"lock"`
}

// TargetItems is the targets parameter of s's Workflows, as JSON.
func TargetItems(s mapping.Service) (string, error) {
	items := make([]TargetItem, len(s.Targets))
	for i := range s.Targets {
		items[i] = TargetItem{Name: s.Targets[i].Name, Lock: LockName(&s.Targets[i])}
	}
	data, err := json.Marshal(items)
	return string(data), err
}

// LockName identifies the Deployment a target rolls, so that two targets
// sharing a Deployment never roll it at the same time.
func LockName(t *mapping.Target) string {
	return t.ClusterName() + "." + t.Namespace + "." + t.Deployment
}

// retryExpression retries a step whose pod failed for a reason outside the
// step (status Error: eviction, node loss) or whose step reported a
// transient failure; permanent failures (exit 2) and undone rollouts
// (exit 3) are final.
var retryExpression = fmt.Sprintf(`lastRetry.status == "Error" or (lastRetry.status == "Failed" and asInt(lastRetry.exitCode) == %d)`, exitTransientFailure)

// workflowTemplate runs one release: a step per target of the pushed
// image's service, side by side, each holding its Deployment's lock.
func (p *pipeline) workflowTemplate() *wfv1.WorkflowTemplate {
	w := p.m.Spec.Workflow
	var params []wfv1.Parameter
	for _, name := range WorkflowParams() {
		params = append(params, wfv1.Parameter{Name: name})
	}
	ttl := int32(mustDuration(w.TTL).Seconds())
	volumes := []corev1.Volume{
		{Name: "cache", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: workflowParam(ParamCache)},
		}}},
		{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
			SizeLimit: ptr.To(resource.MustParse("64Mi")),
		}}},
	}
	release := wfv1.Template{
		Name: releaseTemplate,
		Steps: []wfv1.ParallelSteps{{Steps: []wfv1.WorkflowStep{{
			Name:     "target",
			Template: RolloutTemplate,
			Arguments: wfv1.Arguments{Parameters: []wfv1.Parameter{
				{Name: InputTarget, Value: wfv1.AnyStringPtr("{{item.name}}")},
				{Name: InputLock, Value: wfv1.AnyStringPtr("{{item.lock}}")},
			}},
			WithParam: workflowParam(ParamTargets),
		}}}},
	}
	return &wfv1.WorkflowTemplate{
		TypeMeta:   workflowTemplateType,
		ObjectMeta: p.meta(p.templateName(), p.ns),
		Spec: wfv1.WorkflowSpec{
			Entrypoint:            releaseTemplate,
			ServiceAccountName:    p.rolloutAccount(),
			Arguments:             wfv1.Arguments{Parameters: params},
			TTLStrategy:           &wfv1.TTLStrategy{SecondsAfterCompletion: &ttl},
			PodGC:                 &wfv1.PodGC{Strategy: wfv1.PodGCOnPodSuccess},
			ActiveDeadlineSeconds: ptr.To(p.deadlineSeconds()),
			SecurityContext:       restrictedPodSecurity(),
			Volumes:               volumes,
			Templates:             []wfv1.Template{release, p.rolloutStep()},
		},
	}
}

// rolloutStep is `argodeploy rollout` for one target. Event values reach
// it only through env; which target rolls is the trusted cache entry's.
func (p *pipeline) rolloutStep() wfv1.Template {
	w := p.m.Spec.Workflow
	env := []corev1.EnvVar{
		{Name: "DIGEST", Value: workflowParam(ParamDigest)},
		{Name: "TAG", Value: workflowParam(ParamTag)},
		{Name: "PUBLISHED_AT", Value: workflowParam(ParamPublishedAt)},
		{Name: "WORKFLOW_NAME", Value: "{{workflow.name}}"},
		{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
		{Name: "HOME", Value: scratchMountPath},
		{Name: "TMPDIR", Value: scratchMountPath},
	}
	mounts := []corev1.VolumeMount{
		{Name: "cache", MountPath: cacheMountPath, ReadOnly: true},
		{Name: "scratch", MountPath: scratchMountPath},
	}
	security := restrictedContainerSecurity()
	security.ReadOnlyRootFilesystem = ptr.To(true)
	return wfv1.Template{
		Name:            RolloutTemplate,
		Inputs:          wfv1.Inputs{Parameters: []wfv1.Parameter{{Name: InputTarget}, {Name: InputLock}}},
		Synchronization: &wfv1.Synchronization{Mutexes: []*wfv1.Mutex{{Name: "{{inputs.parameters." + InputLock + "}}"}}},
		RetryStrategy: &wfv1.RetryStrategy{
			Limit:       ptr.To(intstr.FromInt32(*w.Retry.Limit)),
			RetryPolicy: wfv1.RetryPolicyAlways,
			Expression:  retryExpression,
			Backoff: &wfv1.Backoff{
				Duration:    w.Retry.Backoff.Duration,
				Factor:      ptr.To(intstr.FromInt32(w.Retry.Backoff.Factor)),
				MaxDuration: w.Retry.Backoff.MaxDuration,
			},
		},
		Container: &corev1.Container{
			Name:            "main",
			Image:           w.Image,
			ImagePullPolicy: corev1.PullIfNotPresent,
			Command:         []string{"argodeploy", "rollout"},
			Args: []string{
				"--service", workflowParam(ParamService),
				"--target", "{{inputs.parameters." + InputTarget + "}}",
				"--cache-dir", cacheMountPath,
				"--rollout-timeout", w.RolloutTimeout,
			},
			Env:             env,
			VolumeMounts:    mounts,
			Resources:       resources(w.Resources.Requests.CPU, w.Resources.Requests.Memory, w.Resources.Limits.CPU, w.Resources.Limits.Memory),
			SecurityContext: security,
		},
	}
}

// deadlineSeconds bounds a whole release: every attempt of a step may wait
// for its upstream stage (a rollout timeout and the longest soak), then
// the full rollout timeout, plus a minute of API calls; the backoff
// between attempts is capped by maxDuration.
func (p *pipeline) deadlineSeconds() int64 {
	w := p.m.Spec.Workflow
	rollout := mustDuration(w.RolloutTimeout)
	attempt := rollout + time.Minute
	if soak, staged := p.longestSoak(); staged {
		attempt += rollout + soak
	}
	total := time.Duration(*w.Retry.Limit+1)*attempt + mustDuration(w.Retry.Backoff.MaxDuration)
	return int64(total.Seconds())
}

// longestSoak is the longest soak of any target, and whether any target
// waits for a stage.
func (p *pipeline) longestSoak() (time.Duration, bool) {
	var longest time.Duration
	staged := false
	for _, s := range p.m.Spec.Services {
		for _, t := range s.Targets {
			if t.After == "" {
				continue
			}
			staged = true
			if t.Soak != "" {
				longest = max(longest, mustDuration(t.Soak))
			}
		}
	}
	return longest, staged
}

func workflowParam(name string) string { return "{{workflow.parameters." + name + "}}" }

// mustDuration parses a duration the mapping loader has already checked.
func mustDuration(s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		panic(fmt.Sprintf("render: unchecked duration %q: %v", s, err))
	}
	return d
}
