package render

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	eventsv1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/argodeploy/argodeploy/pkg/mapping"
)

var sensorType = metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: "Sensor"}

// dockerTag is what the registry accepts as a tag.
const dockerTag = `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`

// PublishTimeTemplate turns the Pub/Sub publish time of an event, which the
// EventSource writes with Go's time.Time.String, into Unix nanoseconds, so
// the rollout step can tell an older push from a newer one.
const PublishTimeTemplate = `{{ (toDate "2006-01-02 15:04:05.999999999 -0700 MST" .Input.publishTime).UnixNano }}`

// The one dependency of every Sensor, and the trigger it fires.
const (
	DependencyName = "push"
	TriggerName    = "release"
)

// Filters are the data filters of the dependency of a Sensor serving
// services. They are ANDed, and each value is an anchored Go regexp with
// every literal part quoted: the action is INSERT, the digest names
// exactly one of the services' images, and the tag names exactly one of
// them with a valid tag that the pattern of at least one of that image's
// targets takes (each target's step checks its own). An untagged push has
// no body.tag and fails the tag filters. The images are written as a tree
// (imagesRegexp), so a filter grows by little more than each image's last
// name.
func Filters(services []mapping.Service) []eventsv1.DataFilter {
	images := make([]string, len(services))
	var keys []string // distinct tag expressions, in mapping order
	byKey := map[string][]string{}
	for i, s := range services {
		images[i] = s.Image
		key := tagExpression(s)
		if _, seen := byKey[key]; !seen {
			keys = append(keys, key)
		}
		byKey[key] = append(byKey[key], s.Image)
	}
	all := imagesRegexp(images)
	filters := []eventsv1.DataFilter{
		stringFilter("body.action", "^INSERT$"),
		stringFilter("body.digest", "^"+all+"@sha256:[a-f0-9]{64}$"),
	}
	if len(keys) > 1 || keys[0] != dockerTag {
		filters = append(filters, stringFilter("body.tag", "^"+all+":"+dockerTag+"$"))
	}
	alternatives := make([]string, len(keys))
	for i, key := range keys {
		alternatives[i] = imagesRegexp(byKey[key]) + ":" + key
	}
	return append(filters, stringFilter("body.tag", "^"+alternation(alternatives)+"$"))
}

// tagExpression is what s's tags must match: a valid tag when some target
// takes every tag, else its targets' distinct patterns, each in a group.
func tagExpression(s mapping.Service) string {
	var patterns []string
	for _, t := range s.Targets {
		if t.TagPattern == mapping.DefaultTagPattern {
			return dockerTag
		}
		if p := "(?:" + t.TagPattern + ")"; !slices.Contains(patterns, p) {
			patterns = append(patterns, p)
		}
	}
	if len(patterns) == 1 {
		return patterns[0]
	}
	return "(?:" + strings.Join(patterns, "|") + ")"
}

// imagesRegexp matches exactly the given image names, unanchored; an
// alternation comes grouped. The names are split at "/" and the leading
// segments several share are written once:
// a\.io/p/(?:api|web(?:/canary)?).
func imagesRegexp(images []string) string {
	paths := make([][]string, 0, len(images))
	for _, image := range slices.Compact(slices.Sorted(slices.Values(images))) {
		paths = append(paths, strings.Split(image, "/"))
	}
	return treeRegexp(paths)
}

// treeRegexp matches exactly the "/"-joined paths, which are sorted,
// distinct and not empty.
func treeRegexp(paths [][]string) string {
	var alternatives []string
	for i := 0; i < len(paths); {
		head := paths[i][0]
		whole := false
		var rest [][]string
		for ; i < len(paths) && paths[i][0] == head; i++ {
			if len(paths[i]) == 1 {
				whole = true
			} else {
				rest = append(rest, paths[i][1:])
			}
		}
		piece := regexp.QuoteMeta(head)
		switch {
		case len(rest) > 0 && whole:
			piece += "(?:/" + treeRegexp(rest) + ")?"
		case len(rest) > 0:
			piece += "/" + treeRegexp(rest)
		}
		alternatives = append(alternatives, piece)
	}
	return alternation(alternatives)
}

// alternation is a group of the alternatives, or the one alternative.
func alternation(alternatives []string) string {
	if len(alternatives) == 1 {
		return alternatives[0]
	}
	return "(?:" + strings.Join(alternatives, "|") + ")"
}

func stringFilter(path, pattern string) eventsv1.DataFilter {
	return eventsv1.DataFilter{Path: path, Type: eventsv1.JSONTypeString, Value: []string{pattern}}
}

