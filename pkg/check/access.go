package check

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/render"
	eventsv1alpha1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/component-helpers/auth/rbac/validation"
)

const accessValidator = "argodeploy access"

// Options tune All and Access.
type Options struct {
	// AllowUnknownFields decodes objects ignoring fields their types lack.
	AllowUnknownFields bool
	// External downgrades a ServiceAccount or ConfigMap that is referenced
	// but not among the objects from a problem to a note: it must then
	// exist in the cluster. Secrets are always external.
	External bool
	// ParseCommand parses the words a workflow step runs argodeploy with
	// (after "argodeploy") as the argodeploy binary does; nil leaves them
	// unchecked.
	ParseCommand func(args []string) error
	// Prepared is work done ahead (Prepared.Prepare) on the objects
	// checked; nil: none.
	Prepared *Prepared
}

// Access checks what objects reach by name and what their service accounts
// may do, across objs:
//   - the ServiceAccounts, ConfigMaps and Secrets that Sensors,
//     EventSources, WorkflowTemplates, Workflows and the Workflows that
//     triggers create refer to exist among objs (Secrets, which do not
//     belong in manifests, are noted as external);
//   - the Roles bound to each service account grant what its objects need
//     and no more: a Sensor's account creates what its triggers create, a
//     workflow's account reports task results and gets and updates the
//     Deployments of every entry of its cache (the argodeploy convention: a
//     volume "cache" of one ConfigMap or a projection of several), and
//     gets the kubeconfig Secrets of the other clusters its entries name;
//     a CronWorkflow whose entrypoint runs argodeploy reconcile needs the
//     same of its account, but only gets the Deployments, and creates
//     Workflows in its namespace;
//   - the Deployment a triggered Workflow restarts is never chosen by event
//     data.
//
// Rule coverage is Kubernetes' own (component-helpers' rbac Covers). It
// returns one Result per Sensor, EventSource, WorkflowTemplate, Workflow,
// CronWorkflow, Role, RoleBinding, ClusterRole and ClusterRoleBinding. Grants beyond the needs are
// only reported when every object decoded and every needed object is
// present, so that one mistake is not reported twice.
func Access(objs []runtime.Object, opts Options) []Result {
	return accessLayer(decodeInputs(objs, true), opts)
}

func accessLayer(in *inputs, opts Options) []Result {
	decoded := in.objs
	a := newAccess(decoded, opts)
	a.broken = in.broken
	for k := range a.broken {
		kind, _, _ := strings.Cut(k, "/")
		// What an object of these kinds needs is unknown, so no grant can
		// be called more than needed.
		a.partial = a.partial || slices.Contains([]string{"Sensor", "EventSource", "WorkflowTemplate", "Workflow", "CronWorkflow"}, kind)
	}
	for i, obj := range decoded {
		switch o := obj.(type) {
		case *eventsv1alpha1.Sensor:
			a.sensor(i, o)
			a.pods(i, []definedPod{argoEventsPod(o.Spec.Template)})
		case *eventsv1alpha1.EventSource:
			a.eventSource(i, o)
			a.pods(i, []definedPod{argoEventsPod(o.Spec.Template)})
		case *eventsv1alpha1.EventBus:
			a.pods(i, eventBusPods(o.Spec.JetStream))
			if js := o.Spec.JetStream; js != nil && js.Version == "latest" {
				a.fail(i, "spec.jetstream.version", "latest: the controller runs the NATS images it maps latest to, which change under it: pin a version")
			}
		case *wfv1.WorkflowTemplate:
			a.workflowTemplate(i, o)
			a.pods(i, workflowPods("spec", &o.Spec))
		case *wfv1.Workflow:
			a.workflow(i, o.Namespace, o, nil, "")
			a.pods(i, workflowPods("spec", &o.Spec))
		case *wfv1.CronWorkflow:
			a.cronWorkflow(i, o)
			a.pods(i, workflowPods("spec.workflowSpec", &o.Spec.WorkflowSpec))
		}
	}
	a.mappedPushesAdmitted(decoded)
	a.compare(decoded)
	var results []Result
	for i, obj := range decoded {
		if in.skipped(i) {
			continue // a stand-in: what it needs counts, its findings do not
		}
		switch o := obj.(type) {
		case *eventsv1alpha1.Sensor:
			results = append(results, a.result(i, "Sensor", o))
		case *eventsv1alpha1.EventSource:
			results = append(results, a.result(i, "EventSource", o))
		case *eventsv1alpha1.EventBus:
			results = append(results, a.result(i, "EventBus", o))
		case *wfv1.WorkflowTemplate:
			results = append(results, a.result(i, "WorkflowTemplate", o))
		case *wfv1.Workflow:
			results = append(results, a.result(i, "Workflow", o))
		case *wfv1.CronWorkflow:
			results = append(results, a.result(i, "CronWorkflow", o))
		case *rbacv1.Role:
			results = append(results, a.result(i, "Role", o))
		case *rbacv1.RoleBinding:
			results = append(results, a.result(i, "RoleBinding", o))
		case *rbacv1.ClusterRole:
			results = append(results, a.result(i, "ClusterRole", o))
		case *rbacv1.ClusterRoleBinding:
			results = append(results, a.result(i, "ClusterRoleBinding", o))
		}
	}
	return results
}

// access is the state of one Access run: the objects by name, what each
// service account needs and is granted, and the findings per object.
type access struct {
	opts         Options
	accounts     map[string]bool
	configMaps   map[string]*corev1.ConfigMap
	secrets      map[string]bool
	roles        map[string]*rbacv1.Role
	clusterRoles map[string]*rbacv1.ClusterRole
	roleIndex    map[any]int // Role or ClusterRole → object index
	templates    map[string]*wfv1.WorkflowTemplate
	// cacheImages are, per Sensor (by object index) whose triggers create
	// rollout Workflows, the images of the cache entries those read; nil
	// when some entry is unknown.
	cacheImages   map[int]map[string]bool
	cacheNames    map[int][]string            // per such Sensor, the cache ConfigMaps its Workflows read
	caches        map[string]*mappedPushes    // what the entries of those ConfigMaps map, by cacheNames
	matchers      map[string]*matcher         // compiled filters, by path and values
	generatedDeps map[[2]int]bool             // per Sensor and dependency: its filters are generate's (generated)
	entries       map[string][]cacheEntry     // cache ConfigMap key → its decoded entries
	required      map[string]struct{}         // requireOnce's needs recorded, by needKey
	keyBuf        []byte                      // needKey's buffer
	images        map[string]imageList        // admittedImages, by pattern
	passes        map[passKey]map[string]bool // rolloutTarget passes that found nothing wrong → their images

	broken  map[string]bool   // objects that did not decode, by kind/namespace/name
	partial bool              // some needs are unknown: an object did not decode or a template is missing
	needs   map[string][]need // account key → what it needs
	unknown map[string]bool   // accounts with needs Access cannot derive
	errs    map[int][]error   // object index → problems
	notes   map[int][]error   // object index → notes
}

