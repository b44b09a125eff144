// Package simulate replays Pub/Sub messages through a pipeline's Sensors,
// judged as Argo Events judges them, and follows each Workflow a trigger
// would create into its rollout step.
//
// Argo Events' Sensor compiles every filter expression and parses every
// parameter template again for each event. Here each is compiled once per
// pipeline: a dependency with data filters only is judged by its screen
// (screen.go), which asks Filter's questions of the same values with the
// same expressions, and trigger parameters are applied by params.go, the
// Sensor's parameter code with templates parsed once. Every other
// filter goes to Argo Events' dependencies.Filter. Pipeline.Exact has Argo
// Events' own code decide every trigger that fires, as a Sensor does;
// tests and fuzzers hold both to the same outcomes as Argo Events' code
// judging every dependency alone.
package simulate

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/Knetic/govaluate"
	"github.com/argodeploy/argodeploy/pkg/check"
	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/pubsub"
	eventsv1alpha1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	"github.com/argoproj/argo-events/pkg/sensors/dependencies"
	"github.com/argoproj/argo-events/pkg/sensors/triggers"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/tidwall/gjson"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// Pipeline is what a replay needs of a pipeline's objects. Replay may be
// called from several goroutines at once.
type Pipeline struct {
	sensors     []*eventsv1alpha1.Sensor
	sensorNames []string               // per Sensor, namespace/name
	sourceList  []sourceEvent          // the sources the dependencies read
	sourceOf    [][]int                // per Sensor, per dependency: its source in sourceList, or -1
	screens     [][]*screen            // per Sensor, per dependency; nil where Argo Events alone judges
	filters     *screenFilters         // the screens' filters, shared
	conditions  [][]*condition         // per Sensor, per trigger; nil when it does not compile (never fires)
	resources   [][]*resourceJSON      // per Sensor, per trigger
	verdicts    *verdicts              // remembered Filter results, see filter
	params      *parsedTemplates       // Argo Events' parameter code, templates parsed once (params.go)
	exact       bool                   // Argo Events' own code decides every trigger that fires (Exact)
	sources     map[string]sourceEvent // namespace/eventSource/event → its Pub/Sub source
	templates   map[string]*wfv1.WorkflowTemplate
	configMaps  map[string]*corev1.ConfigMap
	entries     map[string][]cacheEntry // per ConfigMap, its entries decoded once, by key
}

// cacheEntry is one key of a ConfigMap decoded as a cache entry; err is
// set when it is not one.
type cacheEntry struct {
	key string
	svc mapping.Service
	err error
}

// sourceEvent is one Pub/Sub event of an EventSource.
type sourceEvent struct {
	name   string // the EventSource
	pubSub eventsv1alpha1.PubSubEventSource
}

