package check

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/argodeploy/argodeploy/pkg/pubsub"
	"github.com/argodeploy/argodeploy/pkg/render"
	eventsv1alpha1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

const crossValidator = "argodeploy cross-resource"

// All runs Upstream, Local, CrossResource and Access over objs: every
// check this package has. With opts.AllowUnknownFields, objects are decoded
// ignoring unknown fields first.
//
// An object that does not decode is reported by the decode layer alone;
// every later layer still runs on all the others.
func All(ctx context.Context, objs []runtime.Object, opts Options) []Result {
	in := decodeInputs(objs, !opts.AllowUnknownFields)
	// The layers only read the objects: run them side by side.
	layers := []func() []Result{
		func() []Result { return upstream(ctx, in) },
		func() []Result { return local(in, opts) },
		func() []Result { return crossResource(in, opts) },
		func() []Result { return accessLayer(in, opts) },
	}
	found := make([][]Result, len(layers))
	var wg sync.WaitGroup
	for i, layer := range layers {
		wg.Go(func() { found[i] = layer() })
	}
	wg.Wait()
	return slices.Concat(found...)
}

// CrossResource checks what no single object shows and a cluster accepts
// silently: each Sensor dependency names an EventSource and event among
// objs; each trigger's Workflow references a WorkflowTemplate among objs and
// passes only parameters it declares, and the template uses no workflow
// parameter that is neither declared nor passed; each string data filter compiles and
// is anchored at both ends; filter and parameter paths into a Pub/Sub event
// name fields the event has. It returns one Result per Sensor. With
// opts.External, an EventSource that is not among objs is a note: an
// upstream Sensor checked alone may name one that lives elsewhere.
func CrossResource(objs []runtime.Object, opts Options) []Result {
	return crossResource(decodeInputs(objs, true), opts)
}