// need is one permission an object needs for an account.
type need struct {
	obj       int
	path      string
	namespace string
	rule      rbacv1.PolicyRule
	why       string
}

func newAccess(decoded []runtime.Object, opts Options) *access {
	a := &access{
		opts: opts, accounts: map[string]bool{}, configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]bool{},
		roles: map[string]*rbacv1.Role{}, clusterRoles: map[string]*rbacv1.ClusterRole{}, roleIndex: map[any]int{}, templates: map[string]*wfv1.WorkflowTemplate{},
		cacheImages: map[int]map[string]bool{}, cacheNames: map[int][]string{}, caches: map[string]*mappedPushes{}, matchers: map[string]*matcher{}, generatedDeps: map[[2]int]bool{}, entries: map[string][]cacheEntry{}, required: map[string]struct{}{}, images: map[string]imageList{}, passes: map[passKey]map[string]bool{},
		needs: map[string][]need{}, unknown: map[string]bool{}, errs: map[int][]error{}, notes: map[int][]error{},
	}
	for i, obj := range decoded {
		switch o := obj.(type) {
		case *corev1.ServiceAccount:
			a.accounts[key(o.Namespace, o.Name)] = true
		case *corev1.ConfigMap:
			a.configMaps[key(o.Namespace, o.Name)] = o
		case *corev1.Secret:
			a.secrets[key(o.Namespace, o.Name)] = true
		case *eventsv1alpha1.EventBus:
			if o.Spec.JetStream != nil { // its controller writes the client credentials
				a.secrets[key(o.Namespace, render.BusAuthSecret(o.Name))] = true
			}
		case *rbacv1.Role:
			a.roles[key(o.Namespace, o.Name)] = o
			a.roleIndex[o] = i
		case *rbacv1.ClusterRole:
			a.clusterRoles[o.Name] = o
			a.roleIndex[o] = i
		case *wfv1.WorkflowTemplate:
			a.templates[key(o.Namespace, o.Name)] = o
		}
	}
	return a
}

func key(namespace, name string) string { return namespace + "/" + name }

func (a *access) fail(obj int, path, format string, args ...any) {
	a.errs[obj] = append(a.errs[obj], &FieldError{Path: path, Err: fmt.Errorf(format, args...)})
}

func (a *access) note(obj int, path, format string, args ...any) {
	a.notes[obj] = append(a.notes[obj], &FieldError{Path: path, Err: fmt.Errorf(format, args...)})
}

func (a *access) result(i int, kind string, obj interface {
	GetNamespace() string
	GetName() string
}) Result {
	return Result{Kind: kind, Namespace: obj.GetNamespace(), Name: obj.GetName(), Validator: accessValidator,
		Err: errors.Join(a.errs[i]...), Notes: a.notes[i]}
}

// account resolves the service account a pod of obj runs as and reports
// one that is not among the objects. It returns the account's key.
func (a *access) account(obj int, path, namespace, name string) string {
	if name == "" {
		name = "default"
	}
	k := key(namespace, name)
	if name != "default" && !a.accounts[k] && !a.broken["ServiceAccount/"+k] {
		if a.opts.External {
			a.note(obj, path, "ServiceAccount %q is not among the inputs: it must exist in namespace %q (external); its permissions are not checked", name, namespace)
		} else {
			a.fail(obj, path, "ServiceAccount %q not found in namespace %q", name, namespace)
		}
		a.unknown[k] = true
	}
	return k
}

// configMap reports a ConfigMap reference that is not among the objects.
// use says what refers to a ConfigMap or Secret, e.g. `volume "cache": `.
func (a *access) configMap(obj int, path, use, namespace, name string) {
	if isTemplated(name) || a.configMaps[key(namespace, name)] != nil || a.broken["ConfigMap/"+key(namespace, name)] {
		return
	}
	if a.opts.External {
		a.note(obj, path, "%sConfigMap %q is not among the inputs: it must exist in namespace %q (external)", use, name, namespace)
	} else {
		a.fail(obj, path, "%sConfigMap %q not found in namespace %q", use, name, namespace)
	}
}

// secret notes a Secret reference that is not among the objects.
func (a *access) secret(obj int, path, use, namespace, name string) {
	if isTemplated(name) || a.secrets[key(namespace, name)] {
		return
	}
	a.note(obj, path, "%sSecret %q must exist in namespace %q (external)", use, name, namespace)
}

func (a *access) require(account string, n need) { a.needs[account] = append(a.needs[account], n) }

// requireOnce is require for a need the account may already have
// recorded (each Sensor's Workflows, and the reconcile CronWorkflow, read
// the same cache entries): a repeat of the same rule is left out, and a
// missing grant is reported where it was first needed.
func (a *access) requireOnce(account string, n need) {
	r := n.rule
	b := appendLists(a.keyBuf[:0], []string{account, n.namespace}, r.APIGroups, r.Resources, r.ResourceNames, r.Verbs)
	a.keyBuf = b
	if _, seen := a.required[string(b)]; seen {
		return
	}
	a.required[string(b)] = struct{}{}
	a.require(account, n)
}

// appendLists appends lists to b, each and each string in it prefixed
// with its length: a key that two different lists never share.
func appendLists(b []byte, lists ...[]string) []byte {
	for _, list := range lists {
		b = binary.AppendUvarint(b, uint64(len(list)))
		for _, s := range list {
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		}
	}
	return b
}

// cacheEntry is what the layer reads of one decoded entry of a cache
// ConfigMap: a cache of 10,000 services is 10 MB decoded whole, 2 MB so.
type cacheEntry struct {
	key     string // the service, as the ConfigMap keys it
	name    string
	image   string
	targets []entryTarget
	err     error
}

// entryTarget is what the layer reads of a target of a cache entry: what
// rolloutTarget's needs name, and the tag pattern render.Filters reads.
type entryTarget struct {
	name, namespace, deployment, tagPattern string
	cluster                                 *mapping.Cluster
	receivers                               []entryReceiver
}

// entryReceiver is a receiver of a target's notifications.
type entryReceiver struct{ name, urlSecret string }

