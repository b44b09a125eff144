package render

import (
	"fmt"
	eventsv1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	"strconv"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

var workflowTemplateType = metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: "WorkflowTemplate"}

// Workflow parameters, in the order the Sensor's trigger sets them from
// the event.
const (
	ParamDigest      = "digest"
	ParamTag         = "tag"
	ParamPublishedAt = "published-at"
	// ParamRollback names the target a rollback Workflow pins to the
	// digest (argodeploy rollback); empty in every release. The Sensor
	// never sets it.
	ParamRollback   = "rollback"
	releaseTemplate = "release"
	RouteTemplate   = "route"
	RolloutTemplate = "rollout"
	// DeliverTemplate and ApproveTemplate exist in a pipeline with a
	// target that waits for approval: deliver runs, per target, the
	// approve step (an Argo suspend, when the route says approval) and
	// then the rollout step.
	DeliverTemplate      = "deliver"
	ApproveTemplate      = "approve"
	InputApproval        = "approval"
	ReconcileTemplate    = "reconcile"
	InputService         = "service"
	InputTarget          = "target"
	InputLock            = "lock"
	cacheMountPath       = "/etc/argodeploy/cache"
	scratchMountPath     = "/tmp"
	exitTransientFailure = 1
)

// WorkflowParams lists the parameters of the rollout WorkflowTemplate.
func WorkflowParams() []string {
	return []string{ParamDigest, ParamTag, ParamPublishedAt}
}

// retryExpression retries a step whose pod failed for a reason outside the
// step (status Error: eviction, node loss) or whose step reported a
// transient failure; permanent failures (exit 2) and undone rollouts
// (exit 3) are final.
var retryExpression = fmt.Sprintf(`lastRetry.status == "Error" or (lastRetry.status == "Failed" and asInt(lastRetry.exitCode) == %d)`, exitTransientFailure)

// workflowTemplate runs one release: argodeploy route finds in the cache
// (every cache ConfigMap, mounted as one directory) the targets the pushed
// image feeds, then a rollout step per target runs
// side by side, each holding its Deployment's lock.
func (p *pipeline) workflowTemplate(caches []Object) *wfv1.WorkflowTemplate {
	var params []wfv1.Parameter
	for _, name := range WorkflowParams() {
		params = append(params, wfv1.Parameter{Name: name})
	}
	params = append(params, wfv1.Parameter{Name: ParamRollback, Value: wfv1.AnyStringPtr("")})
	target := wfv1.WorkflowStep{
		Name:      "target",
		Template:  RolloutTemplate,
		Arguments: targetArguments("{{item.%s}}"),
		WithParam: "{{steps." + RouteTemplate + ".outputs.result}}",
	}
	approvals := p.m.Approvals()
	if approvals {
		target.Template = DeliverTemplate
		target.Arguments.Parameters = append(target.Arguments.Parameters, wfv1.Parameter{Name: InputApproval, Value: wfv1.AnyStringPtr("{{item." + InputApproval + "}}")})
	}
	release := wfv1.Template{
		Name: releaseTemplate,
		Steps: []wfv1.ParallelSteps{
			{Steps: []wfv1.WorkflowStep{{Name: RouteTemplate, Template: RouteTemplate}}},
			{Steps: []wfv1.WorkflowStep{target}},
		},
	}
	spec := p.stepSpec(caches, p.rolloutAccount(), p.deadlineSeconds())
	spec.Entrypoint = releaseTemplate
	spec.Arguments = wfv1.Arguments{Parameters: params}
	spec.Templates = []wfv1.Template{release, p.routeStep(), p.rolloutStep()}
	if approvals {
		spec.Templates = append(spec.Templates, deliverStep(), approveStep())
	}
	return &wfv1.WorkflowTemplate{TypeMeta: workflowTemplateType, ObjectMeta: p.meta(p.templateName(), p.ns), Spec: spec}
}

