// Package schemas embeds the JSON Schemas of argodeploy's input files and of
// the Kubernetes kinds it validates.
package schemas

import "embed"

// ServiceMapping is the JSON Schema (draft-07) of the service-mapping file.
//
//go:embed servicemapping.schema.json
var ServiceMapping []byte

// Kinds holds kinds/*.json, one strict JSON Schema (draft-07) per Kubernetes
// kind, named {lower-cased kind}-{version}.json as kubeconform's
// '{{ .ResourceKind }}-{{ .ResourceAPIVersion }}.json' expects. `make
// schemas` writes them; see README.md.
//
//go:embed kinds/*.json
var Kinds embed.FS
