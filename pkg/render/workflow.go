package render

import (
	"fmt"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/argodeploy/argodeploy/templates"
)

var workflowTemplateType = metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: "WorkflowTemplate"}

// Workflow parameters, in the order the Sensor's trigger sets them. The
// first ones are constants of the trigger (from the mapping); the event
// fills the last three.
const (
	ParamService         = "service"
	ParamLock            = "lock"
	ParamCache           = "cache"
	ParamKubeconfig      = "kubeconfig-secret"
	ParamKubeconfigKey   = "kubeconfig-key"
	ParamDigest          = "digest"
	ParamTag             = "tag"
	ParamPublishedAt     = "published-at"
	rolloutTemplate      = "rollout"
	cacheMountPath       = "/etc/argodeploy/cache"
	kubeconfigMountPath  = "/etc/argodeploy/kubeconfig"
	scratchMountPath     = "/tmp"
	exitTransientFailure = 1
)

// WorkflowParams lists the parameters of the rollout WorkflowTemplate.
func WorkflowParams(remote bool) []string {
	params := []string{ParamService, ParamLock, ParamCache}
	if remote {
		params = append(params, ParamKubeconfig, ParamKubeconfigKey)
	}
	return append(params, ParamDigest, ParamTag, ParamPublishedAt)
}

// retryExpression retries a step whose pod failed for a reason outside the
// script (status Error: eviction, node loss) or whose script reported a
// transient failure; permanent failures (exit 2) and undone rollouts
// (exit 3) are final.
var retryExpression = fmt.Sprintf(`lastRetry.status == "Error" or (lastRetry.status == "Failed" and asInt(lastRetry.exitCode) == %d)`, exitTransientFailure)

func (p *pipeline) workflowTemplates() []Object {
	objs := []Object{p.workflowTemplate(false)}
	if p.hasRemote() {
		objs = append(objs, p.workflowTemplate(true))
	}
	return objs
}

// workflowTemplate runs the rollout script once per pushed image, one run
// per Deployment at a time (the lock parameter names the Deployment).
func (p *pipeline) workflowTemplate(remote bool) *wfv1.WorkflowTemplate {
	w := p.m.Spec.Workflow
	var params []wfv1.Parameter
	for _, name := range WorkflowParams(remote) {
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
	if remote {
		volumes = append(volumes, corev1.Volume{Name: "kubeconfig", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: workflowParam(ParamKubeconfig),
			Items:      []corev1.KeyToPath{{Key: workflowParam(ParamKubeconfigKey), Path: "config"}},
		}}})
	}
	return &wfv1.WorkflowTemplate{
		TypeMeta:   workflowTemplateType,
		ObjectMeta: p.meta(p.templateName(remote), p.ns),
		Spec: wfv1.WorkflowSpec{
			Entrypoint:            rolloutTemplate,
			ServiceAccountName:    p.rolloutAccount(),
			Arguments:             wfv1.Arguments{Parameters: params},
			Synchronization:       &wfv1.Synchronization{Mutexes: []*wfv1.Mutex{{Name: workflowParam(ParamLock)}}},
			TTLStrategy:           &wfv1.TTLStrategy{SecondsAfterCompletion: &ttl},
			PodGC:                 &wfv1.PodGC{Strategy: wfv1.PodGCOnPodSuccess},
			ActiveDeadlineSeconds: ptr.To(p.deadlineSeconds()),
			SecurityContext:       restrictedPodSecurity(),
			Volumes:               volumes,
			Templates:             []wfv1.Template{p.rolloutStep(remote)},
		},
	}
}

// rolloutStep is the single kubectl step. Event values reach the script only
// through env; the script text is a constant.
func (p *pipeline) rolloutStep(remote bool) wfv1.Template {
	w := p.m.Spec.Workflow
	env := []corev1.EnvVar{
		{Name: "SERVICE", Value: workflowParam(ParamService)},
		{Name: "DIGEST", Value: workflowParam(ParamDigest)},
		{Name: "TAG", Value: workflowParam(ParamTag)},
		{Name: "PUBLISHED_AT", Value: workflowParam(ParamPublishedAt)},
		{Name: "ROLLOUT_TIMEOUT", Value: w.RolloutTimeout},
		{Name: "CACHE_DIR", Value: cacheMountPath},
		{Name: "HOME", Value: scratchMountPath},
		{Name: "TMPDIR", Value: scratchMountPath},
	}
	mounts := []corev1.VolumeMount{
		{Name: "cache", MountPath: cacheMountPath, ReadOnly: true},
		{Name: "scratch", MountPath: scratchMountPath},
	}
	if remote {
		env = append(env, corev1.EnvVar{Name: "KUBECONFIG_DIR", Value: kubeconfigMountPath})
		mounts = append(mounts, corev1.VolumeMount{Name: "kubeconfig", MountPath: kubeconfigMountPath, ReadOnly: true})
	}
	security := restrictedContainerSecurity()
	security.ReadOnlyRootFilesystem = ptr.To(true)
	return wfv1.Template{
		Name: rolloutTemplate,
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
			Image:           w.KubectlImage,
			ImagePullPolicy: corev1.PullIfNotPresent,
			Command:         []string{"/bin/sh", "-c", templates.RolloutScript},
			Env:             env,
			VolumeMounts:    mounts,
			Resources:       resources(w.Resources.Requests.CPU, w.Resources.Requests.Memory, w.Resources.Limits.CPU, w.Resources.Limits.Memory),
			SecurityContext: security,
		},
	}
}

// deadlineSeconds bounds a whole workflow: every attempt may wait the full
// rollout timeout plus a minute of API calls, and the backoff between
// attempts is capped by maxDuration.
func (p *pipeline) deadlineSeconds() int64 {
	w := p.m.Spec.Workflow
	attempt := mustDuration(w.RolloutTimeout) + time.Minute
	total := time.Duration(*w.Retry.Limit+1)*attempt + mustDuration(w.Retry.Backoff.MaxDuration)
	return int64(total.Seconds())
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