// NewPipeline indexes objs, typed or unstructured. Objects of other kinds
// are ignored; a pipeline without a Sensor is an error.
func NewPipeline(objs []runtime.Object) (*Pipeline, error) {
	p := &Pipeline{sources: map[string]sourceEvent{}, templates: map[string]*wfv1.WorkflowTemplate{}, configMaps: map[string]*corev1.ConfigMap{}, verdicts: newVerdicts(), filters: newScreenFilters(), params: &parsedTemplates{}}
	objs, err := check.Typed(objs)
	if err != nil {
		return nil, fmt.Errorf("simulate: %w", err)
	}
	var deps []eventsv1alpha1.EventDependency
	for _, obj := range objs {
		if s, ok := obj.(*eventsv1alpha1.Sensor); ok {
			deps = append(deps, s.Spec.Dependencies...)
		}
	}
	p.filters.precompile(deps)
	for _, obj := range objs {
		switch o := obj.(type) {
		case *eventsv1alpha1.Sensor:
			p.sensors = append(p.sensors, o)
			p.sensorNames = append(p.sensorNames, o.Namespace+"/"+o.Name)
			screens := make([]*screen, len(o.Spec.Dependencies))
			for i, d := range o.Spec.Dependencies {
				screens[i] = newScreen(d, p.filters)
			}
			p.screens = append(p.screens, screens)
			p.conditions = append(p.conditions, make([]*condition, len(o.Spec.Triggers)))
			resources := make([]*resourceJSON, len(o.Spec.Triggers))
			for i := range resources {
				resources[i] = &resourceJSON{}
			}
			p.resources = append(p.resources, resources)
		case *eventsv1alpha1.EventSource:
			for name, src := range o.Spec.PubSub {
				p.sources[o.Namespace+"/"+o.Name+"/"+name] = sourceEvent{o.Name, src}
			}
		case *wfv1.WorkflowTemplate:
			p.templates[o.Namespace+"/"+o.Name] = o
		case *corev1.ConfigMap:
			p.configMaps[o.Namespace+"/"+o.Name] = o
		}
	}
	p.entries = make(map[string][]cacheEntry, len(p.configMaps))
	for name, cm := range p.configMaps {
		for _, k := range slices.Sorted(maps.Keys(cm.Data)) {
			svc, err := mapping.DecodeEntry([]byte(cm.Data[k]))
			p.entries[name] = append(p.entries[name], cacheEntry{k, svc, err})
		}
	}
	if len(p.sensors) == 0 {
		return nil, fmt.Errorf("simulate: no Sensor among the objects")
	}
	for si, s := range p.sensors {
		for ti, t := range s.Spec.Triggers {
			// A trigger whose condition does not compile never fires.
			if expr, err := dependencyExpression(s, t); err == nil {
				p.conditions[si][ti] = &condition{expr: expr, vars: expr.Vars()}
			}
		}
	}
	// Each dependency's source, by index: Replay looks them up per
	// dependency per message.
	index := map[string]int{}
	for _, s := range p.sensors {
		ids := make([]int, len(s.Spec.Dependencies))
		for i, d := range s.Spec.Dependencies {
			key := s.Namespace + "/" + d.EventSourceName + "/" + d.EventName
			src, ok := p.sources[key]
			id, seen := index[key]
			switch {
			case !ok:
				id = -1
			case !seen:
				id = len(p.sourceList)
				index[key] = id
				p.sourceList = append(p.sourceList, src)
			}
			ids[i] = id
		}
		p.sourceOf = append(p.sourceOf, ids)
	}
	return p, nil
}

// Exact is p with Argo Events' own code deciding every trigger that
// fires, as a running Sensor does: each dependency a screen lets through
// is judged by its Filter (screens still set aside the dependencies Filter
// would reject, and verdicts are remembered by the values Filter reads),
// and parameters are applied by its ApplyResourceParameters. Both compile
// each filter expression and parse each template again for every event;
// p, which compiles them once, gives the same outcomes three to four
// times faster. Tests and fuzzers compare both with Argo Events' code
// judging every dependency alone (TestScreensChangeNothing, FuzzScreens,
// FuzzParametersMatchArgoEvents).
func (p *Pipeline) Exact() *Pipeline {
	q := *p
	q.exact = true
	return &q
}

// Outcome is what one message does to the pipeline.
type Outcome struct {
	Message  string    `json:"message"`                // the message ID
	Payload  string    `json:"payload"`                // its data
	Error    string    `json:"error,omitempty"`        // set when no EventSource can turn it into an event
	Fired    []Trigger `json:"fired"`                  // the triggers that fire, in Sensor order
	Rejected []Verdict `json:"rejected,omitempty"`     // when nothing fires: the dependencies that came closest, and the filter that said no
	More     int       `json:"moreRejected,omitempty"` // as close as Rejected, left out
}

// Verdict is a dependency's answer to an event.
type Verdict struct {
	Sensor     string `json:"sensor"`
	Dependency string `json:"dependency"`
	Passed     int    `json:"passed"`           // data filters passed
	Filter     string `json:"filter,omitempty"` // the first data filter that said no
	Reason     string `json:"reason"`
}

