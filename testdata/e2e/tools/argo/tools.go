// Package tools pins the Argo and NATS programs the end-to-end tests build
// (the tool directives in go.mod) and the Argo Workflows module whose CRDs
// the tests apply.
package tools

import (
	// The Argo Workflows CRDs are read from this module's directory.
	_ "github.com/argoproj/argo-workflows/v3"
)
