// Package templates holds the text that generated manifests carry verbatim.
package templates

import _ "embed"

// RolloutScript is the POSIX shell step of the rollout WorkflowTemplate. It
// reads trusted values from the cache ConfigMap and event values from env.
//
//go:embed rollout.sh
var RolloutScript string