// Trigger is a trigger that fires, and the resource it creates.
type Trigger struct {
	Sensor    string          `json:"sensor"`
	Name      string          `json:"trigger"`
	Resource  json.RawMessage `json:"resource"` // after the Sensor's parameters are applied
	Workflow  *Workflow       `json:"workflow,omitempty"`
	Operation string          `json:"operation"`
}

// Workflow is a triggered Workflow and the rollout it runs.
type Workflow struct {
	Namespace string            `json:"namespace"`
	Template  string            `json:"workflowTemplate"`
	Arguments map[string]string `json:"arguments"`
	Route     *Route            `json:"route,omitempty"`
	Steps     []*Step           `json:"steps,omitempty"`
}

// Replay runs msg through every Sensor whose dependencies listen to a
// Pub/Sub event: it builds the event as the EventSource would, judges it
// by each dependency's filters (its screen, else dependencies.Filter),
// evaluates each trigger's conditions over the satisfied dependencies, and
// applies the parameters of each trigger that fires
// (triggers.ApplyTemplateParameters, then params.go's
// applyResourceParameters).
func (p *Pipeline) Replay(msg Message) Outcome {
	return p.replayAll(p.eventsOf(msg))
}

// sourceEvents are the events one message becomes, per source in
// sourceList, each built when first needed and kept for both passes of
// Replay, with what its screens learned of it.
type sourceEvents struct {
	msg    Message
	events []*eventsv1alpha1.Event
	fields []*eventFields
}

// eventsOf is msg's sourceEvents, none built yet.
func (p *Pipeline) eventsOf(msg Message) *sourceEvents {
	return &sourceEvents{msg: msg, events: make([]*eventsv1alpha1.Event, len(p.sourceList)), fields: make([]*eventFields, len(p.sourceList))}
}

// event is the event of source src, or the reason its EventSource drops
// the message.
func (p *Pipeline) event(m *sourceEvents, src int) (*eventsv1alpha1.Event, *eventFields, error) {
	if m.events[src] == nil {
		event, err := pubSubEvent(m.msg, p.sourceList[src])
		if err != nil {
			return nil, nil, err
		}
		m.events[src], m.fields[src] = event, newEventFields(event.Data, p.filters)
	}
	return m.events[src], m.fields[src], nil
}

// replayAll is Replay visiting every dependency.
func (p *Pipeline) replayAll(m *sourceEvents) Outcome {
	out := Outcome{Message: m.msg.ID, Payload: string(m.msg.Data), Fired: []Trigger{}}
	var rejected []rejection
	for si, s := range p.sensors {
		satisfied := map[string]*eventsv1alpha1.Event{}
		for di := range s.Spec.Dependencies {
			dep := &s.Spec.Dependencies[di]
			src := p.sourceOf[si][di]
			if src < 0 {
				continue
			}
			event, fields, err := p.event(m, src)
			if err != nil {
				out.Error = err.Error()
				return out
			}
			// Counted rather than passes: a dependency set aside is ranked by
			// the filters that accept the event (nearest), so one pass over
			// them does for both.
			if sc := p.screens[si][di]; sc != nil {
				if passed := sc.count(fields); passed < len(sc.filters) {
					rejected = append(rejected, rejection{sensor: p.sensorNames[si], dep: dep, event: event, screen: sc, fields: fields, passed: passed})
					continue
				}
			}
			ok, err := p.filter(si, di, event, fields)
			if ok && err == nil {
				satisfied[dep.Name] = event
				continue
			}
			rejected = append(rejected, rejection{sensor: p.sensorNames[si], dep: dep, event: event, err: err, passed: -1})
		}
		out.Fired = p.fire(si, satisfied, out.Fired)
	}
	if len(out.Fired) == 0 {
		out.Rejected, out.More = nearest(rejected, p.exact)
	}
	return out
}

