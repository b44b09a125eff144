package simulate

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"testing"

	eventsv1alpha1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	"github.com/argoproj/argo-events/pkg/sensors/triggers"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// paramEvents are events of each kind ResolveParamValue reads: JSON data,
// invalid JSON, YAML, bad YAML, an unknown content type, and no data.
var paramEvents = []*eventsv1alpha1.Event{
	paramEvent("application/json", `{"body":{"action":"INSERT","tag":"x:1.0","n":3,"b":true,"z":null,"o":{"k":"v"},"a":[1,"2"]},"publishTime":"2026-11-29 10:00:00.5 +0000 UTC","id":"7"}`),
	paramEvent("application/json", `{"body":`),
	paramEvent("application/yaml", "body:\n  action: INSERT\n  n: 3\n"),
	paramEvent("application/yaml", "body: [\n"),
	paramEvent("text/plain", `{"body":{}}`),
	paramEvent("application/json", ""),
}

func paramEvent(contentType, data string) *eventsv1alpha1.Event {
	return &eventsv1alpha1.Event{
		Context: &eventsv1alpha1.EventContext{ID: "7", Source: "src", Type: "pubsub", DataContentType: contentType, Subject: "s"},
		Data:    []byte(data),
	}
}

// paramTemplates are templates that succeed, fail to parse, fail to run,
// and print nothing or "<no value>".
var paramTemplates = []string{"",
	`{{ (toDate "2006-01-02 15:04:05.999999999 -0700 MST" .Input.publishTime).UnixNano }}`,
	`{{ .Input.body.tag }}`, `{{ .Input.body.n }}`, `{{ .Input.missing }}`, `{{ .Input.id | upper }}`,
	`{{ .Input }}`, `{{`, `{{ fail "no" }}`, `{{ "" }}`, `{{ .Input.type }}`, `{{ .Input.id }}`, `plain`,
}

var paramKeys = []string{"", "body", "body.tag", "body.n", "body.b", "body.z", "body.o", "body.a", "body.missing", "id", "type", "publishTime"}

// quietly runs f with stdout discarded: Argo Events' parameter code prints
// a line to stdout when a template or key fails.
func quietly(f func()) {
	stdout := os.Stdout
	if devNull, err := os.Open(os.DevNull); err == nil {
		os.Stdout = devNull
		defer func() { devNull.Close(); os.Stdout = stdout }()
	}
	f()
}

// checkParameter compares params.go with Argo Events on one parameter:
// ResolveParamValue's value, type and error, then ApplyParams and
// ApplyResourceParameters on a Workflow.
func checkParameter(t *testing.T, ts *parsedTemplates, param eventsv1alpha1.TriggerParameter, events map[string]*eventsv1alpha1.Event) {
	t.Helper()
	var wantValue *string
	var wantType string
	var wantErr error
	quietly(func() { wantValue, wantType, wantErr = triggers.ResolveParamValue(param.Src, events) })
	gotValue, gotType, gotErr := ts.resolveParamValue(param.Src, events)
	if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || gotType != wantType || (gotValue == nil) != (wantValue == nil) ||
		gotValue != nil && *gotValue != *wantValue {
		t.Fatalf("ResolveParamValue(%+v):\nparams.go   %v %q %v\nArgo Events %v %q %v", *param.Src, show(gotValue), gotType, gotErr, show(wantValue), wantType, wantErr)
	}
	const workflow = `{"apiVersion":"argoproj.io/v1alpha1","kind":"Workflow","metadata":{"generateName":"web-"},"spec":{"arguments":{"parameters":[{"name":"digest","value":""},{"name":"n","value":"1"}]}}}`
	var want, wantObj []byte
	quietly(func() {
		want, wantErr = triggers.ApplyParams([]byte(workflow), []eventsv1alpha1.TriggerParameter{param}, events)
	})
	got, gotErr := ts.applyParams([]byte(workflow), []eventsv1alpha1.TriggerParameter{param}, events)
	if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || string(got) != string(want) {
		t.Fatalf("ApplyParams(%+v):\nparams.go   %s %v\nArgo Events %s %v", param, got, gotErr, want, wantErr)
	}
	gotU, wantU := &unstructured.Unstructured{}, &unstructured.Unstructured{}
	if err := gotU.UnmarshalJSON([]byte(workflow)); err != nil {
		t.Fatal(err)
	}
	if err := wantU.UnmarshalJSON([]byte(workflow)); err != nil {
		t.Fatal(err)
	}
	quietly(func() {
		wantErr = triggers.ApplyResourceParameters(events, []eventsv1alpha1.TriggerParameter{param}, wantU)
		wantObj, _ = wantU.MarshalJSON()
	})
	gotErr = ts.applyResourceParameters(events, []eventsv1alpha1.TriggerParameter{param}, gotU)
	if gotObj, _ := gotU.MarshalJSON(); fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || !reflect.DeepEqual(gotU.Object, wantU.Object) {
		t.Fatalf("ApplyResourceParameters(%+v):\nparams.go   %s %v\nArgo Events %s %v", param, gotObj, gotErr, wantObj, wantErr)
	}
}

func show(s *string) string {
	if s == nil {
		return "nil"
	}
	return fmt.Sprintf("%q", *s)
}

