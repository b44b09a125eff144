// Command argodeploy writes and checks the manifests of an event-driven
// redeploy pipeline: Artifact Registry push → Pub/Sub → Argo Events →
// Argo Workflows → Deployment rollout.
package main

import (
	"os"

	// First, so that it sets GOGC before the upstream modules initialise.
	_ "github.com/argodeploy/argodeploy/cmd/argodeploy/internal/gcpercent"
	// Fills the command's caches on the CPU initialisation leaves idle.
	_ "github.com/argodeploy/argodeploy/cmd/argodeploy/internal/prewarm"
	// Mozilla's root certificates, used only where the system has none: the
	// release image is the static binary alone, and reconcile reads the
	// registry over TLS.
	_ "golang.org/x/crypto/x509roots/fallback"
)

func main() {
	os.Exit(execute(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
