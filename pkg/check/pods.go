package check

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	eventsv1alpha1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/google/go-containerregistry/pkg/name"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/yaml"
)

// A definedPod is a pod an object has its controller run, built from what
// the object writes (the controllers' own containers and settings, such
// as Argo's wait container, are not the pipeline's), with the path of
// each part in the object.
type definedPod struct {
	spec       corev1.PodSpec
	security   string   // the pod's securityContext
	volumes    string   // its volumes
	host       string   // where hostNetwork is set
	containers []string // each container, init containers first, then spec.Containers
	images     bool     // the containers name their images (Argo's do; argo-events' are the controller's)
	claims     []string // the volumes of the workflow's volumeClaimTemplates
	patch      string   // the podSpecPatch applied, if any
	patched    *corev1.PodSpec
	patchErr   error // why the patch cannot be applied
}

// restricted is the Pod Security Standard every pipeline pod meets, as
// Kubernetes' own admission code judges it.
var restricted = api.LevelVersion{Level: api.LevelRestricted, Version: api.LatestVersion()}

var podSecurity = sync.OnceValues(func() (policy.Evaluator, error) {
	return policy.NewEvaluator(policy.DefaultChecks())
})

// pods records the problems of the pods object i defines: each must meet
// Pod Security "restricted", and each container's image must be pinned
// by a tag other than latest or by a digest.
func (a *access) pods(i int, pods []definedPod) {
	evaluator, err := podSecurity()
	if err != nil {
		a.fail(i, "", "internal error: Pod Security checks: %v", err)
		return
	}
	for _, p := range pods {
		reported := map[string]bool{}
		for _, f := range podFailures(evaluator, p, &p.spec) {
			reported[f.path+"\x00"+f.reason] = true
			a.fail(i, f.path, "%s", f.message)
		}
		if p.patchErr != nil {
			a.fail(i, p.patch, "the pod this patch makes cannot be checked against Pod Security \"restricted\" (%v): set the fields of the template instead", p.patchErr)
		}
		if p.patched != nil {
			for _, f := range podFailures(evaluator, p, p.patched) {
				if !reported[f.path+"\x00"+f.reason] {
					a.fail(i, p.patch, "%s (set by this patch)", f.message)
				}
			}
		}
		volumes := map[string]bool{}
		for _, v := range p.spec.Volumes {
			volumes[v.Name] = true
		}
		for _, v := range p.claims {
			volumes[v] = true
		}
		for c, container := range append(append([]corev1.Container(nil), p.spec.InitContainers...), p.spec.Containers...) {
			if why := unpinned(container.Image); p.images && why != "" {
				a.fail(i, p.containers[c]+".image", "%s", why)
			}
			for m, mount := range container.VolumeMounts {
				if !volumes[mount.Name] {
					a.fail(i, fmt.Sprintf("%s.volumeMounts[%d].name", p.containers[c], m), "volume %q is not a volume of the pod: the pod is refused when the step starts", mount.Name)
				}
			}
			for e, env := range container.Env {
				if ref := env.ValueFrom; ref != nil {
					at := fmt.Sprintf("%s.env[%d].valueFrom", p.containers[c], e)
					sources := 0
					for _, set := range []bool{ref.FieldRef != nil, ref.ResourceFieldRef != nil, ref.ConfigMapKeyRef != nil, ref.SecretKeyRef != nil} {
						if set {
							sources++
						}
					}
					switch {
					case sources != 1:
						a.fail(i, at, "env %s reads from %d sources: the API server refuses the pod unless it is exactly one of fieldRef, resourceFieldRef, configMapKeyRef, secretKeyRef", env.Name, sources)
					case env.Value != "":
						a.fail(i, at, "env %s has both a value and valueFrom: the API server refuses the pod", env.Name)
					}
				}
				if ref := env.ValueFrom; ref != nil && ref.FieldRef != nil && !envFieldPath(ref.FieldRef.FieldPath) {
					a.fail(i, fmt.Sprintf("%s.env[%d].valueFrom.fieldRef.fieldPath", p.containers[c], e), "%q is not a field the kubelet can expose: the API server refuses the pod (supported: %s)", ref.FieldRef.FieldPath, strings.Join(envFieldPaths, ", "))
				}
			}
		}
	}
}

// envFieldPaths are the pod fields an env var's fieldRef may read
// (k8s.io/kubernetes pkg/apis/core/validation, validEnvDownwardAPIFieldPathExpressions).
var envFieldPaths = []string{"metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs", "metadata.labels['KEY']", "metadata.annotations['KEY']"}

// envFieldPath reports whether an env var's fieldRef may read path.
func envFieldPath(path string) bool {
	for _, prefix := range []string{"metadata.labels['", "metadata.annotations['"} {
		if key, ok := strings.CutPrefix(path, prefix); ok {
			return strings.HasSuffix(key, "']") && len(key) > 2
		}
	}
	return slices.Contains(envFieldPaths, path)
}