// service is e as the mapping.Service render.Filters reads: its name,
// image and the targets' tag patterns.
func (e *cacheEntry) service() mapping.Service {
	svc := mapping.Service{Name: e.name, Image: e.image, Targets: make([]mapping.Target, len(e.targets))}
	for i, t := range e.targets {
		svc.Targets[i] = mapping.Target{Name: t.name, Namespace: t.namespace, Deployment: t.deployment, TagPattern: t.tagPattern}
	}
	return svc
}

// cacheEntries decodes the entries of cache ConfigMap cm (by key), once
// per Access run, unless opts.Prepared has them already.
func (a *access) cacheEntries(k string, cm *corev1.ConfigMap) []cacheEntry {
	if entries, ok := a.entries[k]; ok {
		return entries
	}
	entries, ok := a.opts.Prepared.entriesOf(cm)
	if !ok {
		entries = decodeEntries(cm)
	}
	a.entries[k] = entries
	return entries
}

// decodeEntries decodes and checks the entries of cm, by key.
func decodeEntries(cm *corev1.ConfigMap) []cacheEntry {
	keys := slices.Sorted(maps.Keys(cm.Data))
	entries := make([]cacheEntry, len(keys))
	for j, k := range keys {
		entries[j] = decodeEntry(k, cm.Data[k])
	}
	return entries
}

// decodeEntry decodes and checks the cache entry of service key.
func decodeEntry(key, data string) cacheEntry {
	svc, err := mapping.DecodeEntry([]byte(data))
	if err == nil {
		err = mapping.CheckEntry(svc)
	}
	e := cacheEntry{key: key, name: svc.Name, image: svc.Image, targets: make([]entryTarget, len(svc.Targets)), err: err}
	for i, t := range svc.Targets {
		e.targets[i] = entryTarget{name: t.Name, namespace: t.Namespace, deployment: t.Deployment, tagPattern: t.TagPattern, cluster: t.Cluster}
		for _, r := range t.Receivers {
			e.targets[i].receivers = append(e.targets[i].receivers, entryReceiver{r.Name, r.URLSecret.Name})
		}
	}
	return e
}

// Prepared is work for the checks done ahead, object by object, while the
// rest are still being read: the entries of the ConfigMaps argodeploy
// writes (labelled as managed by it), decoded as cache entries. It is safe
// for concurrent use; the zero value is ready, and a nil one prepares
// nothing.
type Prepared struct {
	mu      sync.Mutex
	entries map[*corev1.ConfigMap][]cacheEntry
}

// Prepare does ahead for obj, a decoded object, what the checks would do
// of it alone. It takes the data of a ConfigMap whose entries it decodes
// (cm.Data is nil after it): the checks then read the entries from p, and
// the 4 MB of a 10,000-service cache's JSON need not be held.
func (p *Prepared) Prepare(obj runtime.Object) {
	cm, ok := obj.(*corev1.ConfigMap)
	if p == nil || !ok || cm.Labels[render.LabelManagedBy] != render.ManagerName {
		return
	}
	entries := decodeEntries(cm)
	cm.Data = nil
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.entries == nil {
		p.entries = map[*corev1.ConfigMap][]cacheEntry{}
	}
	p.entries[cm] = entries
}