// filterCost bounds what s adds to the filters of a Sensor when it follows
// prev (nil for the first): in each of three filters, its image's
// segments that prev's do not share, quoted, plus a dozen bytes of
// grouping; and its tag expression unless the Sensor has it (seen).
// Sorting a Sensor's images only shares more, so the bound holds for the
// tree imagesRegexp writes.
func filterCost(s, prev *mapping.Service, seen map[string]bool) int {
	segments := strings.Split(s.Image, "/")
	shared := 0
	if prev != nil {
		previous := strings.Split(prev.Image, "/")
		for shared < len(segments)-1 && shared < len(previous) && segments[shared] == previous[shared] {
			shared++
		}
	}
	cost := 3 * (len(regexp.QuoteMeta(strings.Join(segments[shared:], "/"))) + 12)
	if key := tagExpression(*s); !seen[key] {
		cost += len(key) + 8
	}
	return cost
}

// sensors packs the services into as few Sensors as fit under limit bytes
// each, in mapping order: each has one dependency, whose filters admit
// exactly its services' images, and one trigger. A push is delivered to
// one consumer per Sensor, whatever the number of services.
func (p *pipeline) sensors(limit int) ([]Object, error) {
	const overhead = 6144 // metadata, pod template, trigger and framing of one Sensor
	services := p.m.Spec.Services
	var groups [][]mapping.Service
	var seen map[string]bool
	filter := 0
	for i := range services {
		var prev *mapping.Service
		if n := len(groups); n > 0 {
			prev = &groups[n-1][len(groups[n-1])-1]
		}
		cost := filterCost(&services[i], prev, seen)
		if prev == nil || filter+cost > limit-overhead {
			seen = map[string]bool{}
			cost = filterCost(&services[i], nil, seen)
			if cost > limit-overhead {
				return nil, fmt.Errorf("sensor: service %s needs %d bytes of filter, more than a Sensor of %d bytes holds", services[i].Name, cost, limit)
			}
			groups = append(groups, nil)
			filter = 0
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], services[i])
		seen[tagExpression(services[i])] = true
		filter += cost
	}
	objs := make([]Object, len(groups))
	for g, members := range groups {
		sensor, err := p.sensor(shardName(p.name, g, len(groups)), members)
		if err != nil {
			return nil, err
		}
		if size, err := jsonSize(sensor); err != nil || size > limit {
			return nil, fmt.Errorf("sensor %s is %d bytes, over its limit of %d (%v)", sensor.Name, size, limit, err)
		}
		objs[g] = sensor
	}
	return objs, nil
}

// sensor is a Sensor of services: one dependency on the registry event,
// filtered to their images, and one trigger.
func (p *pipeline) sensor(name string, services []mapping.Service) (*eventsv1.Sensor, error) {
	trigger, err := p.trigger()
	if err != nil {
		return nil, err
	}
	return &eventsv1.Sensor{
		TypeMeta:   sensorType,
		ObjectMeta: p.meta(name, p.ns),
		Spec: eventsv1.SensorSpec{
			EventBusName: p.m.Spec.EventBus.Name,
			Template:     p.argoEventsPod(p.sensorAccount()),
			Dependencies: []eventsv1.EventDependency{{
				Name:            DependencyName,
				EventSourceName: p.eventSourceName(),
				EventName:       EventName,
				Filters:         &eventsv1.EventDependencyFilter{Data: Filters(services)},
			}},
			Triggers: []eventsv1.Trigger{trigger},
		},
	}, nil
}

