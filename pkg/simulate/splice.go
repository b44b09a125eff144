package simulate

import (
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"unicode/utf8"

	eventsv1alpha1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/tidwall/gjson"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/argodeploy/argodeploy/pkg/check"
)

// workflowPlan fires a trigger of the shape generate writes, a Workflow
// whose parameters each overwrite the value of one of its arguments with a
// string, without decoding anything per event. ApplyResourceParameters
// sets each value in the resource's JSON with sjson, the resource is
// decoded and encoded again (apply), and the Workflow decoded to describe
// it (workflow). For such a trigger all that changes from event to event
// is those values: the JSON that comes out is the trigger's JSON with each
// value's bytes replaced by the value as encoding/json writes a string,
// and the Workflow is the trigger's with those arguments replaced.
// TestSpliceMatchesApply and FuzzSpliceMatchesApply compare it with the
// way round.
type workflowPlan struct {
	base      []byte          // the resource's JSON (resourceJSON.data)
	slots     []argumentSlot  // the arguments the parameters set
	order     []int           // the slots in the order of their bytes in base
	slotOf    []int           // per trigger parameter, its slot
	namespace string          // the Workflow's
	template  string          // its workflowTemplateRef
	defaults  []argumentValue // the template's arguments with a value
	arguments []argumentValue // the Workflow's own, in order; slot ≥ 0 where a parameter sets one
}

// argumentSlot is where an argument's value lies in base.
type argumentSlot struct{ start, end int }

type argumentValue struct {
	name  string
	value *string
	slot  int // -1: no parameter sets it
}

// argumentDest is the destination of a parameter that sets the value of
// a Workflow argument.
var argumentDest = regexp.MustCompile(`^spec\.arguments\.parameters\.(0|[1-9][0-9]{0,3})\.value$`)

// newWorkflowPlan is the plan of a trigger whose resource is obj, and its
// JSON base, in a Sensor of namespace sensorNamespace, or nil when the trigger is not
// of that shape: a Workflow (as check.TypedJSON decodes it), and every
// parameter one that overwrites (no operation, or overwrite) the value of
// an argument the Workflow has, as a string (not useRawData).
func (p *Pipeline) newWorkflowPlan(sensorNamespace string, obj *unstructured.Unstructured, base []byte, params []eventsv1alpha1.TriggerParameter) *workflowPlan {
	if obj.GetKind() != "Workflow" {
		return nil
	}
	typed, err := check.TypedJSON(obj, base)
	if err != nil {
		return nil
	}
	wf, ok := typed.(*wfv1.Workflow)
	if !ok {
		return nil
	}
	plan := &workflowPlan{base: base, namespace: sensorNamespace}
	if wf.Namespace != "" {
		plan.namespace = wf.Namespace
	}
	for _, a := range wf.Spec.Arguments.Parameters {
		plan.arguments = append(plan.arguments, argumentValue{name: a.Name, value: anyString(a.Value), slot: -1})
	}
	byIndex := map[int]int{} // argument → slot
	for _, prm := range params {
		m := argumentDest.FindStringSubmatch(prm.Dest)
		if m == nil || prm.Src == nil || prm.Src.UseRawData ||
			prm.Operation != eventsv1alpha1.TriggerParameterOpNone && prm.Operation != eventsv1alpha1.TriggerParameterOpOverwrite {
			return nil
		}
		i, _ := strconv.Atoi(m[1])
		at := gjson.GetBytes(base, prm.Dest)
		if i >= len(plan.arguments) || !at.Exists() || at.Index <= 0 || string(base[at.Index:at.Index+len(at.Raw)]) != at.Raw {
			return nil
		}
		slot, seen := byIndex[i]
		if !seen {
			slot = len(plan.slots)
			byIndex[i] = slot
			plan.slots = append(plan.slots, argumentSlot{at.Index, at.Index + len(at.Raw)})
			plan.arguments[i].slot = slot
		}
		plan.slotOf = append(plan.slotOf, slot)
	}
	if ref := wf.Spec.WorkflowTemplateRef; ref != nil {
		plan.template = ref.Name
		if tmpl := p.templates[plan.namespace+"/"+ref.Name]; tmpl != nil {
			for _, a := range tmpl.Spec.Arguments.Parameters {
				if a.Value != nil {
					plan.defaults = append(plan.defaults, argumentValue{name: a.Name, value: anyString(a.Value), slot: -1})
				}
			}
		}
	}
	plan.order = make([]int, len(plan.slots))
	for i := range plan.order {
		plan.order[i] = i
	}
	slices.SortFunc(plan.order, func(a, b int) int { return plan.slots[a].start - plan.slots[b].start })
	return plan
}

func anyString(v *wfv1.AnyString) *string {
	if v == nil {
		return nil
	}
	s := v.String()
	return &s
}

// fire resolves the parameters as applyParams does and returns the
// resource and the Workflow the trigger creates. ok is false when a value
// is not valid UTF-8 (decoding would replace its bad bytes): the caller
// then goes the way round.
func (w *workflowPlan) fire(ts *parsedTemplates, params []eventsv1alpha1.TriggerParameter, events map[string]*eventsv1alpha1.Event) (resource []byte, workflow *Workflow, ok bool, err error) {
	values := make([]*string, len(w.slots))
	for i, prm := range params {
		value, _, err := ts.resolveParamValue(prm.Src, events)
		if err != nil {
			return nil, nil, true, err
		}
		if value == nil {
			continue
		}
		if !utf8.ValidString(*value) {
			return nil, nil, false, nil
		}
		values[w.slotOf[i]] = value
	}
	resource = make([]byte, 0, len(w.base)+64)
	at := 0 // base is copied up to here
	for _, i := range w.order {
		if values[i] == nil {
			continue
		}
		encoded, _ := json.Marshal(*values[i]) // a string always encodes
		resource = append(append(resource, w.base[at:w.slots[i].start]...), encoded...)
		at = w.slots[i].end
	}
	resource = append(resource, w.base[at:]...)
	workflow = &Workflow{Namespace: w.namespace, Template: w.template, Arguments: make(map[string]string, len(w.defaults)+len(w.arguments))}
	for _, a := range w.defaults {
		workflow.Arguments[a.name] = *a.value
	}
	for _, a := range w.arguments {
		value := a.value
		if a.slot >= 0 && values[a.slot] != nil {
			value = values[a.slot]
		}
		if value != nil {
			workflow.Arguments[a.name] = *value
		}
	}
	return resource, workflow, true, nil
}
