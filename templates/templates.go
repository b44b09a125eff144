// Package templates holds the text files argodeploy writes from: the
// starter mapping of `argodeploy init`.
package templates

import _ "embed"

// StarterMapping is the text/template of the commented starter mapping.
// Its data has SchemaURL, Name, Project, Service, Image, Deployment and
// Namespace; its function q quotes a string for YAML.
//
//go:embed starter.yaml.tmpl
var StarterMapping string