func crossResource(in *inputs, opts Options) []Result {
	decoded, broken := in.objs, in.broken
	events := map[string]map[string]*eventsv1alpha1.PubSubEventSource{} // namespace/name → event name → Pub/Sub source, nil for other types
	templates := &templateIndex{byName: map[string]*wfv1.WorkflowTemplate{}, usesOf: map[*wfv1.WorkflowTemplate][]parameterUse{}}
	buses := map[string]map[string]bool{} // namespace → the EventBuses among objs
	sourceBus := map[string]string{}      // namespace/EventSource → the bus it publishes to
	for _, obj := range decoded {
		switch o := obj.(type) {
		case *eventsv1alpha1.EventBus:
			if buses[o.Namespace] == nil {
				buses[o.Namespace] = map[string]bool{}
			}
			buses[o.Namespace][o.Name] = true
		case *eventsv1alpha1.EventSource:
			events[o.Namespace+"/"+o.Name] = eventSources(o)
			sourceBus[o.Namespace+"/"+o.Name] = cmp.Or(o.Spec.EventBusName, "default")
		case *wfv1.WorkflowTemplate:
			templates.byName[o.Namespace+"/"+o.Name] = o
		}
	}
	var results []Result
	for i, obj := range decoded {
		s, ok := obj.(*eventsv1alpha1.Sensor)
		if !ok || in.skipped(i) {
			continue
		}
		var errs, notes []error
		bus := cmp.Or(s.Spec.EventBusName, "default")
		switch inNS := buses[s.Namespace]; {
		case len(inNS) > 0 && !inNS[bus]:
			errs = append(errs, fieldErrorf("spec.eventBusName", "EventBus %q not found in namespace %q (the inputs have %s): the Sensor would read nothing", bus, s.Namespace, strings.Join(slices.Sorted(maps.Keys(inNS)), ", ")))
		case len(inNS) == 0 && len(buses) > 0:
			elsewhere := fieldErrorf("spec.eventBusName", "EventBus %q not found in namespace %q (the inputs have EventBuses in namespace %s only): the Sensor would read nothing", bus, s.Namespace, strings.Join(slices.Sorted(maps.Keys(buses)), ", "))
			if opts.External {
				notes = append(notes, elsewhere)
			} else {
				errs = append(errs, elsewhere)
			}
		}
		pubSub := map[string]*eventsv1alpha1.PubSubEventSource{} // dependency → its Pub/Sub source
		for i, d := range s.Spec.Dependencies {
			path := fmt.Sprintf("spec.dependencies[%d]", i)
			sources, ok := events[s.Namespace+"/"+d.EventSourceName]
			source, hasEvent := sources[d.EventName]
			switch {
			case !ok && broken["EventSource/"+s.Namespace+"/"+d.EventSourceName]:
			case !ok && opts.External:
				notes = append(notes, fieldErrorf(path+".eventSourceName", "EventSource %q is not among the inputs: it must exist in namespace %q (external); its events and the paths filtered on are not checked", d.EventSourceName, s.Namespace))
			case !ok:
				errs = append(errs, fieldErrorf(path+".eventSourceName", "EventSource %q not found in namespace %q", d.EventSourceName, s.Namespace))
			case !hasEvent:
				errs = append(errs, fieldErrorf(path+".eventName", "EventSource %q has no event %q", d.EventSourceName, d.EventName))
			}
			if sb, ok := sourceBus[s.Namespace+"/"+d.EventSourceName]; ok && sb != bus {
				errs = append(errs, fieldErrorf(path+".eventSourceName", "EventSource %q publishes to EventBus %q and this Sensor reads %q: its events never arrive", d.EventSourceName, sb, bus))
			}
			pubSub[d.Name] = source
			if source != nil {
				errs = append(errs, filterLogic(path, d)...)
			}
			if d.Filters != nil {
				for j, f := range d.Filters.Data {
					at := fmt.Sprintf("%s.filters.data[%d]", path, j)
					errs = append(errs, dataFilter(at, f)...)
					errs = append(errs, pubSubPath(at+".path", source, f.Path)...)
				}
			}
		}
		for i, t := range s.Spec.Triggers {
			errs = append(errs, triggerWorkflow(fmt.Sprintf("spec.triggers[%d].template", i), s.Namespace, t, templates, broken)...)
			if t.DlqTrigger != nil {
				errs = append(errs, deadLetterFields(fmt.Sprintf("spec.triggers[%d].dlqTrigger.template.k8s", i), t.DlqTrigger)...)
			}
			for _, p := range triggerParameters(fmt.Sprintf("spec.triggers[%d]", i), t) {
				if p.param.Src != nil && p.param.Src.DataKey != "" {
					errs = append(errs, pubSubPath(p.path+".src.dataKey", pubSub[p.param.Src.DependencyName], p.param.Src.DataKey)...)
				}
			}
		}
		r := result("Sensor", s, crossValidator, errors.Join(errs...))
		r.Notes = notes
		results = append(results, r)
	}
	return results
}

// filterLogic reports the filters of a dependency on a Pub/Sub event at
// path that let less than all of them decide: "or" between its data filters, its expression filters, or
// its kinds of filter (then one filter alone, say the action's, fires the
// trigger: any INSERT rolls), a data filter comparing other than by
// equality, and a data filter that does not compare as a string one of
// the stringFields. Numbers and other fields of a custom message are the
// publisher's to filter as it means.
func filterLogic(path string, d eventsv1alpha1.EventDependency) []error {
	f := d.Filters
	if f == nil {
		return nil
	}
	var errs []error
	kinds := 0
	for _, present := range []bool{len(f.Data) > 0, len(f.Exprs) > 0, f.Time != nil, f.Context != nil, f.Script != ""} {
		if present {
			kinds++
		}
	}
	if d.FiltersLogicalOperator == eventsv1alpha1.OrLogicalOperator && kinds > 1 {
		errs = append(errs, fieldErrorf(path+".filtersLogicalOperator", "or: any one kind of filter alone fires the trigger; every filter must hold (and, the default)"))
	}
	if f.DataLogicalOperator == eventsv1alpha1.OrLogicalOperator && len(f.Data) > 1 {
		errs = append(errs, fieldErrorf(path+".filters.dataLogicalOperator", "or: any one data filter alone fires the trigger (the action filter alone: any INSERT rolls); every filter must hold (and, the default)"))
	}
	if f.ExprLogicalOperator == eventsv1alpha1.OrLogicalOperator && len(f.Exprs) > 1 {
		errs = append(errs, fieldErrorf(path+".filters.exprLogicalOperator", "or: any one expression alone fires the trigger; every one must hold (and, the default)"))
	}
	for j, df := range f.Data {
		at := fmt.Sprintf("%s.filters.data[%d]", path, j)
		switch {
		case df.Type != eventsv1alpha1.JSONTypeString && stringFields[df.Path]:
			errs = append(errs, fieldErrorf(at+".type", "%q on %s, which is a string in a Pub/Sub event: compare it as a string", df.Type, df.Path))
		case df.Type == eventsv1alpha1.JSONTypeString && df.Comparator != "" && df.Comparator != eventsv1alpha1.EqualTo:
			errs = append(errs, fieldErrorf(at+".comparator", "%q on %s: a string filter admits what matches one of its values (=); any other comparator turns it into what does not", df.Comparator, df.Path))
		}
	}
	return errs
}