// podFailure is one failed Pod Security check, placed.
type podFailure struct{ path, reason, message string }

// securityField finds the field a check's detail names.
var securityField = regexp.MustCompile(`securityContext(\.[A-Za-z]+)*`)

// reasonFields are the security context fields that the Pod Security
// checks, by the reason they fail with, read.
var reasonFields = map[string]string{
	"runAsUser=0":                       "runAsUser",
	"runAsNonRoot != true":              "runAsNonRoot",
	"seccompProfile":                    "seccompProfile",
	"allowPrivilegeEscalation != false": "allowPrivilegeEscalation",
	"privileged":                        "privileged",
	"unrestricted capabilities":         "capabilities.drop",
	"non-default capabilities":          "capabilities.add",
	"procMount":                         "procMount",
	"seLinuxOptions":                    "seLinuxOptions",
	"forbidden sysctls":                 "sysctls",
	"hostProcess":                       "windowsOptions.hostProcess",
	"forbidden AppArmor profile":        "appArmorProfile",
	"forbidden AppArmor profiles":       "appArmorProfile",
}

// podFailures evaluates spec, pod p's spec or its patched spec, first
// without its containers (what the pod itself sets), then with each
// container alone, so each failure is placed where it is written.
func podFailures(evaluator policy.Evaluator, p definedPod, spec *corev1.PodSpec) []podFailure {
	var out []podFailure
	bare := *spec
	bare.Containers, bare.InitContainers = nil, nil
	podReasons := map[string]bool{}
	for _, r := range evaluator.EvaluatePod(restricted, &metav1.ObjectMeta{}, &bare) {
		if r.Allowed {
			continue
		}
		podReasons[r.ForbiddenReason] = true
		at := p.security
		switch field, ok := reasonFields[r.ForbiddenReason]; {
		case r.ForbiddenReason == "host namespaces":
			at = p.host
		case r.ForbiddenReason == "hostPath volumes" || r.ForbiddenReason == "restricted volume types":
			at = p.volumes
		case ok:
			at += "." + field
		}
		out = append(out, podFailure{at, r.ForbiddenReason, restrictedMessage(r)})
	}
	all := append(append([]corev1.Container(nil), spec.InitContainers...), spec.Containers...)
	for c, container := range all {
		alone := bare
		alone.Volumes = nil
		alone.Containers = []corev1.Container{container}
		for _, r := range evaluator.EvaluatePod(restricted, &metav1.ObjectMeta{}, &alone) {
			if r.Allowed || podReasons[r.ForbiddenReason] {
				continue
			}
			at := p.containers[c]
			field, ok := reasonFields[r.ForbiddenReason]
			switch detail := securityField.FindString(r.ForbiddenDetail); {
			case r.ForbiddenReason == "hostPort":
				at += ".ports"
			case ok:
				at += ".securityContext." + field
			case detail != "":
				at += "." + detail
			}
			out = append(out, podFailure{at, r.ForbiddenReason, restrictedMessage(r)})
		}
	}
	return out
}

func restrictedMessage(r policy.CheckResult) string {
	return fmt.Sprintf("below Pod Security \"restricted\" (%s: %s): the pod gets more privilege than it needs, and a namespace that enforces restricted refuses it", r.ForbiddenReason, r.ForbiddenDetail)
}

// unpinned says why image is not pinned, or "".
func unpinned(image string) string {
	switch {
	case image == "":
		return "" // upstream validation requires one
	case isTemplated(image):
		return fmt.Sprintf("image %q is a parameter, so what runs is not fixed here: name the image with a version tag or a digest", image)
	}
	ref, err := name.ParseReference(image)
	if err != nil {
		return fmt.Sprintf("image %q is not an image reference: %v", image, err)
	}
	if _, ok := ref.(name.Digest); ok {
		return ""
	}
	last := image[strings.LastIndex(image, "/")+1:]
	switch {
	case !strings.Contains(last, ":"):
		return fmt.Sprintf("image %q has no tag or digest, so it runs whatever latest is when a node pulls it: pin a version tag or a digest", image)
	case ref.Identifier() == "latest":
		return fmt.Sprintf("image %q runs whatever latest is when a node pulls it: pin a version tag or a digest", image)
	}
	return ""
}

