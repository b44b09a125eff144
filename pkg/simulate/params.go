package simulate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"text/template"

	sprig "github.com/Masterminds/sprig/v3"
	eventsv1alpha1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	"github.com/ghodss/yaml"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// This file is Argo Events' trigger parameter code (pkg/sensors/triggers,
// params.go: ApplyResourceParameters, ApplyParams, ResolveParamValue and
// their helpers, v1.9.11) with one change: a dataTemplate or
// contextTemplate is parsed, with sprig's functions, once per pipeline
// instead of once per event. Parsing builds sprig's function map of 200
// functions and teaches text/template each of them by reflection, 100 µs
// of a release's 600 in Argo Events' code; executing a parsed template is
// what the Sensor does after it. The upstream messages it prints to stdout
// when a template or key fails are left out (they would land in
// simulate's report). FuzzParametersMatchArgoEvents and
// TestParametersMatchArgoEvents hold every function here to the original.

// Upstream's value types (params.go jsonType, stringType).
const (
	jsonType   = "JSON"
	stringType = "String"
)

// parsedTemplates parses each distinct parameter template once, for any
// number of goroutines. A parsed text/template may be executed
// concurrently.
type parsedTemplates struct {
	m sync.Map // template text → *parsedTemplate
}

type parsedTemplate struct {
	once sync.Once
	tpl  *template.Template
	err  error
}

// parse is template.New("param").Funcs(sprig.FuncMap()).Parse(text), as
// getValueWithTemplate calls it, done once per text.
func (ts *parsedTemplates) parse(text string) (*template.Template, error) {
	v, _ := ts.m.LoadOrStore(text, &parsedTemplate{})
	pt := v.(*parsedTemplate)
	pt.once.Do(func() {
		pt.tpl, pt.err = template.New("param").Funcs(sprig.FuncMap()).Parse(text)
	})
	return pt.tpl, pt.err
}

// applyResourceParameters is upstream's ApplyResourceParameters.
func (ts *parsedTemplates) applyResourceParameters(events map[string]*eventsv1alpha1.Event, parameters []eventsv1alpha1.TriggerParameter, obj *unstructured.Unstructured) error {
	if parameters != nil {
		jObj, err := obj.MarshalJSON()
		if err != nil {
			return err
		}
		jUpdatedObj, err := ts.applyParams(jObj, parameters, events)
		if err != nil {
			return err
		}
		err = obj.UnmarshalJSON(jUpdatedObj)
		if err != nil {
			return err
		}
	}
	return nil
}

// applyParams is upstream's ApplyParams; params all have a src (noSource).
func (ts *parsedTemplates) applyParams(jsonObj []byte, params []eventsv1alpha1.TriggerParameter, events map[string]*eventsv1alpha1.Event) ([]byte, error) {
	for _, param := range params {
		value, typ, err := ts.resolveParamValue(param.Src, events)
		if err != nil {
			return nil, err
		}
		if value == nil {
			continue
		}
		switch op := param.Operation; op {
		case eventsv1alpha1.TriggerParameterOpAppend, eventsv1alpha1.TriggerParameterOpPrepend:
			current := gjson.GetBytes(jsonObj, param.Dest)
			if current.Exists() {
				typ = stringType
				if op == eventsv1alpha1.TriggerParameterOpAppend {
					*value = current.String() + *value
				} else {
					*value += current.String()
				}
			}
		case eventsv1alpha1.TriggerParameterOpOverwrite, eventsv1alpha1.TriggerParameterOpNone:
		default:
			return nil, fmt.Errorf("unsupported trigger parameter operation: %+v", op)
		}
		if typ != stringType && param.Src.UseRawData {
			tmp, err := sjson.SetRawBytes(jsonObj, param.Dest, []byte(*value))
			if err != nil {
				return nil, err
			}
			jsonObj = tmp
		} else {
			tmp, err := sjson.SetBytes(jsonObj, param.Dest, *value)
			if err != nil {
				return nil, err
			}
			jsonObj = tmp
		}
	}
	return jsonObj, nil
}

