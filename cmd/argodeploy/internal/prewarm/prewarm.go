// Package prewarm fills caches that the command being run will need, on
// the CPU that Go's package initialisation leaves idle.
//
// Go initialises packages one at a time; for argodeploy that is 30-40 ms
// of a single CPU (the upstream modules), before main starts. The first
// validate then spends milliseconds more learning the Argo types' fields
// (encoding/json, sigs.k8s.io/json) and reading the schemas of the Argo
// kinds. This package's init starts that work on another goroutine, so it
// overlaps the rest of the initialisation: validate of one example is a
// few milliseconds faster (docs/performance.md). Go orders ready packages
// by import path, and this one depends only on the API types and
// pkg/schema, so it starts a little over halfway through.
//
// It finds the command in os.Args with preload.Command: the first
// argument that is not a flag. Commands that use none of these caches
// (help, version, init, graph) start nothing, and neither does a process
// with one CPU, where the work would only delay the initialisation.
package prewarm

import (
	"os"
	"runtime"

	"github.com/argodeploy/argodeploy/cmd/argodeploy/internal/preload"
	"github.com/argodeploy/argodeploy/pkg/kinds"
	"github.com/argodeploy/argodeploy/pkg/schema"
	k8sschema "k8s.io/apimachinery/pkg/runtime/schema"
)

// work is what one command uses: the JSON encoders and decoders of some
// typed kinds, and the schemas of some kinds.
type work struct {
	encode, decode []k8sschema.GroupKind
	schemas        []k8sschema.GroupKind // at version v1alpha1 of argoproj.io
}

var (
	workflowTemplate = k8sschema.GroupKind{Group: "argoproj.io", Kind: "WorkflowTemplate"}
	sensor           = k8sschema.GroupKind{Group: "argoproj.io", Kind: "Sensor"}
	eventSource      = k8sschema.GroupKind{Group: "argoproj.io", Kind: "EventSource"}
	eventBus         = k8sschema.GroupKind{Group: "argoproj.io", Kind: "EventBus"}
	workflow         = k8sschema.GroupKind{Group: "argoproj.io", Kind: "Workflow"}
	configMap        = k8sschema.GroupKind{Kind: "ConfigMap"}
	serviceAccount   = k8sschema.GroupKind{Kind: "ServiceAccount"}
	role             = k8sschema.GroupKind{Group: "rbac.authorization.k8s.io", Kind: "Role"}
	roleBinding      = k8sschema.GroupKind{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"}

	// argoKinds are the Argo kinds of a generated pipeline, the largest
	// first, and pipeline all its kinds.
	argoKinds = []k8sschema.GroupKind{workflowTemplate, sensor, eventSource, eventBus}
	pipeline  = append(argoKinds[:len(argoKinds):len(argoKinds)], configMap, serviceAccount, role, roleBinding)
)

// plan says what the command in args (os.Args without the program) uses:
// validate decodes a pipeline's objects, checks them against their schemas
// and encodes WorkflowTemplates and Sensors (the upstream validators and
// References marshal parts of them); simulate decodes the Sensors, the
// templates and the Workflows that fire; generate encodes a pipeline and
// the Workflows its triggers create.
func plan(args []string) work {
	switch command, _ := preload.Command(args); command {
	case "validate":
		return work{decode: pipeline, encode: []k8sschema.GroupKind{workflowTemplate, sensor}, schemas: argoKinds}
	case "simulate":
		return work{decode: []k8sschema.GroupKind{sensor, workflowTemplate, workflow}}
	case "generate":
		return work{encode: append([]k8sschema.GroupKind{workflow}, pipeline...)}
	}
	return work{}
}

func init() {
	if runtime.GOMAXPROCS(0) < 2 || len(os.Args) < 2 {
		return
	}
	w := plan(os.Args[1:])
	if len(w.decode) > 0 {
		go kinds.WarmCodecs(w.decode, false, true)
	}
	if len(w.encode) > 0 {
		go kinds.WarmCodecs(w.encode, true, false)
	}
	if len(w.schemas) > 0 {
		go func() {
			for _, gk := range w.schemas {
				_ = schema.Preload(gk.Group+"/v1alpha1", gk.Kind) // validate reports any error itself
			}
		}()
	}
}