// stringFields are the paths of a Pub/Sub event from Artifact Registry
// whose values are strings: the event's id and publish time, and the
// notification's action, digest and tag.
var stringFields = map[string]bool{"id": true, "publishTime": true, "body.action": true, "body.digest": true, "body.tag": true}

// templateIndex finds WorkflowTemplates by namespace/name and remembers
// the parameters each uses, which every trigger of a large Sensor asks for.
type templateIndex struct {
	byName map[string]*wfv1.WorkflowTemplate
	usesOf map[*wfv1.WorkflowTemplate][]parameterUse
}

func (x *templateIndex) uses(t *wfv1.WorkflowTemplate) ([]parameterUse, error) {
	if uses, ok := x.usesOf[t]; ok {
		return uses, nil
	}
	uses, err := parameterUses(&t.Spec)
	x.usesOf[t] = uses
	return uses, err
}

// eventSources lists the events an EventSource defines, across its source
// types (each a map from event name to source), with the Pub/Sub source of
// each Pub/Sub event and nil for the others. The spec's maps are exactly
// its source types; reading them by reflection spares learning how to
// encode every source type, which would cost some 2 ms in each process.
func eventSources(es *eventsv1alpha1.EventSource) map[string]*eventsv1alpha1.PubSubEventSource {
	names := map[string]*eventsv1alpha1.PubSubEventSource{}
	spec := reflect.ValueOf(es.Spec)
	for i := range spec.NumField() {
		if sources := spec.Field(i); sources.Kind() == reflect.Map {
			for _, name := range sources.MapKeys() {
				names[name.String()] = nil
			}
		}
	}
	for name, src := range es.Spec.PubSub {
		names[name] = &src
	}
	return names
}

// pubSubFields are the fields of the event a Pub/Sub source sends: the
// JSON names of upstream's PubSubEventData (pubsub.EventData).
var pubSubFields = func() []string {
	var names []string
	t := reflect.TypeOf(pubsub.EventData{})
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		names = append(names, name)
	}
	return names
}()

// garTopic is the topic Artifact Registry publishes to, and garFields the
// fields of its JSON messages.
const garTopic = "gcr"

var garFields = []string{"action", "digest", "tag"}

// pubSubPath reports a filter or parameter path into a Pub/Sub event that
// can never match: a field the event does not have, a body field when the
// body is not parsed as JSON, or a field Artifact Registry never sends.
func pubSubPath(at string, src *eventsv1alpha1.PubSubEventSource, path string) []error {
	if src == nil || path == "" {
		return nil
	}
	parts := strings.Split(path, ".")
	switch {
	case !slices.Contains(pubSubFields, parts[0]):
		return []error{fieldErrorf(at, "a Pub/Sub event has no field %q (it has %s), so this never matches", parts[0], strings.Join(pubSubFields, ", "))}
	case parts[0] == "metadata" && len(src.Metadata) == 0:
		return []error{fieldErrorf(at, "%q reads metadata, but the EventSource sets none", path)}
	case parts[0] != "body" || len(parts) == 1:
		return nil
	case !src.JSONBody:
		return []error{fieldErrorf(at, "%q reads into the message body, which is a base64 string unless the EventSource sets jsonBody: true", path)}
	case src.Topic == garTopic && !slices.Contains(garFields, parts[1]):
		return []error{fieldErrorf(at, "Artifact Registry messages on topic %q have no field %q (they have %s), so this never matches", garTopic, parts[1], strings.Join(garFields, ", "))}
	}
	return nil
}

