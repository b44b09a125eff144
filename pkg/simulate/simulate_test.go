package simulate

import (
	"context"
	"encoding/base64"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	eventsv1alpha1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/render"
)

const image = "us-east1-docker.pkg.dev/acme-shop-prod/containers/web"

func pipeline(t testing.TB, file string) *Pipeline {
	t.Helper()
	p, err := NewPipeline(render.Convert[runtime.Object](rendered(t, file)))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// rendered is what generate writes for an example mapping.
func rendered(t testing.TB, file string) []render.Object {
	t.Helper()
	m, err := mapping.Load("../../examples/" + file)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := render.Render(m, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func push(tag string) string {
	return fmt.Sprintf(`{"action":"INSERT","digest":"%s@sha256:%s","tag":"%s:%s"}`, image, strings.Repeat("ab", 32), image, tag)
}

func TestReadMessagesForms(t *testing.T) {
	payload := push("1.0.0")
	envelope := fmt.Sprintf(`{"data":%q,"attributes":{"k":"v"},"messageId":"42","publishTime":"2026-11-29T10:00:00.5Z"}`,
		base64.StdEncoding.EncodeToString([]byte(payload)))
	stream := payload + "\n" + envelope + "\n" + `{"message":` + envelope + `,"subscription":"s"}` + "\n"
	msgs, err := ReadMessages("stream", strings.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 3 {
		t.Fatalf("got %d messages", len(msgs))
	}
	if string(msgs[0].Data) != payload || msgs[0].ID != "" || !msgs[0].PublishTime.Equal(DefaultPublishTime) {
		t.Errorf("bare notification: %+v", msgs[0])
	}
	want := time.Date(2026, 11, 29, 10, 0, 0, 5e8, time.UTC)
	for _, m := range msgs[1:] {
		if string(m.Data) != payload || m.ID != "42" || m.Attributes["k"] != "v" || !m.PublishTime.Equal(want) {
			t.Errorf("Pub/Sub message: %+v", m)
		}
	}
	// What gcloud pubsub subscriptions pull --format=json prints: an array
	// of {ackId, message}, with snake_case twins and fields simulate does
	// not use, which are ignored.
	pulled := `[{"ackId":"a1","message":{"data":"e30=","messageId":"7","message_id":"7","orderingKey":"","publishTime":"2026-11-29T10:00:00.5Z","publish_time":"2026-11-29T10:00:00.5Z"}},` +
		`{"ackId":"a2","message":{"data":"e30=","message_id":"8","publish_time":"2026-11-29T10:00:01Z","deliveryAttempt":2}}]`
	got, err := ReadMessages("pulled", strings.NewReader(pulled))
	if err != nil || len(got) != 2 || got[0].ID != "7" || !got[0].PublishTime.Equal(want) || got[1].ID != "8" || !got[1].PublishTime.Equal(want.Add(time.Second/2)) || string(got[1].Data) != "{}" {
		t.Errorf("gcloud pull output: %+v, %v", got, err)
	}
	for _, bad := range []struct{ in, want string }{
		{`[1]`, "message 1 (byte 0): a number is not a message: give a JSON object"},
		{`"INSERT"`, "message 1 (byte 0): a string is not a message"},
		{`[[{}]]`, "an array inside an array is not a message"},
		{payload + ` {"data":"!!"}`, "message 2 (byte 224): data is not base64"},
		{`{"data":1}`, "a Pub/Sub message has a base64 string data"},
		{`{"data":"e30=","publishTime":"yesterday"}`, "publishTime"},
		{`{"action":`, "message 1 (byte 0): unexpected EOF"},
	} {
		if _, err := ReadMessages("in", strings.NewReader(bad.in)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: got %v, want %q", bad.in, err, bad.want)
		}
	}
}

func TestReplay(t *testing.T) {
	p := pipeline(t, "single-service.yaml")
	out := p.Replay(Message{ID: "1", Data: []byte(push("1.4.2")), PublishTime: DefaultPublishTime})
	if len(out.Fired) != 1 || out.Fired[0].Name != "release" || out.Fired[0].Workflow.Arguments["tag"] != image+":1.4.2" {
		t.Fatalf("push: %+v", out)
	}
	out = p.Replay(Message{ID: "2", Data: []byte(push("1.4.2 ")), PublishTime: DefaultPublishTime})
	if len(out.Fired) != 0 || len(out.Rejected) != 1 || out.Rejected[0].Passed != 2 || !strings.HasPrefix(out.Rejected[0].Filter, "body.tag string ") {
		t.Fatalf("bad tag: %+v", out)
	}
	out = p.Replay(Message{ID: "3", Data: []byte("not json"), PublishTime: DefaultPublishTime})
	if !strings.Contains(out.Error, "nacks this message, its body is not JSON") || !strings.Contains(out.Error, "dead-letter policy") {
		t.Fatalf("non-JSON body: %+v", out)
	}
}

func TestFollow(t *testing.T) {
	p := pipeline(t, "single-service.yaml")
	c, err := p.NewCluster(nil)
	if err != nil {
		t.Fatal(err)
	}
	out := p.Replay(Message{ID: "1", Data: []byte(push("latest")), PublishTime: DefaultPublishTime})
	if err := p.Follow(context.Background(), c, out.Fired[0].Workflow, DefaultPublishTime); err != nil {
		t.Fatal(err)
	}
	steps := out.Fired[0].Workflow.Steps
	if len(steps) != 1 {
		t.Fatalf("steps: %+v", steps)
	}
	s := steps[0]
	if s.Exit != 0 || s.Outcome != "rolled" || s.Cache != "shop-cache" || s.Target != "web" || s.Service != "web" {
		t.Fatalf("step: %+v", s)
	}
	if got := strings.Join(s.Calls, "; "); !strings.HasPrefix(got, "get deployments shop/web; update deployments shop/web") {
		t.Fatalf("calls: %s", got)
	}
	if !strings.Contains(s.State, `"healthyAt":"2026-01-01T00:00:00Z"`) {
		t.Fatalf("state: %s", s.State)
	}
	// A tag the container does not reference moves nothing.
	out = p.Replay(Message{ID: "2", Data: []byte(push("1.4.2")), PublishTime: DefaultPublishTime.Add(time.Minute)})
	if err := p.Follow(context.Background(), c, out.Fired[0].Workflow, DefaultPublishTime.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if s := out.Fired[0].Workflow.Steps[0]; s.Outcome != "skipped" || s.Before != s.After || slices.ContainsFunc(s.Calls, func(c string) bool { return strings.HasPrefix(c, "update") }) {
		t.Fatalf("push of a tag the container does not run: %+v", s)
	}
}

// TestReplayLeavesTheSensorsAlone: replaying messages on several
// goroutines, through a trigger with parameters of its own (which
// ApplyTemplateParameters applies to the trigger's template), changes no
// Sensor of the pipeline, and each outcome has the parameter applied.
func TestReplayLeavesTheSensorsAlone(t *testing.T) {
	p := pipeline(t, "single-service.yaml")
	trigger := &p.sensors[0].Spec.Triggers[0]
	trigger.Parameters = []eventsv1alpha1.TriggerParameter{{
		Src:       &eventsv1alpha1.TriggerParameterSource{DependencyName: p.sensors[0].Spec.Dependencies[0].Name, DataKey: "body.action"},
		Dest:      "k8s.source.resource.metadata.generateName",
		Operation: eventsv1alpha1.TriggerParameterOpAppend,
	}}
	before := make([]*eventsv1alpha1.Sensor, len(p.sensors))
	for i, s := range p.sensors {
		before[i] = s.DeepCopy()
	}
	outcomes := make([]Outcome, 40)
	var wg sync.WaitGroup
	for i := range outcomes {
		wg.Go(func() {
			outcomes[i] = p.Replay(Message{ID: fmt.Sprint(i), Data: []byte(push(fmt.Sprintf("1.%d.0", i))), PublishTime: DefaultPublishTime})
		})
	}
	wg.Wait()
	for i, out := range outcomes {
		if len(out.Fired) != 1 || out.Fired[0].Name != "release" || out.Fired[0].Workflow == nil ||
			out.Fired[0].Workflow.Arguments["tag"] != fmt.Sprintf("%s:1.%d.0", image, i) ||
			!strings.Contains(string(out.Fired[0].Resource), `"generateName":"shop-INSERT"`) {
			t.Fatalf("message %d: %+v", i, out)
		}
	}
	if !reflect.DeepEqual(p.sensors, before) {
		t.Error("replaying changed the pipeline's Sensors")
	}
}

// TestPublishTimeFromTimeNow: a publish time read off time.Now carries a
// monotonic clock reading, which the Sensor's publish-time template cannot
// parse; the Workflow still gets the time in Unix nanoseconds.
func TestPublishTimeFromTimeNow(t *testing.T) {
	p := pipeline(t, "single-service.yaml")
	now := time.Now()
	out := p.Replay(Message{ID: "1", Data: []byte(push("latest")), PublishTime: now})
	if len(out.Fired) != 1 {
		t.Fatalf("fired %+v", out.Fired)
	}
	if got, want := out.Fired[0].Workflow.Arguments["published-at"], fmt.Sprint(now.UnixNano()); got != want {
		t.Fatalf("published-at = %s, want %s", got, want)
	}
}

// TestTriggerWithoutTemplate: a Sensor whose trigger has no template (the
// Sensor controller refuses it) fires nothing, and simulate does not fail.
func TestTriggerWithoutTemplate(t *testing.T) {
	objs := render.Convert[runtime.Object](rendered(t, "single-service.yaml"))
	for _, o := range objs {
		if s, ok := o.(*eventsv1alpha1.Sensor); ok {
			s.Spec.Triggers[0].Template = nil
		}
	}
	p, err := NewPipeline(objs)
	if err != nil {
		t.Fatal(err)
	}
	if out := p.Replay(Message{ID: "1", Data: []byte(push("1.0.0")), PublishTime: DefaultPublishTime}); len(out.Fired) != 0 {
		t.Errorf("a trigger without a template fired: %+v", out.Fired)
	}
}

// TestTriggerConditions: a trigger fires as the Sensor's expression over
// its satisfied dependencies says, with each dependency named in
// conditions with - written _ (listener.go getDependencyExpression), and
// on all of them when it has no conditions.
func TestTriggerConditions(t *testing.T) {
	deps := []eventsv1alpha1.EventDependency{{Name: "dep-a"}, {Name: "dep-b"}, {Name: "c"}}
	for _, tc := range []struct {
		conditions string
		satisfied  []string
		fires      bool
	}{
		{"dep_a || dep_b", []string{"dep-b"}, true},
		{"dep_a && dep_b", []string{"dep-a"}, false},
		{"dep_a && dep_b", []string{"dep-a", "dep-b"}, true},
		{"(dep_a && dep_b) || c", []string{"c"}, true},
		{"dep_a&&(dep_b||c)", []string{"dep-a"}, false},
		{"dep_a&&(dep_b||c)", []string{"dep-a", "c"}, true},
		{"", []string{"dep-a", "dep-b"}, false},
		{"", []string{"dep-a", "dep-b", "c"}, true},
	} {
		s := &eventsv1alpha1.Sensor{Spec: eventsv1alpha1.SensorSpec{Dependencies: deps}}
		trigger := eventsv1alpha1.Trigger{Template: &eventsv1alpha1.TriggerTemplate{Conditions: tc.conditions}}
		expr, err := dependencyExpression(s, trigger)
		if err != nil {
			t.Fatalf("%q: %v", tc.conditions, err)
		}
		satisfied := map[string]*eventsv1alpha1.Event{}
		for _, name := range tc.satisfied {
			satisfied[name] = &eventsv1alpha1.Event{}
		}
		if got := (&condition{expr: expr, vars: expr.Vars()}).fires(satisfied); got != tc.fires {
			t.Errorf("%q with %v satisfied: fires %v, want %v", tc.conditions, tc.satisfied, got, tc.fires)
		}
	}
}

// TestParameterWithoutSource: a trigger or resource parameter without a
// src (a hand edit; Argo Events' own code would dereference it) is
// reported in the outcome, by Replay and by Exact, not a crash.
func TestParameterWithoutSource(t *testing.T) {
	for _, where := range []string{"trigger", "resource"} {
		objs := rendered(t, "single-service.yaml")
		for _, o := range objs {
			s, ok := o.(*eventsv1alpha1.Sensor)
			if !ok {
				continue
			}
			tt := &s.Spec.Triggers[0]
			if where == "trigger" {
				tt.Parameters = append(tt.Parameters, eventsv1alpha1.TriggerParameter{Dest: "k8s.source.resource.metadata.name"})
			} else {
				tt.Template.K8s.Parameters[0].Src = nil
			}
		}
		p, err := NewPipeline(render.Convert[runtime.Object](objs))
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []*Pipeline{p, p.Exact()} {
			out := q.Replay(Message{ID: "1", Data: []byte(push("1.0.0")), PublishTime: DefaultPublishTime})
			if len(out.Fired) != 1 || !strings.Contains(out.Fired[0].Operation, "has no src") {
				t.Errorf("%s parameter without src: %+v", where, out.Fired)
			}
		}
	}
}