// workflowPods are the pods of a workflow spec's templates at prefix
// (spec, spec.workflowSpec), as the workflow controller builds them.
func workflowPods(prefix string, spec *wfv1.WorkflowSpec) []definedPod {
	var pods []definedPod
	for t, tmpl := range spec.Templates {
		at := fmt.Sprintf("%s.templates[%d]", prefix, t)
		p := definedPod{security: prefix + ".securityContext", volumes: prefix + ".volumes", host: prefix + ".hostNetwork", images: true}
		p.spec.SecurityContext = spec.SecurityContext
		if tmpl.SecurityContext != nil {
			p.spec.SecurityContext, p.security = tmpl.SecurityContext, at+".securityContext"
		}
		if spec.HostNetwork != nil {
			p.spec.HostNetwork = *spec.HostNetwork
		}
		p.spec.Volumes = append(append([]corev1.Volume(nil), spec.Volumes...), tmpl.Volumes...)
		for _, claim := range spec.VolumeClaimTemplates {
			p.claims = append(p.claims, claim.Name)
		}
		if len(tmpl.Volumes) > 0 {
			p.volumes = at + ".volumes"
		}
		for c, init := range tmpl.InitContainers {
			p.spec.InitContainers = append(p.spec.InitContainers, init.Container)
			p.containers = append(p.containers, fmt.Sprintf("%s.initContainers[%d]", at, c))
		}
		switch {
		case tmpl.Container != nil:
			p.spec.Containers = append(p.spec.Containers, *tmpl.Container)
			p.containers = append(p.containers, at+".container")
		case tmpl.Script != nil:
			p.spec.Containers = append(p.spec.Containers, tmpl.Script.Container)
			p.containers = append(p.containers, at+".script")
		case tmpl.ContainerSet != nil:
			for c, node := range tmpl.ContainerSet.Containers {
				p.spec.Containers = append(p.spec.Containers, node.Container)
				p.containers = append(p.containers, fmt.Sprintf("%s.containerSet.containers[%d]", at, c))
			}
		default:
			continue // no pod of its own
		}
		for c, sidecar := range tmpl.Sidecars {
			p.spec.Containers = append(p.spec.Containers, sidecar.Container)
			p.containers = append(p.containers, fmt.Sprintf("%s.sidecars[%d]", at, c))
		}
		var patches []string
		if spec.PodSpecPatch != "" {
			patches, p.patch = append(patches, spec.PodSpecPatch), prefix+".podSpecPatch"
		}
		if tmpl.PodSpecPatch != "" {
			patches, p.patch = append(patches, tmpl.PodSpecPatch), at+".podSpecPatch"
		}
		if len(patches) > 0 {
			p.patched, p.patchErr = applyPodSpecPatch(p.spec, patches)
		}
		pods = append(pods, p)
	}
	return pods
}

// applyPodSpecPatch applies the podSpecPatches to spec as the workflow
// controller does (util.ApplyPodSpecPatch: strategic merge patches, YAML
// or JSON). A patch with parameters is known only when the pod starts.
func applyPodSpecPatch(spec corev1.PodSpec, patches []string) (*corev1.PodSpec, error) {
	data, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	for _, patch := range patches {
		if isTemplated(patch) {
			return nil, fmt.Errorf("it has parameters")
		}
		patchJSON, err := yaml.YAMLToJSON([]byte(patch))
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(patchJSON, &corev1.PodSpec{}); err != nil {
			return nil, err
		}
		if data, err = strategicpatch.StrategicMergePatch(data, patchJSON, corev1.PodSpec{}); err != nil {
			return nil, err
		}
	}
	var patched corev1.PodSpec
	if err := json.Unmarshal(data, &patched); err != nil {
		return nil, err
	}
	return &patched, nil
}

// argoEventsPod is the pod of an EventSource's or Sensor's template, as
// its controller builds it: one container, main.
func argoEventsPod(t *eventsv1alpha1.Template) definedPod {
	p := definedPod{security: "spec.template.securityContext", volumes: "spec.template.volumes", host: "spec.template", containers: []string{"spec.template.container"}}
	main := corev1.Container{Name: "main"}
	if t != nil {
		p.spec.SecurityContext, p.spec.Volumes = t.SecurityContext, t.Volumes
		if t.Container != nil {
			main.SecurityContext, main.VolumeMounts = t.Container.SecurityContext, t.Container.VolumeMounts
		}
	}
	p.spec.Containers = []corev1.Container{main}
	return p
}

// eventBusPods is the pod of a JetStream EventBus's servers, as its
// controller builds it: the main, reloader and metrics containers.
func eventBusPods(js *eventsv1alpha1.JetStreamBus) []definedPod {
	if js == nil {
		return nil
	}
	p := definedPod{security: "spec.jetstream.securityContext", volumes: "spec.jetstream", host: "spec.jetstream"}
	p.spec.SecurityContext = js.SecurityContext
	for _, c := range []struct {
		name, field string
		template    *eventsv1alpha1.ContainerTemplate
	}{{"main", "containerTemplate", js.ContainerTemplate}, {"reloader", "reloaderContainerTemplate", js.ReloaderContainerTemplate}, {"metrics", "metricsContainerTemplate", js.MetricsContainerTemplate}} {
		container := corev1.Container{Name: c.name}
		if c.template != nil {
			container.SecurityContext = c.template.SecurityContext
		}
		p.spec.Containers = append(p.spec.Containers, container)
		p.containers = append(p.containers, "spec.jetstream."+c.field)
	}
	return []definedPod{p}
}
