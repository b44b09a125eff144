package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	eventsv1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/argodeploy/argodeploy/pkg/jsonscan"
	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/parallel"
)

var sensorType = metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: "Sensor"}

// dockerTag is what the registry accepts as a tag.
const dockerTag = `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`

// PublishTimeTemplate turns the Pub/Sub publish time of an event, which the
// EventSource writes with Go's time.Time.String, into Unix nanoseconds, so
// the rollout step can tell an older push from a newer one.
const PublishTimeTemplate = `{{ (toDate "2006-01-02 15:04:05.999999999 -0700 MST" .Input.publishTime).UnixNano }}`

// Filters are the data filters a service's dependency applies to a Pub/Sub
// event. They are ANDed, and each value is an anchored Go regexp with every
// literal part quoted: the action is INSERT, the digest names exactly this
// image repository, and the tag names exactly this repository with a valid
// tag that matches the pattern of at least one of the service's targets
// (each target's step checks its own). An untagged push has no body.tag
// and fails the tag filters.
func Filters(s mapping.Service) []eventsv1.DataFilter {
	image := regexp.QuoteMeta(s.Image)
	filters := []eventsv1.DataFilter{
		stringFilter("body.action", "^INSERT$"),
		stringFilter("body.digest", "^"+image+"@sha256:[a-f0-9]{64}$"),
		stringFilter("body.tag", "^"+image+":"+dockerTag+"$"),
	}
	if patterns := tagPatterns(s); len(patterns) > 0 {
		filters = append(filters, stringFilter("body.tag", "^"+image+":(?:"+strings.Join(patterns, "|")+")$"))
	}
	return filters
}

// tagPatterns are the distinct tag patterns of s's targets, each in a
// group, in target order; none when any target takes every tag.
func tagPatterns(s mapping.Service) []string {
	var patterns []string
	for _, t := range s.Targets {
		if t.TagPattern == mapping.DefaultTagPattern {
			return nil
		}
		if p := "(?:" + t.TagPattern + ")"; !slices.Contains(patterns, p) {
			patterns = append(patterns, p)
		}
	}
	if len(patterns) == 1 {
		patterns[0] = s.Targets[0].TagPattern // as written, for the common case
	}
	return patterns
}

func stringFilter(path, pattern string) eventsv1.DataFilter {
	return eventsv1.DataFilter{Path: path, Type: eventsv1.JSONTypeString, Value: []string{pattern}}
}

// sensors builds one dependency and one trigger per service and packs them
// into as few Sensors as fit under limit bytes each.
func (p *pipeline) sensors(cacheOf map[string]string, limit int) ([]Object, error) {
	const overhead = 4096 // metadata, pod template and JSON framing of one Sensor
	services := p.m.Spec.Services
	deps := make([]eventsv1.EventDependency, len(services))
	triggers := make([]eventsv1.Trigger, len(services))
	sizes := make([]int, len(services))
	err := parallel.ForEach(len(services), func(i int) error {
		s := services[i]
		deps[i] = p.dependency(s)
		t, err := p.trigger(s, cacheOf[s.Name])
		if err != nil {
			return err
		}
		triggers[i] = t
		sizes[i], err = triggerSize(deps[i], triggers[i])
		return err
	})
	if err != nil {
		return nil, err
	}
	groups, err := pack(sizes, limit-overhead)
	if err != nil {
		return nil, fmt.Errorf("sensor: %w", err)
	}
	objs := make([]Object, 0, len(groups))
	for g, members := range groups {
		sensor := &eventsv1.Sensor{
			TypeMeta:   sensorType,
			ObjectMeta: p.meta(shardName(p.name, g, len(groups)), p.ns),
			Spec: eventsv1.SensorSpec{
				EventBusName: p.m.Spec.EventBus.Name,
				Template:     p.argoEventsPod(p.sensorAccount()),
			},
		}
		for _, i := range members {
			sensor.Spec.Dependencies = append(sensor.Spec.Dependencies, deps[i])
			sensor.Spec.Triggers = append(sensor.Spec.Triggers, triggers[i])
		}
		objs = append(objs, sensor)
	}
	return objs, nil
}

func (p *pipeline) dependency(s mapping.Service) eventsv1.EventDependency {
	return eventsv1.EventDependency{
		Name:            s.Name,
		EventSourceName: p.eventSourceName(),
		EventName:       EventName,
		Filters:         &eventsv1.EventDependencyFilter{Data: Filters(s)},
	}
}