// targetArguments are the arguments a step passes on, each from format
// with the input's name (item.NAME, inputs.parameters.NAME): by default
// the service, target and lock.
func targetArguments(format string, names ...string) wfv1.Arguments {
	if len(names) == 0 {
		names = []string{InputService, InputTarget, InputLock}
	}
	var params []wfv1.Parameter
	for _, name := range names {
		params = append(params, wfv1.Parameter{Name: name, Value: wfv1.AnyStringPtr(fmt.Sprintf(format, name))})
	}
	return wfv1.Arguments{Parameters: params}
}

// deliverStep delivers a push to one target: it waits for approval when
// its route says so (approveStep), then runs the rollout step.
func deliverStep() wfv1.Template {
	return wfv1.Template{
		Name:   DeliverTemplate,
		Inputs: wfv1.Inputs{Parameters: []wfv1.Parameter{{Name: InputService}, {Name: InputTarget}, {Name: InputLock}, {Name: InputApproval}}},
		Steps: []wfv1.ParallelSteps{
			{Steps: []wfv1.WorkflowStep{{
				Name:      ApproveTemplate,
				Template:  ApproveTemplate,
				Arguments: targetArguments("{{inputs.parameters.%s}}", InputService, InputTarget),
				When:      "{{inputs.parameters." + InputApproval + "}} == true",
			}}},
			{Steps: []wfv1.WorkflowStep{{Name: RolloutTemplate, Template: RolloutTemplate, Arguments: targetArguments("{{inputs.parameters.%s}}")}}},
		},
	}
}

// approveStep is an Argo suspend without a duration: argodeploy approve
// resumes it, argodeploy reject fails it, the Workflow's deadline
// (approvalTimeout) ends it. It holds no lock.
func approveStep() wfv1.Template {
	return wfv1.Template{
		Name:    ApproveTemplate,
		Inputs:  wfv1.Inputs{Parameters: []wfv1.Parameter{{Name: InputService}, {Name: InputTarget}}},
		Suspend: &wfv1.SuspendTemplate{},
	}
}

// stepSpec is what the release and reconcile Workflows share: the account
// they run as, their deadline, a TTL, pods removed once they succeed, the
// restricted pod security, and the volumes: every cache ConfigMap
// projected into one directory, and a scratch emptyDir.
func (p *pipeline) stepSpec(caches []Object, account string, deadline int64) wfv1.WorkflowSpec {
	ttl := int32(mustDuration(p.m.Spec.Workflow.TTL).Seconds())
	sources := make([]corev1.VolumeProjection, len(caches))
	for i, cm := range caches {
		sources[i] = corev1.VolumeProjection{ConfigMap: &corev1.ConfigMapProjection{
			LocalObjectReference: corev1.LocalObjectReference{Name: cm.GetName()},
		}}
	}
	return wfv1.WorkflowSpec{
		ServiceAccountName:    account,
		TTLStrategy:           &wfv1.TTLStrategy{SecondsAfterCompletion: &ttl},
		PodGC:                 &wfv1.PodGC{Strategy: wfv1.PodGCOnPodSuccess},
		ActiveDeadlineSeconds: ptr.To(deadline),
		SecurityContext:       restrictedPodSecurity(),
		Volumes: []corev1.Volume{
			{Name: "cache", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: sources}}},
			{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
				SizeLimit: ptr.To(resource.MustParse("64Mi")),
			}}},
		},
	}
}