// placedParameter is a trigger parameter and its path in the Sensor.
type placedParameter struct {
	path  string
	param eventsv1alpha1.TriggerParameter
}

// triggerParameters lists the parameters of a trigger and of its dead-letter
// trigger, with their paths under path.
func triggerParameters(path string, t eventsv1alpha1.Trigger) []placedParameter {
	var out []placedParameter
	add := func(at string, params []eventsv1alpha1.TriggerParameter) {
		for i, p := range params {
			out = append(out, placedParameter{fmt.Sprintf("%s.parameters[%d]", at, i), p})
		}
	}
	var visit func(path string, t *eventsv1alpha1.Trigger)
	visit = func(path string, t *eventsv1alpha1.Trigger) {
		add(path, t.Parameters)
		if tt := t.Template; tt != nil {
			switch {
			case tt.K8s != nil:
				add(path+".template.k8s", tt.K8s.Parameters)
			case tt.ArgoWorkflow != nil:
				add(path+".template.argoWorkflow", tt.ArgoWorkflow.Parameters)
			}
		}
		if t.DlqTrigger != nil {
			visit(path+".dlqTrigger", t.DlqTrigger)
		}
	}
	visit(path, &t)
	return out
}

// dataFilter reports a string filter value that does not compile or that
// Argo Events would match anywhere in the value because it is unanchored.
func dataFilter(path string, f eventsv1alpha1.DataFilter) []error {
	if f.Type != eventsv1alpha1.JSONTypeString {
		return nil
	}
	var errs []error
	for k, v := range f.Value {
		at := fmt.Sprintf("%s.value[%d]", path, k)
		// Parsing with regexp.Compile's flags finds every error it would
		// (syntax, size), without building a matcher.
		re, err := syntax.Parse(v, syntax.Perl)
		if err != nil {
			errs = append(errs, fieldErrorf(at, "filter on %s: %w", f.Path, err))
			continue
		}
		if !anchored(re, true) || !anchored(re, false) {
			errs = append(errs, fieldErrorf(at, "filter on %s: %q is not anchored with ^...$, so it also matches values that merely contain it", f.Path, v))
		}
	}
	return errs
}

// anchored reports whether every match of re begins at the start of the
// text (start) or ends at its end: each alternative begins with ^ or \A
// (ends with $ or \z), so ^a|b$ is anchored at neither end.
func anchored(re *syntax.Regexp, start bool) bool {
	switch re.Op {
	case syntax.OpBeginText:
		return start
	case syntax.OpEndText:
		return !start
	case syntax.OpCapture:
		return anchored(re.Sub[0], start)
	case syntax.OpAlternate:
		for _, sub := range re.Sub {
			if !anchored(sub, start) {
				return false
			}
		}
		return true
	case syntax.OpConcat:
		if len(re.Sub) == 0 {
			return false
		}
		if start {
			return anchored(re.Sub[0], start)
		}
		return anchored(re.Sub[len(re.Sub)-1], start)
	}
	return false
}

func fieldErrorf(path, format string, args ...any) error {
	return &FieldError{Path: path, Err: fmt.Errorf(format, args...)}
}

// pushFieldArguments are the push's fields a trigger parameter reads (by
// dataKey, or in a dataTemplate), and the argument of a release Workflow
// each must set.
var pushFieldArguments = []struct{ field, argument string }{
	{"body.digest", render.ParamDigest},
	{"body.tag", render.ParamTag},
	{"publishTime", render.ParamPublishedAt},
}