// resolveParamValue is upstream's ResolveParamValue.
func (ts *parsedTemplates) resolveParamValue(src *eventsv1alpha1.TriggerParameterSource, events map[string]*eventsv1alpha1.Event) (*string, string, error) {
	var err error
	var eventPayload []byte
	var key string
	var tmplt string
	var resultValue string

	event, eventExists := events[src.DependencyName]
	switch {
	case eventExists:
		if src.ContextKey == "" && src.DataKey == "" && src.DataTemplate == "" && src.ContextTemplate == "" {
			if src.Value != nil {
				resultValue = *src.Value
			} else {
				eventPayload, err = json.Marshal(&event)
				resultValue = string(eventPayload)
			}
			if err == nil {
				return &resultValue, stringType, nil
			}
		}
		if src.ContextKey != "" || src.ContextTemplate != "" {
			key = src.ContextKey
			tmplt = src.ContextTemplate
			eventPayload, err = json.Marshal(&event.Context)
		}
		if src.DataKey != "" || src.DataTemplate != "" {
			key = src.DataKey
			tmplt = src.DataTemplate
			eventPayload, err = renderEventDataAsJSON(event)
		}
	case src.Value != nil:
		resultValue = *src.Value
		return &resultValue, stringType, nil
	default:
		return nil, stringType, nil
	}
	if err != nil {
		if src.Value != nil {
			resultValue = *src.Value
			return &resultValue, stringType, nil
		}
		return nil, "", err
	}
	if eventPayload != nil {
		if tmplt != "" {
			resultValue, err = ts.getValueWithTemplate(eventPayload, tmplt)
			if err == nil {
				return &resultValue, stringType, nil
			}
		}
		if key != "" {
			tmp, typ, err := getValueByKey(eventPayload, key)
			resultValue = tmp
			if err == nil {
				return &resultValue, typ, nil
			}
		}
		if src.Value != nil {
			resultValue = *src.Value
			return &resultValue, stringType, nil
		}
	}
	return nil, "", fmt.Errorf("unable to resolve '%s' parameter value. err: %+v", src.DependencyName, err)
}

// renderEventDataAsJSON is upstream's renderEventDataAsJSON.
func renderEventDataAsJSON(event *eventsv1alpha1.Event) ([]byte, error) {
	if event == nil {
		return nil, fmt.Errorf("event is nil")
	}
	raw := event.Data
	switch event.Context.DataContentType {
	case eventsv1alpha1.MediaTypeJSON:
		if isJSON(raw) {
			return raw, nil
		}
		return nil, fmt.Errorf("event data is not valid JSON")
	case eventsv1alpha1.MediaTypeYAML:
		data, err := yaml.YAMLToJSON(raw)
		if err != nil {
			return nil, fmt.Errorf("failed converting yaml event data to JSON: %s", err)
		}
		return data, nil
	default:
		return nil, fmt.Errorf("unsupported event content type: %s", event.Context.DataContentType)
	}
}

// isJSON is upstream's isJSON: json.Unmarshal into a json.RawMessage
// fails exactly when the input is not valid JSON.
func isJSON(b []byte) bool {
	return json.Valid(b)
}

// getValueWithTemplate is upstream's getValueWithTemplate, the template
// parsed once.
func (ts *parsedTemplates) getValueWithTemplate(value []byte, templString string) (string, error) {
	res := gjson.ParseBytes(value)
	tpl, err := ts.parse(templString)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := tpl.Execute(&buf, map[string]interface{}{
		"Input": res.Value(),
	}); err != nil {
		return "", err
	}
	out := buf.String()
	if out == "" || out == "<no value>" {
		return "", fmt.Errorf("template evaluated to empty string or no value: %s", templString)
	}
	return out, nil
}

// getValueByKey is upstream's getValueByKey.
func getValueByKey(value []byte, key string) (string, string, error) {
	res := gjson.GetBytes(value, key)
	if res.Exists() {
		if res.Type.String() == jsonType {
			return res.Raw, res.Type.String(), nil
		}
		if res.Type == gjson.Null {
			return res.Raw, res.Type.String(), nil
		}
		return res.String(), res.Type.String(), nil
	}
	return "", "", fmt.Errorf("key %s does not exist to in the event payload", key)
}
