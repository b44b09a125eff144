package mapping

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
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
		var list ErrorList
		if !errors.As(err, &list) {
			return nil, err
		}
		// Name the option each field came from, once per option: the
		// user never wrote the starter's lines.
		bad := &StarterError{}
		seen := map[string]bool{}
		for _, e := range list {
			opt, ok := starterFields[e.Field]
			switch {
			case !ok:
				bad.Problems = append(bad.Problems, StarterProblem{Message: e.Error()})
			case !seen[opt]:
				seen[opt] = true
				bad.Problems = append(bad.Problems, StarterProblem{Option: opt, Message: e.Message})
			}
		}
		return nil, bad
	}
	return buf.Bytes(), nil
}

// starterFields are the StarterOptions each field of the starter comes
// from, by their flag names in argodeploy init.
var starterFields = map[string]string{
	"metadata.name":                    "name",
	"spec.gcp.project":                 "project",
	"spec.services[0].name":            "service",
	"spec.services[0].image":           "image",
	"spec.services[0].deployment":      "deployment",
	"spec.services[0].namespace":       "namespace",
	"spec.services[0].targets[0].name": "service",
}

// StarterError says which options do not make a valid mapping.
type StarterError struct{ Problems []StarterProblem }

// StarterProblem is what is wrong with one option, named as argodeploy
// init's flag without its dashes; Option is "" when no option gave the
// field, and Message is then the whole error, at its line.
type StarterProblem struct{ Option, Message string }

func (e *StarterError) Error() string {
	return e.Format("")
}

// Format is the error with each option's name after prefix (init's "--").
func (e *StarterError) Format(prefix string) string {
	lines := []string{"the options do not make a valid mapping:"}
	for _, p := range e.Problems {
		if p.Option == "" {
			lines = append(lines, p.Message)
		} else {
			lines = append(lines, prefix+p.Option+": "+p.Message)
		}
	}
	return strings.Join(lines, "\n")
}
