// Package schemas embeds the JSON Schemas of argodeploy's input files.
package schemas

import _ "embed"

// ServiceMapping is the JSON Schema (draft-07) of the service-mapping file.
//
//go:embed servicemapping.schema.json
var ServiceMapping []byte
