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
// It reads the command's name from os.Args: the first argument that is
// not a flag. Commands that use none of these caches (help, version,
// init, graph) start nothing, and neither does a process with one CPU,
// where the work would only delay the initialisation.
package prewarm

import (
	"os"
	"runtime"
	"strings"

	"github.com/argodeploy/argodeploy/pkg/kinds"
	"github.com/argodeploy/argodeploy/pkg/schema"
)

// work is what one command uses: the JSON encoders of the typed kinds,
// their decoders, and the schemas of some kinds as apiVersion and kind.
type work struct {
	encoders, decoders bool
	schemas            [][2]string
}

// pipelineSchemas are the Argo kinds of a generated pipeline, the largest
// schema first.
var pipelineSchemas = [][2]string{
	{"argoproj.io/v1alpha1", "WorkflowTemplate"},
	{"argoproj.io/v1alpha1", "Sensor"},
	{"argoproj.io/v1alpha1", "EventSource"},
	{"argoproj.io/v1alpha1", "EventBus"},
}

// plan says what the command in args (os.Args without the program) uses.
func plan(args []string) work {
	for _, arg := range args {
		if strings.HasPrefix(arg, "-") {
			continue
		}
		switch arg {
		case "validate":
			return work{encoders: true, decoders: true, schemas: pipelineSchemas}
		case "simulate":
			return work{encoders: true, decoders: true}
		case "generate":
			return work{encoders: true}
		}
		return work{}
	}
	return work{}
}

func init() {
	if runtime.GOMAXPROCS(0) < 2 || len(os.Args) < 2 {
		return
	}
	w := plan(os.Args[1:])
	if w.encoders {
		go kinds.WarmCodecs(w.decoders)
	}
	if len(w.schemas) > 0 {
		go func() {
			for _, s := range w.schemas {
				_ = schema.Preload(s[0], s[1]) // validate reports any error itself
			}
		}()
	}
}