// TestParametersMatchArgoEvents: for every kind of event, source (context
// or data, key or template, with and without a default, the dependency
// there or not), operation and destination, params.go gives Argo Events'
// value, type, error and resource. One parsedTemplates serves them all, as
// a pipeline's does.
func TestParametersMatchArgoEvents(t *testing.T) {
	ts := &parsedTemplates{}
	def := "default"
	ops := []eventsv1alpha1.TriggerParameterOperation{"", eventsv1alpha1.TriggerParameterOpOverwrite, eventsv1alpha1.TriggerParameterOpAppend, eventsv1alpha1.TriggerParameterOpPrepend, "replace"}
	dests := []string{"spec.arguments.parameters.0.value", "spec.arguments.parameters.1.value", "metadata.labels.x", "spec.arguments"}
	checked := 0
	for _, event := range paramEvents {
		for _, dependency := range []string{"web", "other"} {
			events := map[string]*eventsv1alpha1.Event{"web": event}
			for _, key := range paramKeys {
				for _, tmpl := range paramTemplates {
					for _, value := range []*string{nil, &def} {
						for i, src := range []eventsv1alpha1.TriggerParameterSource{
							{DataKey: key, DataTemplate: tmpl},
							{ContextKey: key, ContextTemplate: tmpl},
							{ContextKey: key, DataTemplate: tmpl},
						} {
							src.DependencyName, src.Value, src.UseRawData = dependency, value, i != 1
							param := eventsv1alpha1.TriggerParameter{Src: &src, Dest: dests[checked%len(dests)], Operation: ops[checked%len(ops)]}
							checkParameter(t, ts, param, events)
							checked++
						}
					}
				}
			}
		}
	}
	t.Logf("%d parameters checked", checked)
}

// largeIndex is a destination segment that indexes an array past 99,999
// (leading zeros aside): sjson fills the array up to it.
var largeIndex = regexp.MustCompile(`(^|\.)0*[1-9][0-9]{5,}(\.|$)`)

// TestLargeIndex pins the one skip of FuzzParametersMatchArgoEvents to
// destinations indexing past 99,999, so the fuzz target and its seeds
// (index 99,999, a leading-zero index) still run everything else.
func TestLargeIndex(t *testing.T) {
	for dest, skipped := range map[string]bool{
		"spec.arguments.parameters.0.value":      false,
		"spec.arguments.parameters.99999.value":  false,
		"spec.arguments.parameters.100000.value": true,
		"a.1000000000":                           true,
		"123456":                                 true,
		"spec.x.0000000000001":                   false,
		"spec.x.000100000":                       true,
		"metadata.labels.x12345":                 false,
		"metadata.labels.123456x":                false,
		"metadata.name":                          false,
	} {
		if got := largeIndex.MatchString(dest); got != skipped {
			t.Errorf("largeIndex.MatchString(%q) = %v, want %v", dest, got, skipped)
		}
	}
}

// FuzzParametersMatchArgoEvents: TestParametersMatchArgoEvents with any
// event data, key, template, default and destination.
func FuzzParametersMatchArgoEvents(f *testing.F) {
	f.Add(`{"body":{"tag":"x:1"},"publishTime":"2026-11-29 10:00:00 +0000 UTC"}`, uint8(0), "body.tag", paramTemplates[1], "d", "spec.arguments.parameters.0.value", uint8(0))
	f.Add(`a: [1, 2]`, uint8(1), "a.1", `{{ .Input.a }}`, "", "spec.x", uint8(0x3f))
	f.Add(`{"k":{"v":[1]}}`, uint8(0), "k", `{{ .Input.k.v | len }}`, "", "metadata.name", uint8(0x15))
	f.Add(`{"k":"v"}`, uint8(0), "k", "", "", "spec.arguments.parameters.9999.value", uint8(0))
	f.Add(`{"k":"v"}`, uint8(0), "k", "", "", "spec.arguments.parameters.99999.value", uint8(0))
	f.Add(`{"k":"v"}`, uint8(0), "k", "", "", "spec.x.0000000000001", uint8(0))
	f.Add(`{"k":"v"}`, uint8(0), "k", "", "", "metadata.labels.x12345", uint8(0))
	ts := &parsedTemplates{}
	types := []string{"application/json", "application/yaml", "text/plain"}
	ops := []eventsv1alpha1.TriggerParameterOperation{"", eventsv1alpha1.TriggerParameterOpOverwrite, eventsv1alpha1.TriggerParameterOpAppend, eventsv1alpha1.TriggerParameterOpPrepend}
	f.Fuzz(func(t *testing.T, data string, contentType uint8, key, tmpl, value, dest string, choice uint8) {
		if largeIndex.MatchString(dest) {
			t.Skip("sjson fills an array up to the index: a dest of a.1000000000 takes gigabytes, in both")
		}
		events := map[string]*eventsv1alpha1.Event{"web": paramEvent(types[int(contentType)%len(types)], data)}
		src := eventsv1alpha1.TriggerParameterSource{DependencyName: "web", UseRawData: choice&1 != 0}
		if choice&2 != 0 {
			src.DependencyName = "other"
		}
		if choice&4 != 0 {
			src.Value = &value
		}
		switch choice >> 3 & 3 {
		case 0:
			src.DataKey, src.DataTemplate = key, tmpl
		case 1:
			src.ContextKey, src.ContextTemplate = key, tmpl
		case 2:
			src.ContextKey, src.DataTemplate = key, tmpl
		}
		checkParameter(t, ts, eventsv1alpha1.TriggerParameter{Src: &src, Dest: dest, Operation: ops[choice>>5&3]}, events)
	})
}