// fire appends to fired the triggers of Sensor si whose conditions the
// satisfied dependencies meet, with their parameters applied.
func (p *Pipeline) fire(si int, satisfied map[string]*eventsv1alpha1.Event, fired []Trigger) []Trigger {
	if len(satisfied) == 0 {
		return fired
	}
	s := p.sensors[si]
	for ti := range s.Spec.Triggers {
		if c := p.conditions[si][ti]; c == nil || !c.fires(satisfied) {
			continue
		}
		fired = append(fired, p.apply(si, ti, satisfied))
	}
	return fired
}

// filter is Argo Events' verdict of dependency di of Sensor si on event:
// its screen's when the screen decides (screen.decides; not in Exact),
// else Filter's. A dependency whose filters are data filters only gets the
// same verdict for the same values at its filters' paths (filterData reads
// nothing else), so Filter's verdicts are remembered by those values.
func (p *Pipeline) filter(si, di int, event *eventsv1alpha1.Event, fields *eventFields) (bool, error) {
	if sc := p.screens[si][di]; !p.exact && sc != nil && sc.decides && gjson.Valid(string(event.Data)) && sc.passes(fields) {
		return true, nil // Filter's verdict (screen.decides)
	}
	dep := p.sensors[si].Spec.Dependencies[di]
	f := dep.Filters
	if f == nil || f.Time != nil || f.Context != nil || len(f.Exprs) > 0 || f.Script != "" {
		return dependencies.Filter(event, f, dep.FiltersLogicalOperator)
	}
	var key strings.Builder
	fmt.Fprintf(&key, "%d/%d", si, di)
	for _, d := range f.Data {
		v := fields.get(d.Path)
		fmt.Fprintf(&key, "\x00%t\x00%s", v.Exists(), v.Raw)
	}
	if v, seen := p.verdicts.get(key.String()); seen {
		return v.ok, v.err
	}
	ok, err := dependencies.Filter(event, f, dep.FiltersLogicalOperator)
	p.verdicts.put(key.String(), verdictOf{ok, err})
	return ok, err
}

// verdictOf is a remembered Filter result.
type verdictOf struct {
	ok  bool
	err error
}

// verdicts remembers Filter results, for any number of goroutines. It
// forgets them all when it holds maxVerdicts: most releases are seen once
// (each has its own digest), so a long replay would otherwise keep every
// one of them.
type verdicts struct {
	mu sync.Mutex
	m  map[string]verdictOf
}

func newVerdicts() *verdicts { return &verdicts{m: map[string]verdictOf{}} }

func (v *verdicts) get(key string) (verdictOf, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	r, ok := v.m[key]
	return r, ok
}

func (v *verdicts) put(key string, r verdictOf) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.m) >= maxVerdicts {
		clear(v.m)
	}
	v.m[key] = r
}

// maxVerdicts is how many Filter results verdicts holds at most.
const maxVerdicts = 1 << 12

// rejection is a dependency that did not accept an event.
type rejection struct {
	sensor string
	dep    *eventsv1alpha1.EventDependency
	event  *eventsv1alpha1.Event
	err    error
	screen *screen      // the screen that set it aside, if one did
	fields *eventFields // the event's data, for screen
	passed int          // data filters passed; -1 until counted
}

// pubSubEvent builds the event the Pub/Sub EventSource sends for msg
// (gcppubsub start.go): PubSubEventData as JSON, the body raw JSON when the
// source sets jsonBody.
func pubSubEvent(msg Message, src sourceEvent) (*eventsv1alpha1.Event, error) {
	data := &pubsub.EventData{
		ID: msg.ID, Body: msg.Data, Attributes: msg.Attributes,
		// Round(0) drops a monotonic clock reading (time.Now's), which
		// String would print and a Pub/Sub publish time never has.
		PublishTime: msg.PublishTime.Round(0).String(), Metadata: src.pubSub.Metadata,
	}
	if src.pubSub.JSONBody {
		body := json.RawMessage(msg.Data)
		data.Body = &body
	}
	raw, err := json.Marshal(data)
	if err != nil {
		// The EventSource nacks it (gcppubsub/start.go): Pub/Sub redelivers
		// it until the subscription's dead-letter policy takes it.
		return nil, fmt.Errorf("the EventSource %s nacks this message, its body is not JSON (%v): Pub/Sub redelivers it until the subscription's dead-letter policy (--dead-letter-topic, --max-delivery-attempts) moves it", src.name, err)
	}
	return &eventsv1alpha1.Event{
		Context: &eventsv1alpha1.EventContext{ID: msg.ID, Source: src.name, Type: "pubsub", DataContentType: "application/json"},
		Data:    raw,
	}, nil
}

