package mapping

import (
	"bytes"
	"fmt"
	"strconv"
	"text/template"

	"github.com/argodeploy/argodeploy/templates"
)

// SchemaURL is where editors find the mapping file's JSON Schema.
const SchemaURL = "https://raw.githubusercontent.com/argodeploy/argodeploy/main/schemas/servicemapping.schema.json"

// StarterOptions fill in a starter mapping.
type StarterOptions struct {
	Name       string // the pipeline (metadata.name)
	Project    string // the GCP project of the registry and the subscription
	Service    string // the one service's name
	Image      string // its repository path, without tag
	Deployment string // the Deployment it restarts; defaults to Service
	Namespace  string // the Deployment's namespace
}

var starter = template.Must(template.New("starter").Funcs(template.FuncMap{"q": strconv.Quote}).Parse(templates.StarterMapping))

// Starter writes a commented starter mapping with one service. It is an
// error if the result would not load.
func Starter(opts StarterOptions) ([]byte, error) {
	if opts.Deployment == "" {
		opts.Deployment = opts.Service
	}
	var buf bytes.Buffer
	data := struct {
		StarterOptions
		SchemaURL string
	}{opts, SchemaURL}
	if err := starter.Execute(&buf, data); err != nil {
		return nil, err
	}
	if _, err := Parse("starter mapping", buf.Bytes()); err != nil {
		return nil, fmt.Errorf("the flags do not make a valid mapping:\n%w", err)
	}
	return buf.Bytes(), nil
}