// trigger creates a release Workflow. Only the digest, tag and publish time
// come from the event; the Workflow's first step finds in the cache, which
// the WorkflowTemplate mounts, which targets of which service the image
// feeds.
// A trigger that keeps failing is recorded once by its dead-letter
// trigger and then acknowledged, never retried forever.
func (p *pipeline) trigger() (eventsv1.Trigger, error) {
	workflow, eventParams, err := p.workflow()
	if err != nil {
		return eventsv1.Trigger{}, err
	}
	deadLetter, err := p.deadLetter()
	if err != nil {
		return eventsv1.Trigger{}, err
	}
	return eventsv1.Trigger{
		Template: &eventsv1.TriggerTemplate{
			Name:       TriggerName,
			Conditions: DependencyName,
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

// workflow is the Workflow a trigger creates, and the trigger parameters
// that copy event values into its arguments.
func (p *pipeline) workflow() (*eventsv1.K8SResource, []eventsv1.TriggerParameter, error) {
	fromEvent := map[string]eventsv1.TriggerParameterSource{
		ParamDigest:      {DependencyName: DependencyName, DataKey: "body.digest"},
		ParamTag:         {DependencyName: DependencyName, DataKey: "body.tag"},
		ParamPublishedAt: {DependencyName: DependencyName, DataTemplate: PublishTimeTemplate},
	}
	wf := &wfv1.Workflow{
		TypeMeta: metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: "Workflow"},
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: p.name + "-",
			Namespace:    p.ns,
			Labels:       p.labels(),
		},
		Spec: wfv1.WorkflowSpec{WorkflowTemplateRef: &wfv1.WorkflowTemplateRef{Name: p.templateName()}},
	}
	names := WorkflowParams()
	wf.Spec.Arguments.Parameters = make([]wfv1.Parameter, 0, len(names))
	params := make([]eventsv1.TriggerParameter, 0, len(fromEvent))
	for i, name := range names {
		wf.Spec.Arguments.Parameters = append(wf.Spec.Arguments.Parameters, wfv1.Parameter{Name: name, Value: wfv1.AnyStringPtr("")})
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

// MaxDeadLetterMessage is the most of a registry message a dead letter
// keeps: a ConfigMap holds at most 1 MiB, and a Pub/Sub message up to 10 MB.
const MaxDeadLetterMessage = 512 << 10

// Dead-letter templates: the message as JSON, cut to MaxDeadLetterMessage
// bytes; its length before the cut; the push's tag and digest, each cut to
// 1 KiB (a real one is far shorter), or empty when the message has none.
var (
	deadLetterMessage      = fmt.Sprintf(`{{ toJson .Input.body | trunc %d }}`, MaxDeadLetterMessage)
	deadLetterMessageBytes = `{{ toJson .Input.body | len }}`
)

func deadLetterField(field string) string {
	return fmt.Sprintf(`{{ with .Input.body.%s }}{{ toString . | trunc 1024 }}{{ end }}`, field)
}

// deadLetter records an event whose trigger failed every retry as a
// ConfigMap holding the registry message (cut to MaxDeadLetterMessage
// bytes, with its length before: status says when it was cut), its publish
// time, and the push's digest and tag, which replay uses.
func (p *pipeline) deadLetter() (*eventsv1.Trigger, error) {
	labels := p.labels()
	labels[LabelDeadLetter] = "true"
	cm := &corev1.ConfigMap{
		TypeMeta: configMapType,
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: p.name + "-dead-letter-",
			Namespace:    p.ns,
			Labels:       labels,
		},
		Data: map[string]string{"message": "", "messageBytes": "", "publishTime": "", "digest": "", "tag": ""},
	}
	resource, err := k8sResource(cm)
	if err != nil {
		return nil, err
	}
	return &eventsv1.Trigger{
		Template: &eventsv1.TriggerTemplate{
			Name: TriggerName + "-dead-letter",
			K8s: &eventsv1.StandardK8STrigger{
				Source:    &eventsv1.ArtifactLocation{Resource: resource},
				Operation: eventsv1.Create,
				Parameters: []eventsv1.TriggerParameter{
					{Src: &eventsv1.TriggerParameterSource{DependencyName: DependencyName, DataTemplate: deadLetterMessage}, Dest: "data.message"},
					{Src: &eventsv1.TriggerParameterSource{DependencyName: DependencyName, DataTemplate: deadLetterMessageBytes}, Dest: "data.messageBytes"},
					{Src: &eventsv1.TriggerParameterSource{DependencyName: DependencyName, DataKey: "publishTime"}, Dest: "data.publishTime"},
					{Src: &eventsv1.TriggerParameterSource{DependencyName: DependencyName, DataTemplate: deadLetterField("digest"), Value: ptr.To("")}, Dest: "data.digest"},
					{Src: &eventsv1.TriggerParameterSource{DependencyName: DependencyName, DataTemplate: deadLetterField("tag"), Value: ptr.To("")}, Dest: "data.tag"},
				},
			},
		},
		RetryStrategy: p.triggerBackoff(),
		AtLeastOnce:   true,
	}, nil
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
// creation timestamp that its type would serialise: its JSON with
// "status" left out and "metadata" without "creationTimestamp", the
// members of both sorted by key, as maps are written.
func k8sResource(obj any) (*eventsv1.K8SResource, error) {
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, err
	}
	delete(fields, "status")
	if meta, ok := fields["metadata"]; ok {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(meta, &m); err != nil {
			return nil, err
		}
		delete(m, "creationTimestamp")
		if fields["metadata"], err = json.Marshal(m); err != nil {
			return nil, err
		}
	}
	value, err := json.Marshal(fields)
	if err != nil {
		return nil, err
	}
	return &eventsv1.K8SResource{Value: value}, nil
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