// pushArguments checks, for a Workflow of a WorkflowTemplate that declares
// the release's arguments (digest, tag, published-at), that each trigger
// parameter reading one of the push's fields sets the argument for it,
// not another: the release would read a tag as the digest, say.
func pushArguments(triggerPath string, params []eventsv1alpha1.TriggerParameter, args []wfv1.Parameter, declared map[string]bool) []error {
	for _, name := range render.WorkflowParams() {
		if !declared[name] {
			return nil
		}
	}
	var errs []error
	set := map[string]bool{}
	for j, p := range params {
		m := argumentDestRE.FindStringSubmatch(p.Dest)
		if m == nil || p.Src == nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		if n >= len(args) || !declared[args[n].Name] {
			continue // reported as past the arguments, or not declared
		}
		set[args[n].Name] = true
		readsPush := false
		for _, f := range pushFieldArguments {
			reads := readsField(p.Src, f.field)
			readsPush = readsPush || reads
			if reads && args[n].Name != f.argument {
				errs = append(errs, fieldErrorf(fmt.Sprintf("%s.parameters[%d].dest", triggerPath, j), "%s sets argument %q from the push's %s: the release would take it for the %s", p.Dest, args[n].Name, f.field, args[n].Name))
			}
		}
		for _, f := range pushFieldArguments {
			if !readsPush && args[n].Name == f.argument {
				errs = append(errs, fieldErrorf(fmt.Sprintf("%s.parameters[%d].src", triggerPath, j), "sets argument %q from %s, not from the push's %s: the route and rollout steps refuse every push", f.argument, sourceOf(p.Src), f.field))
			}
		}
	}
	for _, f := range pushFieldArguments {
		if !set[f.argument] && !slices.ContainsFunc(params, func(p eventsv1alpha1.TriggerParameter) bool { return readsField(p.Src, f.field) }) {
			errs = append(errs, fieldErrorf(triggerPath+".parameters", "no parameter sets argument %q from the push's %s: every Workflow gets the resource's own value, and the route and rollout steps refuse every push", f.argument, f.field))
		}
	}
	return errs
}

// readsField says whether a trigger parameter's source reads a field of
// the event (by dataKey, or in a dataTemplate).
func readsField(src *eventsv1alpha1.TriggerParameterSource, field string) bool {
	return src != nil && (src.DataKey == field || src.DataKey == "" && strings.Contains(src.DataTemplate, ".Input."+field))
}

// sourceOf says what a trigger parameter reads, for messages.
func sourceOf(src *eventsv1alpha1.TriggerParameterSource) string {
	switch {
	case src.DataKey != "":
		return "dataKey " + src.DataKey
	case src.DataTemplate != "":
		return "a dataTemplate that reads no push field"
	case src.ContextKey != "" || src.ContextTemplate != "":
		return "the event's context"
	case src.Value != nil:
		return "a constant"
	}
	return "the whole event"
}

// deadLetterPushFields are the keys of a dead letter that hold the push,
// and the event field each is read from: what replay and status use.
var deadLetterPushFields = []struct{ key, field string }{
	{"digest", "body.digest"},
	{"tag", "body.tag"},
	{"publishTime", "publishTime"},
}

// deadLetterFields checks that a dead-letter trigger that writes an
// argodeploy dead letter (a ConfigMap labelled as one) keeps the push: each
// of its keys set from the event's field (the digest and tag may instead be
// in the whole message), or the dead letter holds nothing to replay.
func deadLetterFields(path string, t *eventsv1alpha1.Trigger) []error {
	if t.Template == nil || t.Template.K8s == nil || t.Template.K8s.Source == nil || t.Template.K8s.Source.Resource == nil {
		return nil
	}
	var cm corev1.ConfigMap
	if err := json.Unmarshal(t.Template.K8s.Source.Resource.Value, &cm); err != nil || cm.Kind != "ConfigMap" || cm.Labels[render.LabelDeadLetter] != "true" {
		return nil
	}
	sets := func(key, field string) bool {
		return slices.ContainsFunc(t.Template.K8s.Parameters, func(p eventsv1alpha1.TriggerParameter) bool {
			return p.Dest == "data."+key && readsField(p.Src, field)
		})
	}
	var errs []error
	for _, f := range deadLetterPushFields {
		// The whole message holds the digest and tag too (what argodeploy
		// wrote before v0.3, and status and replay still read).
		if !sets(f.key, f.field) && (f.key == "publishTime" || !sets("message", "body")) {
			errs = append(errs, fieldErrorf(path+".parameters", "no parameter sets data.%s from the push's %s: the dead letter holds no push to replay", f.key, f.field))
		}
	}
	return errs
}

