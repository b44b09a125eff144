// Command argodeploy writes and checks the manifests of an event-driven
// redeploy pipeline: Artifact Registry push → Pub/Sub → Argo Events →
// Argo Workflows → Deployment rollout.
package main

import (
	"os"

	// Mozilla's root certificates, used only where the system has none: the
	// release image is the static binary alone, and reconcile reads the
	// registry over TLS.
	_ "golang.org/x/crypto/x509roots/fallback"
)

func main() {
	os.Exit(execute(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