// trigger creates the service's Workflow. Only the digest, tag and publish
// time come from the event; which Deployment rolls is fixed here, from the
// mapping. A trigger that keeps failing is recorded once by its dead-letter
// trigger and then acknowledged, never retried forever.
func (p *pipeline) trigger(s mapping.Service, cache string) (eventsv1.Trigger, error) {
	workflow, eventParams, err := p.workflow(s, cache)
	if err != nil {
		return eventsv1.Trigger{}, err
	}
	deadLetter, err := p.deadLetter(s)
	if err != nil {
		return eventsv1.Trigger{}, err
	}
	return eventsv1.Trigger{
		Template: &eventsv1.TriggerTemplate{
			Name:       s.Name,
			Conditions: s.Name,
			K8s: &eventsv1.StandardK8STrigger{
				Source:     &eventsv1.ArtifactLocation{Resource: workflow},
				Operation:  eventsv1.Create,
				Parameters: eventParams,
			},
		},
		RetryStrategy: p.triggerBackoff(),
		AtLeastOnce:   true,
		DlqTrigger:    deadLetter,
	}, nil
}

// workflow is the Workflow a service's trigger creates, and the trigger
// parameters that copy event values into its arguments.
func (p *pipeline) workflow(s mapping.Service, cache string) (*eventsv1.K8SResource, []eventsv1.TriggerParameter, error) {
	targets, err := TargetItems(s)
	if err != nil {
		return nil, nil, err
	}
	constants := map[string]string{
		ParamService: s.Name,
		ParamTargets: targets,
		ParamCache:   cache,
	}
	fromEvent := map[string]eventsv1.TriggerParameterSource{
		ParamDigest:      {DependencyName: s.Name, DataKey: "body.digest"},
		ParamTag:         {DependencyName: s.Name, DataKey: "body.tag"},
		ParamPublishedAt: {DependencyName: s.Name, DataTemplate: PublishTimeTemplate},
	}
	wf := &wfv1.Workflow{
		TypeMeta: metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: "Workflow"},
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: s.Name + "-",
			Namespace:    p.ns,
			Labels:       p.serviceLabels(s),
		},
		Spec: wfv1.WorkflowSpec{WorkflowTemplateRef: &wfv1.WorkflowTemplateRef{Name: p.templateName()}},
	}
	names := WorkflowParams()
	wf.Spec.Arguments.Parameters = make([]wfv1.Parameter, 0, len(names))
	params := make([]eventsv1.TriggerParameter, 0, len(fromEvent))
	for i, name := range names {
		value := constants[name]
		wf.Spec.Arguments.Parameters = append(wf.Spec.Arguments.Parameters, wfv1.Parameter{Name: name, Value: wfv1.AnyStringPtr(value)})
		if src, ok := fromEvent[name]; ok {
			params = append(params, eventsv1.TriggerParameter{
				Src:  &src,
				Dest: "spec.arguments.parameters." + strconv.Itoa(i) + ".value",
			})
		}
	}
	resource, err := k8sResource(wf)
	return resource, params, err
}

// deadLetter records an event whose trigger failed every retry as a
// ConfigMap holding the service and the registry message.
func (p *pipeline) deadLetter(s mapping.Service) (*eventsv1.Trigger, error) {
	labels := p.serviceLabels(s)
	labels[LabelDeadLetter] = "true"
	cm := &corev1.ConfigMap{
		TypeMeta: configMapType,
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: p.name + "-dead-letter-",
			Namespace:    p.ns,
			Labels:       labels,
		},
		Data: map[string]string{"service": s.Name, "message": "", "publishTime": ""},
	}
	resource, err := k8sResource(cm)
	if err != nil {
		return nil, err
	}
	return &eventsv1.Trigger{
		Template: &eventsv1.TriggerTemplate{
			Name: s.Name + "-dead-letter",
			K8s: &eventsv1.StandardK8STrigger{
				Source:    &eventsv1.ArtifactLocation{Resource: resource},
				Operation: eventsv1.Create,
				Parameters: []eventsv1.TriggerParameter{
					{Src: &eventsv1.TriggerParameterSource{DependencyName: s.Name, DataKey: "body"}, Dest: "data.message"},
					{Src: &eventsv1.TriggerParameterSource{DependencyName: s.Name, DataKey: "publishTime"}, Dest: "data.publishTime"},
				},
			},
		},
		RetryStrategy: p.triggerBackoff(),
		AtLeastOnce:   true,
	}, nil
}

func (p *pipeline) serviceLabels(s mapping.Service) map[string]string {
	labels := p.labels()
	labels[LabelService] = s.Name
	return labels
}

// triggerBackoff is how long a trigger (and its dead letter) keeps trying:
// the mapping's spec.sensor.retry, by default 9 tries 2s, 4s, ... 256s
// apart (8.5 minutes, plus up to 20 % jitter), to outlast a control-plane
// restart.
func (p *pipeline) triggerBackoff() *eventsv1.Backoff {
	r := p.m.Spec.Sensor.Retry
	duration := eventsv1.FromString(r.Duration)
	factor := eventsv1.NewAmount(strconv.Itoa(int(r.Factor)))
	jitter := eventsv1.NewAmount(strconv.FormatFloat(*r.Jitter, 'f', -1, 64))
	return &eventsv1.Backoff{Duration: &duration, Factor: &factor, Jitter: &jitter, Steps: r.Steps}
}