// verdict explains a rejection: it asks Argo Events about each data filter
// alone, to count those that pass and find the first that says no. When a
// screen set the dependency aside, its filters answer instead, unless
// exact: Filter asked about one string filter with no template and the
// equality comparator accepts an event with valid JSON data exactly when
// the value at its path matches one of its expressions, which is what the
// screen filter answers (with each expression compiled once, where Filter
// compiles it on every call).
func verdict(r rejection, exact bool) Verdict {
	v := Verdict{Sensor: r.sensor, Dependency: r.dep.Name, Reason: "filters reject the event"}
	if r.err != nil {
		v.Reason = r.err.Error()
	}
	if r.dep.Filters == nil {
		return v
	}
	screened := r.screen != nil && !exact && gjson.Valid(string(r.event.Data))
	for i, f := range r.dep.Filters.Data {
		var ok bool
		var err error
		if screened {
			ok = r.fields.accepts(r.screen.filters[i])
		} else {
			ok, err = dependencies.Filter(r.event, &eventsv1alpha1.EventDependencyFilter{Data: []eventsv1alpha1.DataFilter{f}}, "")
		}
		if ok && err == nil {
			v.Passed++
			continue
		}
		if v.Filter == "" {
			v.Filter = fmt.Sprintf("%s %s %s", f.Path, f.Type, strings.Join(f.Value, " | "))
			if value, found := eventValue(r.event, f.Path); found {
				v.Reason = fmt.Sprintf("%s is %s", f.Path, value)
			} else {
				v.Reason = fmt.Sprintf("the event has no %s", f.Path)
			}
		}
	}
	return v
}

// eventValue reads path from an event's data, for explanations only.
func eventValue(event *eventsv1alpha1.Event, path string) (string, bool) {
	var tree any
	if json.Unmarshal(event.Data, &tree) != nil {
		return "", false
	}
	for _, key := range strings.Split(path, ".") {
		m, ok := tree.(map[string]any)
		if !ok {
			return "", false
		}
		if tree, ok = m[key]; !ok {
			return "", false
		}
	}
	raw, _ := json.Marshal(tree)
	return string(raw), true
}

// maxRejected is how many of the closest dependencies an Outcome lists.
const maxRejected = 3

// nearest explains the rejections that passed the most data filters (the
// dependencies the message came closest to): at most maxRejected of them,
// and how many more were as close. Screened rejections come counted (their
// screen's count), the others are counted by verdict; only those shown are
// explained.
func nearest(rejected []rejection, exact bool) ([]Verdict, int) {
	best, count := -1, 0
	var closest []rejection
	for _, r := range rejected {
		if r.passed < 0 {
			r.passed = verdict(r, exact).Passed
		}
		switch {
		case r.passed == 0:
		case r.passed > best:
			best, count, closest = r.passed, 1, append(closest[:0], r)
		case r.passed == best:
			count++
			if len(closest) < maxRejected {
				closest = append(closest, r)
			}
		}
	}
	verdicts := make([]Verdict, len(closest))
	for i, r := range closest {
		verdicts[i] = verdict(r, exact)
	}
	return verdicts, count - len(closest)
}