// cronWorkflow runs argodeploy reconcile on spec.reconcile's schedule, as
// the reconcile account, over the same cache as the releases: it checks
// that the event bus still holds what the Sensors need to read it, then
// creates a release Workflow of the WorkflowTemplate for each push a target
// missed, and deletes the dead letters past spec.reconcile.deadLetters. A pass ends well before the next is due
// (mapping.ReconcileDeadline), and passes never overlap (Forbid). A
// suspended loop is rendered suspended.
func (p *pipeline) cronWorkflow(caches []Object, sensors []string) *wfv1.CronWorkflow {
	r := p.m.Spec.Reconcile
	spec := p.stepSpec(caches, p.reconcileAccount(), int64(p.m.ReconcileDeadline().Seconds()))
	spec.Entrypoint = ReconcileTemplate
	spec.Volumes = append(spec.Volumes, corev1.Volume{Name: busAuthVolume, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
		SecretName: BusAuthSecret(p.m.Spec.EventBus.Name),
		Items:      []corev1.KeyToPath{{Key: eventsv1.JetStreamClientAuthSecretKey, Path: busAuthFile}},
	}}})
	args := []string{
		"--cache-dir", cacheMountPath,
		"--workflow-template", p.templateName(),
		"--pipeline", p.name,
		"--event-bus", p.m.Spec.EventBus.Name,
		"--bus-auth", busAuthMountPath + "/" + busAuthFile,
		"--keep-dead-letters", strconv.Itoa(int(r.DeadLetters.Keep)),
		"--dead-letter-max-age", r.DeadLetters.MaxAge,
	}
	for _, s := range sensors {
		args = append(args, "--sensor", s)
	}
	c := p.container([]string{"argodeploy", "reconcile"}, nil, args...)
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: busAuthVolume, MountPath: busAuthMountPath, ReadOnly: true})
	spec.Templates = []wfv1.Template{{Name: ReconcileTemplate, Container: c}}
	return &wfv1.CronWorkflow{
		TypeMeta:   metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: "CronWorkflow"},
		ObjectMeta: p.meta(p.name+"-reconcile", p.ns),
		Spec: wfv1.CronWorkflowSpec{
			WorkflowSpec:               spec,
			Schedules:                  []string{r.Schedule},
			ConcurrencyPolicy:          wfv1.ForbidConcurrent,
			Suspend:                    r.Suspend,
			StartingDeadlineSeconds:    ptr.To(int64(60)),
			SuccessfulJobsHistoryLimit: ptr.To(int32(1)),
			FailedJobsHistoryLimit:     ptr.To(int32(3)),
		},
	}
}

// routeStep is `argodeploy route`: it prints, as a JSON list, the service,
// target and lock of each target the push reaches, read from the trusted
// cache; the event's image is only the lookup key.
func (p *pipeline) routeStep() wfv1.Template {
	return wfv1.Template{
		Name:          RouteTemplate,
		RetryStrategy: p.stepRetry(),
		Container:     p.stepContainer([]string{"argodeploy", "route"}, "--cache-dir", cacheMountPath),
	}
}

// rolloutStep is `argodeploy rollout` for one target. Event values reach
// it only through env; which target rolls is the trusted cache entry's.
func (p *pipeline) rolloutStep() wfv1.Template {
	w := p.m.Spec.Workflow
	c := p.stepContainer([]string{"argodeploy", "rollout"},
		"--service", "{{inputs.parameters."+InputService+"}}",
		"--target", "{{inputs.parameters."+InputTarget+"}}",
		"--cache-dir", cacheMountPath,
		"--rollout-timeout", w.RolloutTimeout,
	)
	if p.m.Notifies() {
		// The step tells its receivers of a transient failure only on
		// the last attempt.
		c.Args = append(c.Args, "--retry-limit", strconv.Itoa(int(*w.Retry.Limit)))
		c.Env = append(c.Env, corev1.EnvVar{Name: "RETRY", Value: "{{retries}}"})
	}
	return wfv1.Template{
		Name:            RolloutTemplate,
		Inputs:          wfv1.Inputs{Parameters: []wfv1.Parameter{{Name: InputService}, {Name: InputTarget}, {Name: InputLock}}},
		Synchronization: &wfv1.Synchronization{Mutexes: []*wfv1.Mutex{{Name: "{{inputs.parameters." + InputLock + "}}"}}},
		RetryStrategy:   p.stepRetry(),
		Container:       c,
	}
}