// entriesOf returns the entries of cm that Prepare decoded.
func (p *Prepared) entriesOf(cm *corev1.ConfigMap) ([]cacheEntry, bool) {
	if p == nil {
		return nil, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	entries, ok := p.entries[cm]
	return entries, ok
}

func (a *access) eventSource(i int, es *eventsv1alpha1.EventSource) {
	var sa string
	if es.Spec.Template != nil {
		sa = es.Spec.Template.ServiceAccountName
		a.podVolumes(i, "spec.template.volumes", es.Namespace, es.Spec.Template.Volumes)
	}
	a.account(i, "spec.template.serviceAccountName", es.Namespace, sa)
	for _, name := range slices.Sorted(maps.Keys(es.Spec.PubSub)) {
		if sel := es.Spec.PubSub[name].CredentialSecret; sel != nil {
			a.secret(i, fmt.Sprintf("spec.pubSub.%s.credentialSecret.name", name), "", es.Namespace, sel.Name)
		}
	}
}

func (a *access) sensor(i int, s *eventsv1alpha1.Sensor) {
	var saName string
	if s.Spec.Template != nil {
		saName = s.Spec.Template.ServiceAccountName
		a.podVolumes(i, "spec.template.volumes", s.Namespace, s.Spec.Template.Volumes)
	}
	sa := a.account(i, "spec.template.serviceAccountName", s.Namespace, saName)
	for t, trigger := range s.Spec.Triggers {
		path := fmt.Sprintf("spec.triggers[%d]", t)
		a.trigger(i, path, s.Namespace, sa, trigger.Template, trigger.Parameters)
		if trigger.DlqTrigger != nil {
			a.trigger(i, path+".dlqTrigger", s.Namespace, sa, trigger.DlqTrigger.Template, trigger.DlqTrigger.Parameters)
		}
	}
	a.routedImages(i, s)
	a.exactFilters(i, s)
}

// routedImages checks that every image a dependency's digest filter admits
// (when its images are known: admittedImages) has an entry in the cache
// the Sensor's rollout Workflows read: the route step refuses a push of
// any other, so each would fail.
func (a *access) routedImages(i int, s *eventsv1alpha1.Sensor) {
	cached, ok := a.cacheImages[i]
	if !ok || cached == nil {
		return
	}
	for d, dep := range s.Spec.Dependencies {
		if dep.Filters == nil {
			continue
		}
		for f, filter := range dep.Filters.Data {
			if filter.Path != "body.digest" {
				continue
			}
			for v, value := range filter.Value {
				images, ok := a.admittedImages(value)
				if !ok {
					continue
				}
				for _, image := range images {
					if !cached[image] {
						a.fail(i, fmt.Sprintf("spec.dependencies[%d].filters.data[%d].value[%d]", d, f, v), "admits image %s, which has no entry in the cache its Workflow's route step reads: every push of it would fail there; generate the Sensors and the cache ConfigMaps together", image)
					}
				}
			}
		}
	}
}

// trigger records what a trigger's account needs to create its resource
// and checks the Workflow it creates, if any.
func (a *access) trigger(i int, path, namespace, sa string, t *eventsv1alpha1.TriggerTemplate, outer []eventsv1alpha1.TriggerParameter) {
	if t == nil {
		return
	}
	var source *eventsv1alpha1.ArtifactLocation
	var params []eventsv1alpha1.TriggerParameter
	var verbs []string
	var kind string
	switch {
	case t.K8s != nil:
		source, params, kind = t.K8s.Source, t.K8s.Parameters, "k8s"
		verbs = []string{k8sVerb(t.K8s.Operation)}
		path += ".template.k8s"
	case t.ArgoWorkflow != nil:
		source, params, kind = t.ArgoWorkflow.Source, t.ArgoWorkflow.Parameters, "argoWorkflow"
		path += ".template.argoWorkflow"
	default:
		a.unknown[sa] = true // other trigger types may need access Access does not model
		return
	}
	if source == nil || source.Resource == nil {
		a.unknown[sa] = true
		return
	}
	var obj struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(source.Resource.Value, &obj); err != nil || obj.Kind == "" {
		a.unknown[sa] = true
		return
	}
	group, _, _ := strings.Cut(obj.APIVersion, "/")
	if !strings.Contains(obj.APIVersion, "/") {
		group = ""
	}
	target := obj.Metadata.Namespace
	if target == "" {
		target = namespace
	}
	resourcePath := path + ".source.resource"
	if kind == "argoWorkflow" {
		// argo submit: creates the Workflow, lists it, and reads the
		// WorkflowTemplate it references.
		op := t.ArgoWorkflow.Operation
		if op != "" && op != eventsv1alpha1.Submit {
			a.unknown[sa] = true
			return
		}
		verbs = []string{"create", "list"}
		a.require(sa, need{i, resourcePath, target, rule("argoproj.io", "workflowtemplates", "get"), "trigger " + t.Name + " (argo submit)"})
	}
	a.require(sa, need{i, resourcePath, target, rule(group, plural(obj.Kind), verbs...), "trigger " + t.Name})
	if group == wfv1.SchemeGroupVersion.Group && obj.Kind == "Workflow" {
		var wf wfv1.Workflow
		if err := json.Unmarshal(source.Resource.Value, &wf); err == nil {
			a.workflow(i, target, &wf, dynamicParameters(append(params, outer...)), resourcePath)
		}
	}
}

// dynamicParameters are the indices of the Workflow arguments that trigger
// parameters set from event data.
func dynamicParameters(params []eventsv1alpha1.TriggerParameter) map[int]bool {
	dynamic := map[int]bool{}
	for _, p := range params {
		if m := argumentDest.FindStringSubmatch(p.Dest); m != nil {
			n, _ := strconv.Atoi(m[1])
			dynamic[n] = true
		}
	}
	return dynamic
}

var argumentDest = regexp.MustCompile(`^spec\.arguments\.parameters\.(\d+)\.`)

func (a *access) workflowTemplate(i int, t *wfv1.WorkflowTemplate) {
	sa := a.account(i, "spec.serviceAccountName", t.Namespace, t.Spec.ServiceAccountName)
	a.require(sa, need{i, "spec.serviceAccountName", t.Namespace, rule("argoproj.io", "workflowtaskresults", "create", "patch"), "WorkflowTemplate " + t.Name + " (executor task results)"})
	a.specVolumes(i, "spec", t.Namespace, &t.Spec, nil)
}

// cronWorkflow records what a CronWorkflow's account needs: task results,
// what its pods read, and, when its entrypoint runs argodeploy reconcile,
// creating Workflows and getting the Deployments of every entry of its
// cache (rolloutTarget, read-only).
func (a *access) cronWorkflow(i int, c *wfv1.CronWorkflow) {
	spec := &c.Spec.WorkflowSpec
	const account = "spec.workflowSpec.serviceAccountName"
	sa := a.account(i, account, c.Namespace, spec.ServiceAccountName)
	a.require(sa, need{i, account, c.Namespace, rule("argoproj.io", "workflowtaskresults", "create", "patch"), "CronWorkflow " + c.Name + " (executor task results)"})
	a.specVolumes(i, "spec.workflowSpec", c.Namespace, spec, nil)
	var step *corev1.Container
	stepAt := ""
	for t, tmpl := range spec.Templates {
		if tmpl.Name == spec.Entrypoint && tmpl.Container != nil && slices.Equal(tmpl.Container.Command, []string{"argodeploy", "reconcile"}) {
			step, stepAt = tmpl.Container, fmt.Sprintf("spec.workflowSpec.templates[%d].container.args", t)
		}
	}
	if step == nil {
		if c.Labels[render.LabelManagedBy] == render.ManagerName {
			// generate writes one CronWorkflow: the reconcile loop.
			a.fail(i, "spec.workflowSpec.entrypoint", "the entrypoint %q of argodeploy's CronWorkflow does not run a container whose command is argodeploy reconcile: no pass releases a missed push", spec.Entrypoint)
		}
		a.unknown[sa] = true // its steps' needs are not known
		return
	}
	for _, name := range flagValues(step.Args, "--workflow-template") {
		switch k := key(c.Namespace, name); {
		case a.templates[k] != nil:
			// The pass labels its releases, and bounds the dead letters,
			// of --pipeline: the template's own pipeline.
			part := a.templates[k].Labels[render.LabelPartOf]
			for _, p := range flagValues(step.Args, "--pipeline") {
				if part != "" && p != part {
					a.fail(i, stepAt, "--pipeline %s: WorkflowTemplate %q is pipeline %s's: the releases the pass creates would be labelled %s's (status, history and approve miss them), and it would delete %s's dead letters", p, name, part, p, p)
				}
			}
		case a.broken["WorkflowTemplate/"+k]:
		case a.opts.External:
			a.note(i, stepAt, "--workflow-template %s: WorkflowTemplate %q is not among the inputs: it must exist in namespace %q (external)", name, name, c.Namespace)
		default:
			a.fail(i, stepAt, "--workflow-template %s: WorkflowTemplate %q not found in namespace %q: every release the reconcile pass creates fails", name, name, c.Namespace)
		}
	}
	a.require(sa, need{i, account, c.Namespace, rule("argoproj.io", "workflows", "create"), "CronWorkflow " + c.Name + " (argodeploy reconcile creates release Workflows)"})
	// reconcile --event-bus reads the EventBus and each --sensor.
	for _, read := range []struct{ flag, resource string }{{"--event-bus", "eventbus"}, {"--sensor", "sensors"}} {
		for _, name := range flagValues(step.Args, read.flag) {
			r := rule("argoproj.io", read.resource, "get")
			r.ResourceNames = []string{name}
			a.require(sa, need{i, account, c.Namespace, r, "CronWorkflow " + c.Name + " (argodeploy reconcile " + read.flag + " checks the event bus)"})
		}
	}
	// reconcile --keep-dead-letters lists and deletes dead letters.
	if n := flagValues(step.Args, "--keep-dead-letters"); len(n) > 0 && n[len(n)-1] != "0" {
		a.require(sa, need{i, account, c.Namespace, render.DeadLetterRule, "CronWorkflow " + c.Name + " (argodeploy reconcile --keep-dead-letters deletes the dead letters past the bound)"})
	}
	a.rolloutTarget(i, "spec.workflowSpec", c.Namespace, sa, spec.Volumes, map[string]string{}, nil, reconcileStep)
}

// workflow checks a Workflow, among the objects or created by a trigger
// (then path is the trigger's resource): its account and references, and
// the Deployment its cache entry names. dynamic marks arguments that come
// from event data.
func (a *access) workflow(i int, namespace string, wf *wfv1.Workflow, dynamic map[int]bool, path string) {
	if path == "" {
		path = "spec"
	} else {
		path += ".spec"
	}
	spec := wf.Spec
	values := map[string]string{}
	var tmpl *wfv1.WorkflowTemplate
	if ref := spec.WorkflowTemplateRef; ref != nil && !ref.ClusterScope {
		tmpl = a.templates[key(namespace, ref.Name)]
		if tmpl == nil {
			a.partial = true // CrossResource reports a missing template
			return
		}
		for _, p := range tmpl.Spec.Arguments.Parameters {
			if p.Value != nil {
				values[p.Name] = p.Value.String()
			}
		}
	}
	fromEvent := map[string]bool{}
	for n, p := range spec.Arguments.Parameters {
		if dynamic[n] {
			fromEvent[p.Name] = true
			delete(values, p.Name)
			continue
		}
		if p.Value != nil {
			values[p.Name] = p.Value.String()
		}
	}
	if dynamic != nil {
		a.triggerArguments(i, path, wf, tmpl, dynamic)
	}
	saName, volumes, cacheSpec := spec.ServiceAccountName, spec.Volumes, &spec
	if tmpl != nil {
		if saName == "" {
			saName = tmpl.Spec.ServiceAccountName
		}
		volumes = append(append([]corev1.Volume(nil), tmpl.Spec.Volumes...), spec.Volumes...)
		cacheSpec = &tmpl.Spec
	}
	sa := a.account(i, path+".serviceAccountName", namespace, saName)
	if tmpl == nil {
		a.require(sa, need{i, path, namespace, rule("argoproj.io", "workflowtaskresults", "create", "patch"), "Workflow (executor task results)"})
	}
	a.specVolumes(i, path, namespace, cacheSpec, values)
	a.rolloutTarget(i, path, namespace, sa, volumes, values, fromEvent, rolloutStep)
}

// triggerArguments checks the arguments of the Workflow a trigger creates
// from tmpl: each argument tmpl leaves without a value must be set, or
// the controller refuses every such Workflow ("spec.arguments.NAME.value
// is required"); and rollback, which pins a target whatever the order of
// pushes, is argodeploy rollback's alone.
func (a *access) triggerArguments(i int, path string, wf *wfv1.Workflow, tmpl *wfv1.WorkflowTemplate, dynamic map[int]bool) {
	set := map[string]bool{}
	for n, p := range wf.Spec.Arguments.Parameters {
		set[p.Name] = true
		if p.Name == render.ParamRollback && (dynamic[n] || p.Value != nil && p.Value.String() != "" || p.ValueFrom != nil) {
			a.fail(i, fmt.Sprintf("%s.arguments.parameters[%d]", path, n), "the trigger sets argument %q: every push would pin its target whatever its order or version; only argodeploy rollback sets it", p.Name)
		}
	}
	if tmpl == nil {
		return
	}
	for _, p := range tmpl.Spec.Arguments.Parameters {
		if p.Name == render.ParamRollback && (p.Value != nil && p.Value.String() != "" || p.ValueFrom != nil) && !set[p.Name] {
			a.fail(i, path+".arguments.parameters", "WorkflowTemplate %s gives argument %q a value: every push would be taken for a rollback of that target; its default must be empty", tmpl.Name, p.Name)
		}
		if p.Value == nil && p.ValueFrom == nil && !set[p.Name] {
			a.fail(i, path+".arguments.parameters", "WorkflowTemplate %s declares argument %q without a value and the trigger does not set it: the controller refuses every Workflow (spec.arguments.%s.value is required)", tmpl.Name, p.Name, p.Name)
		}
	}
}

// CacheConfigMaps names the ConfigMaps a workflow's "cache" volume shows its
// steps, as written (parameters unresolved): one ConfigMap, or those a
// projected volume joins into one directory, in order. ok is false when
// there is no such volume.
func CacheConfigMaps(volumes []corev1.Volume) (names []string, ok bool) {
	for _, v := range volumes {
		switch {
		case v.Name != "cache":
		case v.ConfigMap != nil:
			names, ok = []string{v.ConfigMap.Name}, true
		case v.Projected != nil:
			names, ok = nil, true
			for _, src := range v.Projected.Sources {
				if src.ConfigMap != nil {
					names = append(names, src.ConfigMap.Name)
				}
			}
		}
	}
	return names, ok
}

// eventArguments are the Workflow arguments a rollout Workflow may take
// from event data: the push, never what rolls.
var eventArguments = []string{render.ParamDigest, render.ParamTag, render.ParamPublishedAt}

// stepAccess is what a workflow step does to each target's Deployment.
type stepAccess struct {
	name  string // "rollout": says why the account needs it
	verbs []string
}

var (
	rolloutStep   = stepAccess{"rollout", render.RolloutVerbs}
	reconcileStep = stepAccess{"reconcile", render.ReconcileVerbs}
)

// rolloutTarget records the Deployments a rollout (or reconcile) Workflow
// does step.verbs to: the targets of every entry in the ConfigMaps of its "cache" volume (one
// ConfigMap, or a projected volume of several), which the route step
// chooses from. The volume must be fixed by the template, and no argument
// but the push may come from the event.
func (a *access) rolloutTarget(i int, path, namespace, sa string, volumes []corev1.Volume, values map[string]string, fromEvent map[string]bool, step stepAccess) {
	names, found := CacheConfigMaps(volumes)
	if !found {
		a.unknown[sa] = true // not an argodeploy rollout: its Deployments are unknown
		return
	}
	for _, p := range slices.Sorted(maps.Keys(fromEvent)) {
		if !slices.Contains(eventArguments, p) {
			a.fail(i, path+".arguments.parameters", "parameter %q is set from event data: only the push (%s) may come from the event; what rolls, and under which lock, comes from the mapping's cache", p, strings.Join(eventArguments, ", "))
			a.unknown[sa] = true
			return
		}
	}
	pass := passKey{sa, namespace, step.name, strings.Join(names, "\x00"), resolvedNames(names, values)}
	prev, seen := a.cacheImages[i]
	if done, ok := a.passes[pass]; ok {
		// The same pass found nothing wrong before: its needs are
		// recorded, so only the Sensor's images are left to note.
		switch {
		case !seen:
			a.cacheImages[i] = done
		case prev == nil:
			return // another Workflow of the Sensor's read unknown entries
		default:
			merged := maps.Clone(prev)
			maps.Copy(merged, done)
			a.cacheImages[i] = merged
		}
		a.readsCaches(i, namespace, names)
		return
	}
	images := map[string]bool{}
	if seen {
		images = maps.Clone(prev) // another Workflow of the Sensor's; nil when its entries are not known
	}
	a.cacheImages[i] = nil // until every entry is read
	// One need per target, at most: room for them at once, where appending
	// would copy 10,000 needs over and over.
	targets := 0
	for _, raw := range names {
		k := key(namespace, resolve(raw, values))
		if cm := a.configMaps[k]; cm != nil {
			for _, e := range a.cacheEntries(k, cm) {
				targets += len(e.targets)
			}
		}
	}
	a.needs[sa] = slices.Grow(a.needs[sa], targets)
	// The rules of the needs but their names, shared: the needs only read them.
	getSecret, rollDeployment := rule("", "secrets", "get"), rule("apps", "deployments", step.verbs...)
	projected := map[string]bool{}
	for _, raw := range names {
		if projected[raw] {
			a.fail(i, path+".volumes", "cache ConfigMap %q is projected twice into volume cache: its keys would be written twice to the same paths", raw)
			a.unknown[sa] = true
			return
		}
		projected[raw] = true
		name := resolve(raw, values)
		if isTemplated(raw) {
			a.fail(i, path+".volumes", "cache ConfigMap %q is a parameter: the cache the route step reads must be fixed in the WorkflowTemplate", raw)
			a.unknown[sa] = true
			return
		}
		cm := a.configMaps[key(namespace, name)]
		if cm == nil {
			a.unknown[sa] = true // reported by configMap
			return
		}
		entries := a.cacheEntries(key(namespace, name), cm)
		for _, e := range entries {
			if e.err != nil {
				a.fail(i, path+".volumes", "service %q in cache ConfigMap %q: %v", e.key, name, e.err)
				a.unknown[sa] = true
				return
			}
		}
		for _, e := range entries {
			for _, t := range e.targets {
				for _, r := range t.receivers {
					if step.name != rolloutStep.name {
						break // reconcile sends nothing
					}
					rr := getSecret
					rr.ResourceNames = []string{r.urlSecret}
					a.requireOnce(sa, need{i, path, namespace, rr, "URL of receiver " + r.name + " for target " + t.name})
				}
				if t.cluster != nil {
					r := getSecret
					r.ResourceNames = []string{t.cluster.KubeconfigSecret.Name}
					a.requireOnce(sa, need{i, path, namespace, r, "kubeconfig of cluster " + t.cluster.Name + " for target " + t.name})
					continue // the Deployment is reached with the kubeconfig, not this account
				}
				if t.deployment == "" || t.namespace == "" {
					a.fail(i, path+".volumes", "target %q of cache entry %q in ConfigMap %q names no deployment and namespace", t.name, e.key, name)
					a.unknown[sa] = true
					return
				}
				r := rollDeployment
				r.ResourceNames = []string{t.deployment}
				a.requireOnce(sa, need{i, path, t.namespace, r, step.name + " of target " + t.name})
			}
			if images != nil {
				images[e.image] = true
			}
		}
	}
	if images != nil {
		a.cacheImages[i] = images
		a.readsCaches(i, namespace, names)
	}
	if !seen {
		a.passes[pass] = images // shared: never written again
	}
}

// readsCaches notes that Sensor i's Workflows read the cache ConfigMaps
// names in namespace.
func (a *access) readsCaches(i int, namespace string, names []string) {
	for _, name := range names {
		a.cacheNames[i] = append(a.cacheNames[i], key(namespace, name))
	}
}

// passKey is one rolloutTarget pass: the account, the namespace, the step,
// and the cache ConfigMaps as written and as resolved. Sharded Sensors'
// Workflows all read the same caches: one pass records what they need.
type passKey struct{ account, namespace, step, names, resolved string }

// resolvedNames are names resolved from values, joined.
func resolvedNames(names []string, values map[string]string) string {
	resolved := make([]string, len(names))
	for j, n := range names {
		resolved[j] = resolve(n, values)
	}
	return strings.Join(resolved, "\x00")
}

// specVolumes checks the ConfigMaps and Secrets a workflow spec's pods
// mount or read, with workflow parameters resolved from values.
func (a *access) specVolumes(i int, path, namespace string, spec *wfv1.WorkflowSpec, values map[string]string) {
	a.podVolumes(i, path+".volumes", namespace, resolveVolumes(spec.Volumes, values))
	for t, tmpl := range spec.Templates {
		if c := containerOf(tmpl); c != nil {
			a.containerRefs(i, fmt.Sprintf("%s.templates[%d]", path, t), namespace, *c, values)
		}
	}
}

// containerOf is the main container of a container or script template.
func containerOf(t wfv1.Template) *corev1.Container {
	switch {
	case t.Container != nil:
		return t.Container
	case t.Script != nil:
		return &t.Script.Container
	}
	return nil
}

func resolveVolumes(volumes []corev1.Volume, values map[string]string) []corev1.Volume {
	out := make([]corev1.Volume, len(volumes))
	for v, vol := range volumes {
		out[v] = *vol.DeepCopy()
		if out[v].ConfigMap != nil {
			out[v].ConfigMap.Name = resolve(out[v].ConfigMap.Name, values)
		}
		if out[v].Secret != nil {
			out[v].Secret.SecretName = resolve(out[v].Secret.SecretName, values)
		}
		if p := out[v].Projected; p != nil {
			for s := range p.Sources {
				if p.Sources[s].ConfigMap != nil {
					p.Sources[s].ConfigMap.Name = resolve(p.Sources[s].ConfigMap.Name, values)
				}
				if p.Sources[s].Secret != nil {
					p.Sources[s].Secret.Name = resolve(p.Sources[s].Secret.Name, values)
				}
			}
		}
	}
	return out
}

func (a *access) podVolumes(i int, path, namespace string, volumes []corev1.Volume) {
	for v, vol := range volumes {
		switch {
		case vol.ConfigMap != nil && (vol.ConfigMap.Optional == nil || !*vol.ConfigMap.Optional):
			a.configMap(i, fmt.Sprintf("%s[%d].configMap.name", path, v), fmt.Sprintf("volume %q: ", vol.Name), namespace, vol.ConfigMap.Name)
		case vol.Secret != nil && (vol.Secret.Optional == nil || !*vol.Secret.Optional):
			a.secret(i, fmt.Sprintf("%s[%d].secret.secretName", path, v), fmt.Sprintf("volume %q: ", vol.Name), namespace, vol.Secret.SecretName)
		case vol.Projected != nil:
			for s, src := range vol.Projected.Sources {
				switch {
				case src.ConfigMap != nil && (src.ConfigMap.Optional == nil || !*src.ConfigMap.Optional):
					a.configMap(i, fmt.Sprintf("%s[%d].projected.sources[%d].configMap.name", path, v, s), fmt.Sprintf("volume %q: ", vol.Name), namespace, src.ConfigMap.Name)
				case src.Secret != nil && (src.Secret.Optional == nil || !*src.Secret.Optional):
					a.secret(i, fmt.Sprintf("%s[%d].projected.sources[%d].secret.name", path, v, s), fmt.Sprintf("volume %q: ", vol.Name), namespace, src.Secret.Name)
				}
			}
		}
	}
}

func (a *access) containerRefs(i int, path, namespace string, c corev1.Container, values map[string]string) {
	for e, env := range c.Env {
		from := env.ValueFrom
		switch {
		case from == nil:
		case from.ConfigMapKeyRef != nil:
			a.configMap(i, fmt.Sprintf("%s.env[%d].valueFrom.configMapKeyRef.name", path, e), fmt.Sprintf("env %s: ", env.Name), namespace, resolve(from.ConfigMapKeyRef.Name, values))
		case from.SecretKeyRef != nil:
			a.secret(i, fmt.Sprintf("%s.env[%d].valueFrom.secretKeyRef.name", path, e), fmt.Sprintf("env %s: ", env.Name), namespace, resolve(from.SecretKeyRef.Name, values))
		}
	}
}

// compare checks each account's grants against its needs.
func (a *access) compare(decoded []runtime.Object) {
	grants := map[string]map[string][]grant{} // account → namespace ("" = all) → rules
	for i, obj := range decoded {
		switch o := obj.(type) {
		case *rbacv1.RoleBinding:
			rules, ruleObj, ok := a.boundRules(i, o.Namespace, o.RoleRef)
			for _, s := range o.Subjects {
				if s.Kind != rbacv1.ServiceAccountKind {
					continue
				}
				ns := s.Namespace
				if ns == "" {
					ns = o.Namespace
				}
				k := key(ns, s.Name)
				if !ok {
					a.unknown[k] = true
					continue
				}
				if grants[k] == nil {
					grants[k] = map[string][]grant{}
				}
				for r, rule := range rules {
					grants[k][o.Namespace] = append(grants[k][o.Namespace], grant{ruleObj, fmt.Sprintf("rules[%d]", r), rule})
				}
			}
		case *rbacv1.ClusterRoleBinding:
			for _, s := range o.Subjects {
				if s.Kind == rbacv1.ServiceAccountKind {
					k := key(s.Namespace, s.Name)
					if _, known := a.needs[k]; known && !a.unknown[k] {
						a.fail(i, "subjects", "binds ServiceAccount %s cluster-wide: it needs only namespaced access", k)
					}
					a.unknown[k] = true
				}
			}
		}
	}
	for _, account := range slices.Sorted(maps.Keys(a.needs)) {
		needs := a.needs[account]
		if a.unknown[account] && !a.accounts[account] {
			continue // external account: its bindings may be elsewhere
		}
		owned := map[string]*ruleSet{}
		for ns, gs := range grants[account] {
			rules := make([]rbacv1.PolicyRule, len(gs))
			for i, g := range gs {
				rules[i] = g.rule
			}
			owned[ns] = newRuleSet(rules)
		}
		for _, n := range needs {
			if ok, missing := owned[n.namespace].covers(n.rule); !ok {
				if a.unknown[account] {
					a.note(n.obj, n.path, "ServiceAccount %s may not %s in namespace %q (needed by %s), unless a grant outside the inputs allows it", account, describe(missing), n.namespace, n.why)
				} else {
					a.fail(n.obj, n.path, "ServiceAccount %s may not %s in namespace %q (needed by %s)", account, describe(missing), n.namespace, n.why)
				}
			}
		}
		if a.unknown[account] || a.partial {
			continue
		}
		byNamespace := map[string][]rbacv1.PolicyRule{}
		for _, n := range needs {
			byNamespace[n.namespace] = append(byNamespace[n.namespace], n.rule)
		}
		for _, ns := range slices.Sorted(maps.Keys(grants[account])) {
			needed := newRuleSet(byNamespace[ns])
			for _, g := range grants[account][ns] {
				if extra := uncovered(needed, g.rule); len(extra) > 0 {
					a.fail(g.obj, g.path, "grants ServiceAccount %s more than its objects need: %s in namespace %q", account, describe(extra), ns)
				}
			}
		}
	}
	for obj := range a.errs {
		a.errs[obj] = dedupe(a.errs[obj])
	}
}

// ruleSet holds rules for many coverage questions about single resource
// names: Kubernetes' Covers compares resource names by scanning, so a Role
// naming thousands of Deployments would make each question cost thousands.
type ruleSet struct {
	rules   []rbacv1.PolicyRule
	unnamed []int            // the rules that name no resource (all)
	byName  map[string][]int // resource name → the rules naming it
	covered map[string]bool  // covers' yes answers, by shape
	keyBuf  []byte           // covers' key buffer
}

func newRuleSet(rules []rbacv1.PolicyRule) *ruleSet {
	s := &ruleSet{rules: rules, byName: map[string][]int{}, covered: map[string]bool{}}
	for i, r := range rules {
		if len(r.ResourceNames) == 0 {
			s.unnamed = append(s.unnamed, i)
		}
		for _, n := range slices.Compact(slices.Sorted(slices.Values(r.ResourceNames))) {
			s.byName[n] = append(s.byName[n], i)
		}
	}
	return s
}

// about returns the rules as they bear on requests for names (all rules
// when names is empty): a rule naming resources keeps only those of names
// it names, and is left out when it names none of them. Whether the rules
// cover a request for those names is unchanged.
func (s *ruleSet) about(names []string) []rbacv1.PolicyRule {
	if s == nil {
		return nil
	}
	if len(names) == 0 {
		return s.rules
	}
	kept := map[int][]string{}
	for _, n := range names {
		for _, i := range s.byName[n] {
			kept[i] = append(kept[i], n)
		}
	}
	which := slices.AppendSeq(slices.Clone(s.unnamed), maps.Keys(kept))
	slices.Sort(which)
	out := make([]rbacv1.PolicyRule, len(which))
	for j, i := range which {
		out[j] = s.rules[i]
		if names, ok := kept[i]; ok {
			out[j].ResourceNames = names
		}
	}
	return out
}

// covers is Kubernetes' Covers of rule by the set's rules about its
// resource names. Covers compares resource names only for equality, and
// about narrows each rule naming rule's one name to that name, so for a
// rule naming one resource the answer is the same for every name that
// rules alike but for their names name: a yes is kept by what those rules
// and rule grant but their names (a namespace's thousand Deployments are
// one question).
func (s *ruleSet) covers(rule rbacv1.PolicyRule) (bool, []rbacv1.PolicyRule) {
	if s == nil || len(rule.ResourceNames) != 1 {
		return validation.Covers(s.about(rule.ResourceNames), []rbacv1.PolicyRule{rule})
	}
	named := s.byName[rule.ResourceNames[0]]
	b := binary.AppendUvarint(s.keyBuf[:0], uint64(len(named)))
	for _, i := range named {
		r := s.rules[i]
		b = appendLists(b, r.APIGroups, r.Resources, r.Verbs, r.NonResourceURLs)
	}
	b = appendLists(b, rule.APIGroups, rule.Resources, rule.Verbs, rule.NonResourceURLs)
	s.keyBuf = b
	if s.covered[string(b)] {
		return true, nil
	}
	ok, missing := validation.Covers(s.about(rule.ResourceNames), []rbacv1.PolicyRule{rule})
	if ok {
		s.covered[string(b)] = true
	}
	return ok, missing
}

// uncovered is the part of rule that the set does not cover, asked one
// resource name at a time when rule names resources.
func uncovered(s *ruleSet, rule rbacv1.PolicyRule) []rbacv1.PolicyRule {
	if len(rule.ResourceNames) == 0 {
		_, extra := validation.Covers(s.about(nil), []rbacv1.PolicyRule{rule})
		return extra
	}
	var extra []rbacv1.PolicyRule
	for _, name := range rule.ResourceNames {
		one := rule
		one.ResourceNames = []string{name}
		_, e := s.covers(one)
		extra = append(extra, e...)
	}
	return extra
}

// grant is one rule a bound Role gives, and where it is written.
type grant struct {
	obj  int
	path string
	rule rbacv1.PolicyRule
}

// boundRules are the rules a binding's roleRef names. A ClusterRole not
// among the objects is noted and its rules are unknown (ok false).
func (a *access) boundRules(i int, namespace string, ref rbacv1.RoleRef) ([]rbacv1.PolicyRule, int, bool) {
	switch ref.Kind {
	case "Role":
		if r := a.roles[key(namespace, ref.Name)]; r != nil {
			return r.Rules, a.roleIndex[r], true
		}
		if !a.broken["Role/"+key(namespace, ref.Name)] {
			a.fail(i, "roleRef.name", "Role %q not found in namespace %q", ref.Name, namespace)
		}
	case "ClusterRole":
		if r := a.clusterRoles[ref.Name]; r != nil {
			return r.Rules, a.roleIndex[r], true
		}
		if !a.broken["ClusterRole/"+key("", ref.Name)] {
			a.note(i, "roleRef.name", "ClusterRole %q must exist in the cluster (external); what it grants is not checked", ref.Name)
		}
	}
	return nil, i, false
}

// flagValues are the values of flag among a command's args, given as
// "flag value" or "flag=value".
func flagValues(args []string, flag string) []string {
	var out []string
	for i, arg := range args {
		switch {
		case arg == flag && i+1 < len(args):
			out = append(out, args[i+1])
		case strings.HasPrefix(arg, flag+"="):
			out = append(out, strings.TrimPrefix(arg, flag+"="))
		}
	}
	return out
}

func rule(group, resource string, verbs ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{APIGroups: []string{group}, Resources: []string{resource}, Verbs: verbs}
}

// describe writes rules as "create workflows.argoproj.io", merged per
// resource.
func describe(rules []rbacv1.PolicyRule) string {
	var parts []string
	for _, r := range rules {
		resource := strings.Join(r.Resources, ",")
		if g := strings.Join(r.APIGroups, ","); g != "" {
			resource += "." + g
		}
		if len(r.ResourceNames) > 0 {
			resource += " " + strings.Join(r.ResourceNames, ",")
		}
		if len(r.NonResourceURLs) > 0 {
			resource = strings.Join(r.NonResourceURLs, ",")
		}
		parts = append(parts, strings.Join(r.Verbs, ",")+" "+resource)
	}
	sort.Strings(parts)
	return strings.Join(slices.Compact(parts), "; ")
}

func dedupe(errs []error) []error {
	seen := map[string]bool{}
	out := errs[:0]
	for _, err := range errs {
		if !seen[err.Error()] {
			seen[err.Error()] = true
			out = append(out, err)
		}
	}
	return out
}

// k8sVerb is the API verb of a k8s trigger operation.
func k8sVerb(op eventsv1alpha1.KubernetesResourceOperation) string {
	switch op {
	case eventsv1alpha1.Update:
		return "update"
	case eventsv1alpha1.Patch:
		return "patch"
	case eventsv1alpha1.Delete:
		return "delete"
	}
	return "create"
}

// plural is the resource name of a kind, for the kinds triggers create.
func plural(kind string) string {
	k := strings.ToLower(kind)
	switch {
	case strings.HasSuffix(k, "s"):
		return k + "es"
	case strings.HasSuffix(k, "y"):
		return strings.TrimSuffix(k, "y") + "ies"
	}
	return k + "s"
}

// resolve substitutes the workflow parameters with known values.
func resolve(s string, values map[string]string) string {
	return ResolveParameters(s, func(name string) (string, bool) {
		v, ok := values[name]
		return v, ok
	})
}

func isTemplated(s string) bool { return strings.Contains(s, "{{") }
