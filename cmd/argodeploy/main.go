// Command argodeploy writes and checks the manifests of an event-driven
// redeploy pipeline: Artifact Registry push → Pub/Sub → Argo Events →
// Argo Workflows → Deployment rollout.
package main

import "os"

func main() {
	os.Exit(execute(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