// argumentDestRE is a trigger parameter's dest into a Workflow argument.
var argumentDestRE = regexp.MustCompile(`^spec\.arguments\.parameters\.([0-9]+)\.`)

// triggerWorkflow checks the Workflow a k8s or argoWorkflow trigger creates.
func triggerWorkflow(path, namespace string, t eventsv1alpha1.Trigger, templates *templateIndex, broken map[string]bool) []error {
	if t.Template == nil {
		return nil
	}
	var source *eventsv1alpha1.ArtifactLocation
	var params []eventsv1alpha1.TriggerParameter
	triggerPath := path
	switch {
	case t.Template.K8s != nil:
		source, params, triggerPath, path = t.Template.K8s.Source, t.Template.K8s.Parameters, path+".k8s", path+".k8s.source.resource.spec"
	case t.Template.ArgoWorkflow != nil:
		source, params, triggerPath, path = t.Template.ArgoWorkflow.Source, t.Template.ArgoWorkflow.Parameters, path+".argoWorkflow", path+".argoWorkflow.source.resource.spec"
	}
	if source == nil || source.Resource == nil {
		return nil
	}
	var wf wfv1.Workflow
	if err := json.Unmarshal(source.Resource.Value, &wf); err != nil || wf.Kind != "Workflow" {
		return nil
	}
	ref := wf.Spec.WorkflowTemplateRef
	if ref == nil || ref.ClusterScope {
		return nil
	}
	ns := wf.Namespace
	if ns == "" {
		ns = namespace
	}
	tmpl, ok := templates.byName[ns+"/"+ref.Name]
	if !ok && broken["WorkflowTemplate/"+ns+"/"+ref.Name] {
		return nil
	}
	if !ok {
		return []error{fieldErrorf(path+".workflowTemplateRef.name", "WorkflowTemplate %q not found in namespace %q", ref.Name, ns)}
	}
	declared := map[string]bool{}
	for _, p := range tmpl.Spec.Arguments.Parameters {
		declared[p.Name] = true
	}
	var errs []error
	if wf.Spec.Entrypoint == "" && tmpl.Spec.Entrypoint == "" {
		errs = append(errs, fieldErrorf(path+".workflowTemplateRef.name", "neither the Workflow nor WorkflowTemplate %q names an entrypoint: the controller fails every Workflow this trigger creates", ref.Name))
	}
	// A parameter's dest past the Workflow's arguments makes sjson append
	// an argument without a name: the value reaches no parameter.
	for j, p := range params {
		m := argumentDestRE.FindStringSubmatch(p.Dest)
		if m == nil {
			continue
		}
		if n, _ := strconv.Atoi(m[1]); n >= len(wf.Spec.Arguments.Parameters) {
			errs = append(errs, fieldErrorf(fmt.Sprintf("%s.parameters[%d].dest", triggerPath, j), "%s: the Workflow has %d arguments, so the value would go to a new argument with no name and reach no parameter", p.Dest, len(wf.Spec.Arguments.Parameters)))
		}
	}
	given := map[string]bool{}
	for i, p := range wf.Spec.Arguments.Parameters {
		if !declared[p.Name] {
			errs = append(errs, fieldErrorf(fmt.Sprintf("%s.arguments.parameters[%d].name", path, i), "parameter %q is not declared by WorkflowTemplate %q", p.Name, ref.Name))
		}
		if given[p.Name] {
			errs = append(errs, fieldErrorf(fmt.Sprintf("%s.arguments.parameters[%d].name", path, i), "parameter %q is given twice: one of the values set is lost", p.Name))
		}
		given[p.Name] = true
	}
	errs = append(errs, pushArguments(triggerPath, params, wf.Spec.Arguments.Parameters, declared)...)
	uses, err := templates.uses(tmpl)
	if err != nil {
		return append(errs, err)
	}
	for _, u := range undeclared(&tmpl.Spec, uses, wf.Spec.Arguments.Parameters) {
		errs = append(errs, fieldErrorf(path+".workflowTemplateRef.name", "WorkflowTemplate %q, %s: %v by this trigger, so every Workflow it creates fails with \"failed to resolve\"", ref.Name, u.Path, u.Err))
	}
	return errs
}
