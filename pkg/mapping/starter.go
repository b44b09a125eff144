package mapping

import (
	"bytes"
	"fmt"
	"strconv"
	"text/template"
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

var starter = template.Must(template.New("starter").Funcs(template.FuncMap{"q": strconv.Quote}).Parse(
	`# yaml-language-server: $schema=` + SchemaURL + `
#
# A service mapping: which pushed image restarts which Deployment.
#   argodeploy generate -f mapping.yaml | kubectl apply -f -
# Every field and its default: argodeploy schema, or the README.
apiVersion: argodeploy.dev/v1alpha1
kind: ServiceMapping
metadata:
  name: {{q .Name}}
spec:
  # Where the generated pipeline runs (default argo-events).
  # namespace: argo-events
  gcp:
    # The project of the Pub/Sub subscription; Artifact Registry publishes
    # every push to the topic "gcr" in the registry's project.
    project: {{q .Project}}
    # Prefer Workload Identity to a key:
    # serviceAccount: argodeploy@{{.Project}}.iam.gserviceaccount.com
  services:
    - name: {{q .Service}}
      # The repository, without tag or digest.
      image: {{q .Image}}
      deployment: {{q .Deployment}}
      namespace: {{q .Namespace}}
      # Which tags deploy (a regular expression, anchored); default any tag.
      # tagPattern: 'v[0-9]+\.[0-9]+\.[0-9]+'
      # restart (default) rolls the pods; set-image pins the pushed digest.
      # strategy: restart
`))

// Starter writes a commented starter mapping with one service. It is an
// error if the result would not load.
func Starter(opts StarterOptions) ([]byte, error) {
	if opts.Deployment == "" {
		opts.Deployment = opts.Service
	}
	var buf bytes.Buffer
	if err := starter.Execute(&buf, opts); err != nil {
		return nil, err
	}
	if _, err := Parse("starter mapping", buf.Bytes()); err != nil {
		return nil, fmt.Errorf("the flags do not make a valid mapping:\n%w", err)
	}
	return buf.Bytes(), nil
}
