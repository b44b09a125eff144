// Command argodeploy writes and checks the manifests of an event-driven
// redeploy pipeline: Artifact Registry push → Pub/Sub → Argo Events →
// Argo Workflows → Deployment rollout.
package main

import (
	"os"
	"runtime/debug"
)

func main() {
	// A run is short and allocates its output at once: collect garbage a
	// quarter as often as Go's default (measured in BENCHMARKS.md), unless
	// GOGC says otherwise.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	os.Exit(execute(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
