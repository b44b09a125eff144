// Package rollout is the pipeline's rollout step: it rolls one target of a
// service (a container of a Deployment) to a pushed image, waits for the
// Deployment to become healthy, and undoes its change when it does not.
//
// The step's trusted input is the service's cache entry (LoadService) and
// the target's name; the push (Push) comes from event text and is checked
// before use. What a target last received is recorded per container in
// the Deployment's argodeploy.dev/state annotation (Entry, ReadState).
// Decide is the pure release policy; Run applies it against the
// Kubernetes API.
//
// Exit codes of Result.Exit: 0 rolled out or nothing to do, 1 transient
// (the Workflow retries), 2 permanent, 3 the rollout did not become
// healthy in time and was undone.
package rollout