// k8sResource embeds an object in a trigger, without the empty status and
// creation timestamp that its type would serialise: its JSON with the
// top-level members sorted by key, "status" left out and "metadata"
// rewritten without "creationTimestamp", its members sorted too, as maps
// are written. Only the members are found in the JSON (jsonscan); the rest
// stays as json.Marshal wrote it.
func k8sResource(obj any) (*eventsv1.K8SResource, error) {
	buf := marshalBuffers.Get().(*bytes.Buffer)
	defer marshalBuffers.Put(buf)
	buf.Reset()
	if err := json.NewEncoder(buf).Encode(obj); err != nil { // as json.Marshal, with a newline
		return nil, err
	}
	raw := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	value, err := rewriteMembers(make([]byte, 0, len(raw)), raw, func(m *jsonscan.Member) (bool, error) {
		switch m.Key {
		case "status":
			return false, nil
		case "metadata":
			if string(m.Value) == "null" {
				return true, nil
			}
			var err error
			m.Value, err = rewriteMembers(make([]byte, 0, len(m.Value)), m.Value, func(m *jsonscan.Member) (bool, error) {
				return m.Key != "creationTimestamp", nil
			})
			return true, err
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return &eventsv1.K8SResource{Value: value}, nil
}

// marshalBuffers hold the JSON k8sResource rewrites.
var marshalBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// rewriteMembers appends to dst the JSON object obj with its members
// sorted by key, each key written as encoding/json writes a map's key,
// and each member passed to keep first, which may change its value or
// leave the member out.
func rewriteMembers(dst, obj []byte, keep func(*jsonscan.Member) (bool, error)) ([]byte, error) {
	members, err := jsonscan.Members(obj)
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(members, func(a, b jsonscan.Member) int { return strings.Compare(a.Key, b.Key) })
	dst = append(dst, '{')
	first := true
	for _, m := range members {
		if ok, err := keep(&m); !ok || err != nil {
			if err != nil {
				return nil, err
			}
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		if plainKey(m.Key) {
			dst = append(dst, m.RawKey...) // "key", as encoding/json writes it
		} else {
			key, err := json.Marshal(m.Key)
			if err != nil {
				return nil, err
			}
			dst = append(dst, key...)
		}
		dst = append(dst, ':')
		dst = append(dst, m.Value...)
	}
	return append(dst, '}'), nil
}

// plainKey reports whether encoding/json writes key between quotes as it
// is: ASCII letters, digits and punctuation that it neither escapes nor
// HTML-escapes.
func plainKey(key string) bool {
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// triggerSize is jsonSize(dep, t) without marshalling the objects t
// creates once more: t is measured with their resources left out, and each
// resource adds its member, `"resource":` and its JSON, which encoding/json
// writes as it is (k8sResource wrote it compact). TestTriggerSize holds it
// to jsonSize.
func triggerSize(dep eventsv1.EventDependency, t eventsv1.Trigger) (int, error) {
	var resources []*eventsv1.K8SResource
	bare := withoutResources(t, &resources)
	size, err := jsonSize(dep, bare)
	for _, r := range resources {
		size += len(`"resource":`) + len(r.Value)
	}
	return size, err
}

// withoutResources returns t with the resources of its k8s triggers, its
// dead-letter trigger's included, left out and added to resources; t
// itself is not changed.
func withoutResources(t eventsv1.Trigger, resources *[]*eventsv1.K8SResource) eventsv1.Trigger {
	if t.Template != nil && t.Template.K8s != nil && t.Template.K8s.Source != nil && t.Template.K8s.Source.Resource != nil {
		template, k8s, source := *t.Template, *t.Template.K8s, *t.Template.K8s.Source
		*resources = append(*resources, source.Resource)
		source.Resource = nil
		k8s.Source, template.K8s, t.Template = &source, &k8s, &template
	}
	if t.DlqTrigger != nil {
		dlq := withoutResources(*t.DlqTrigger, resources)
		t.DlqTrigger = &dlq
	}
	return t
}

// jsonSize is the length of json.Marshal's output for each value, summed.
// It counts the bytes an Encoder writes instead of keeping them.
func jsonSize(values ...any) (int, error) {
	var n byteCounter
	enc := json.NewEncoder(&n)
	for _, v := range values {
		if err := enc.Encode(v); err != nil { // as json.Marshal, with a newline
			return 0, err
		}
	}
	return int(n) - len(values), nil
}

// byteCounter counts the bytes written to it.
type byteCounter int

func (c *byteCounter) Write(p []byte) (int, error) {
	*c += byteCounter(len(p))
	return len(p), nil
}