// stepRetry retries a step that failed for a reason outside it, or that
// reported a transient failure (retryExpression).
func (p *pipeline) stepRetry() *wfv1.RetryStrategy {
	w := p.m.Spec.Workflow
	return &wfv1.RetryStrategy{
		Limit:       ptr.To(intstr.FromInt32(*w.Retry.Limit)),
		RetryPolicy: wfv1.RetryPolicyAlways,
		Expression:  retryExpression,
		Backoff: &wfv1.Backoff{
			Duration:    w.Retry.Backoff.Duration,
			Factor:      ptr.To(intstr.FromInt32(w.Retry.Backoff.Factor)),
			MaxDuration: w.Retry.Backoff.MaxDuration,
		},
	}
}

// stepContainer runs argodeploy in the workflow image with the push in its
// environment (container).
func (p *pipeline) stepContainer(command []string, args ...string) *corev1.Container {
	push := []corev1.EnvVar{
		{Name: "DIGEST", Value: workflowParam(ParamDigest)},
		{Name: "TAG", Value: workflowParam(ParamTag)},
		{Name: "PUBLISHED_AT", Value: workflowParam(ParamPublishedAt)},
		{Name: "ROLLBACK", Value: workflowParam(ParamRollback)},
		{Name: "WORKFLOW_NAME", Value: "{{workflow.name}}"},
	}
	return p.container(command, push, args...)
}

// container runs argodeploy in the workflow image with env, the pod's
// namespace and a scratch home, the cache mounted read-only and a
// read-only root.
func (p *pipeline) container(command []string, env []corev1.EnvVar, args ...string) *corev1.Container {
	w := p.m.Spec.Workflow
	env = append(env,
		corev1.EnvVar{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
		corev1.EnvVar{Name: "HOME", Value: scratchMountPath},
		corev1.EnvVar{Name: "TMPDIR", Value: scratchMountPath},
	)
	mounts := []corev1.VolumeMount{
		{Name: "cache", MountPath: cacheMountPath, ReadOnly: true},
		{Name: "scratch", MountPath: scratchMountPath},
	}
	security := restrictedContainerSecurity()
	security.ReadOnlyRootFilesystem = ptr.To(true)
	return &corev1.Container{
		Name:            "main",
		Image:           w.Image,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Command:         command,
		Args:            args,
		Env:             env,
		VolumeMounts:    mounts,
		Resources:       resources(w.Resources.Requests.CPU, w.Resources.Requests.Memory, w.Resources.Limits.CPU, w.Resources.Limits.Memory),
		SecurityContext: security,
	}
}

// deadlineSeconds bounds a whole release: a minute for each attempt of the
// route step, then every attempt of a rollout step may take what the
// longest step may (mapping.LongestStep: its stage waits, then its own
// rollout) plus a minute of API calls; the backoff between attempts is
// capped by maxDuration; and, when a target waits for approval,
// approvalTimeout.
func (p *pipeline) deadlineSeconds() int64 {
	w := p.m.Spec.Workflow
	attempt := p.m.LongestStep() + time.Minute
	total := time.Duration(*w.Retry.Limit+1)*(time.Minute+attempt) + mustDuration(w.Retry.Backoff.MaxDuration)
	if p.m.Approvals() {
		total += mustDuration(w.ApprovalTimeout)
	}
	return int64(total.Seconds())
}

// The reconcile pod reads the event bus's client credentials, which the
// argo-events controller keeps in a Secret it names after the bus.
const (
	busAuthVolume    = "bus-auth"
	busAuthMountPath = "/etc/argodeploy/bus"
	busAuthFile      = "auth.yaml"
)

// BusAuthSecret is the Secret the argo-events controller writes a JetStream
// EventBus's client credentials to (installer.generateJetStreamClientAuthSecretName).
func BusAuthSecret(bus string) string { return "eventbus-" + bus + "-js-client-auth" }

func workflowParam(name string) string { return "{{workflow.parameters." + name + "}}" }

// mustDuration parses a duration the mapping loader has already checked.
func mustDuration(s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		panic(fmt.Sprintf("render: unchecked duration %q: %v", s, err))
	}
	return d
}