// dependencyExpression is a trigger's dependency expression as the Sensor
// builds it (listener.go getDependencyExpression; the event bus evaluates
// it with govaluate): its conditions, or all dependencies joined with &&.
// In conditions, each dependency is named with - written _: each whole
// word that spells a dependency's name so becomes its name, dependency by
// dependency.
func dependencyExpression(s *eventsv1alpha1.Sensor, t eventsv1alpha1.Trigger) (*govaluate.EvaluableExpression, error) {
	if t.Template == nil {
		return nil, errors.New("the trigger has no template") // the Sensor refuses it
	}
	expression := t.Template.Conditions
	if expression == "" {
		var names []string
		for _, d := range s.Spec.Dependencies {
			names = append(names, d.Name)
		}
		expression = strings.Join(names, "&&")
	} else {
		for _, d := range s.Spec.Dependencies {
			expression = replaceWord(expression, strings.ReplaceAll(d.Name, "-", "_"), d.Name)
		}
	}
	return govaluate.NewEvaluableExpression(strings.ReplaceAll(expression, "-", "\\-"))
}

// isWord reports whether b is a word character of a condition: a
// letter, a digit, _ or -.
func isWord(b byte) bool {
	return b == '_' || b == '-' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

// condition is a trigger's dependency expression and the dependencies it
// names.
type condition struct {
	expr *govaluate.EvaluableExpression
	vars []string
}

// fires evaluates the condition over the satisfied dependencies.
func (c *condition) fires(satisfied map[string]*eventsv1alpha1.Event) bool {
	params := make(map[string]any, len(c.vars))
	for _, name := range c.vars {
		_, params[name] = satisfied[name]
	}
	result, err := c.expr.Evaluate(params)
	fired, _ := result.(bool)
	return err == nil && fired
}

// replaceWord replaces whole-word occurrences of old.
func replaceWord(s, old, new string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if strings.HasPrefix(s[i:], old) && (i == 0 || !isWord(s[i-1])) && (i+len(old) == len(s) || !isWord(s[i+len(old)])) {
			b.WriteString(new)
			i += len(old)
			continue
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// apply resolves a fired trigger's parameters with the Sensor's code and
// describes the resource it creates.
func (p *Pipeline) apply(si, ti int, satisfied map[string]*eventsv1alpha1.Event) Trigger {
	s, t := p.sensors[si], p.sensors[si].Spec.Triggers[ti]
	out := Trigger{Sensor: s.Namespace + "/" + s.Name, Name: t.Template.Name}
	// t is a copy, but shares its template with the Sensor; nothing here
	// writes to it (ApplyTemplateParameters replaces t.Template with a new
	// one), so Replay may run on many goroutines (TestReplayConcurrently).
	if err := noSource(t.Parameters); err != nil {
		out.Operation = "error: " + err.Error()
		return out
	}
	if err := triggers.ApplyTemplateParameters(satisfied, &t); err != nil {
		out.Operation = "error: " + err.Error()
		return out
	}
	var source *eventsv1alpha1.ArtifactLocation
	var params []eventsv1alpha1.TriggerParameter
	switch {
	case t.Template.K8s != nil:
		source, params, out.Operation = t.Template.K8s.Source, t.Template.K8s.Parameters, "k8s "+cmp.Or(string(t.Template.K8s.Operation), string(eventsv1alpha1.Create))
	case t.Template.ArgoWorkflow != nil:
		source, params, out.Operation = t.Template.ArgoWorkflow.Source, t.Template.ArgoWorkflow.Parameters, "argoWorkflow "+string(t.Template.ArgoWorkflow.Operation)
	default:
		out.Operation = "not simulated: only k8s and argoWorkflow triggers are"
		return out
	}
	if source == nil || source.Resource == nil {
		out.Operation += ": not simulated: the resource is not inline"
		return out
	}
	obj, err := p.resource(si, ti, source.Resource.Value, params, satisfied, len(t.Parameters) == 0)
	if err != nil {
		out.Operation += ": " + err.Error()
		return out
	}
	out.Resource, _ = obj.MarshalJSON()
	if obj.GetKind() == "Workflow" {
		out.Workflow = p.workflow(s.Namespace, obj, out.Resource)
	}
	return out
}

// resource is the trigger's resource, value, with the parameters applied
// by ApplyResourceParameters. When the template is the Sensor's own
// (sensorTemplate: no trigger parameters rewrote it), the JSON that
// ApplyResourceParameters makes of the decoded resource before applying
// them is made once per trigger, not once per event; the resource is then
// decoded once instead of twice and encoded not at all.
func (p *Pipeline) resource(si, ti int, value json.RawMessage, params []eventsv1alpha1.TriggerParameter, satisfied map[string]*eventsv1alpha1.Event, sensorTemplate bool) (*unstructured.Unstructured, error) {
	if err := noSource(params); err != nil {
		return nil, err
	}
	obj := &unstructured.Unstructured{}
	if p.exact || params == nil || !sensorTemplate {
		if err := obj.UnmarshalJSON(value); err != nil {
			return nil, err
		}
		if p.exact {
			return obj, triggers.ApplyResourceParameters(satisfied, params, obj)
		}
		return obj, p.params.applyResourceParameters(satisfied, params, obj)
	}
	r := p.resourceOf(si, ti, value)
	if r.err != nil {
		return nil, r.err
	}
	applied, err := p.params.applyParams(r.data, params, satisfied)
	if err != nil {
		return nil, err
	}
	return obj, obj.UnmarshalJSON(applied)
}

// resourceJSON is a trigger's resource decoded into an Unstructured and
// encoded again, as ApplyResourceParameters does before it applies the
// parameters; made once, by the first event that fires the trigger.
type resourceJSON struct {
	once sync.Once
	data []byte
	err  error
}

// resourceOf is the resourceJSON of trigger ti of Sensor si, whose
// resource is value.
func (p *Pipeline) resourceOf(si, ti int, value json.RawMessage) *resourceJSON {
	r := p.resources[si][ti]
	r.once.Do(func() {
		decoded := &unstructured.Unstructured{}
		if r.err = decoded.UnmarshalJSON(value); r.err == nil {
			r.data, r.err = decoded.MarshalJSON()
		}
	})
	return r
}

// noSource reports the first parameter without a src: Argo Events'
// ResolveParamValue dereferences it (its ValidateSensor refuses such a
// Sensor before it runs).
func noSource(params []eventsv1alpha1.TriggerParameter) error {
	for _, p := range params {
		if p.Src == nil {
			return fmt.Errorf("parameter with dest %q has no src", p.Dest)
		}
	}
	return nil
}

// workflow describes a triggered Workflow: its template and the arguments
// it runs with (the template's defaults under its own). It decodes obj,
// whose JSON is data, as check.Typed does, and is nil unless obj is an
// argoproj.io/v1alpha1 Workflow.
func (p *Pipeline) workflow(namespace string, obj *unstructured.Unstructured, data []byte) *Workflow {
	typed, err := check.TypedJSON(obj, data)
	if err != nil {
		return nil
	}
	wf, ok := typed.(*wfv1.Workflow)
	if !ok {
		return nil // not an argoproj.io/v1alpha1 Workflow
	}
	if wf.Namespace != "" {
		namespace = wf.Namespace
	}
	w := &Workflow{Namespace: namespace, Arguments: map[string]string{}}
	if ref := wf.Spec.WorkflowTemplateRef; ref != nil {
		w.Template = ref.Name
		if tmpl := p.templates[namespace+"/"+ref.Name]; tmpl != nil {
			for _, a := range tmpl.Spec.Arguments.Parameters {
				if a.Value != nil {
					w.Arguments[a.Name] = a.Value.String()
				}
			}
		}
	}
	for _, a := range wf.Spec.Arguments.Parameters {
		if a.Value != nil {
			w.Arguments[a.Name] = a.Value.String()
		}
	}
	return w
}

// Sensors lists the Sensors' names, for reports.
func (p *Pipeline) Sensors() []string {
	var names []string
	for _, s := range p.sensors {
		names = append(names, s.Namespace+"/"+s.Name)
	}
	return slices.Sorted(slices.Values(names))
}
