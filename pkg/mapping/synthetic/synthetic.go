// Package synthetic writes service mappings of any size, for benchmarks
// and scale tests: n services over ten namespaces, every tenth in another
// cluster, each with a tag pattern and a metadata entry, so that objects
// are as large as real ones.
package synthetic

import (
	"fmt"
	"strings"

	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/render"
)

// Image is the image of service i.
func Image(i int) string { return fmt.Sprintf("us-docker.pkg.dev/acme-fleet/services/svc-%05d", i) }

// YAML is a mapping file with n services.
func YAML(n int) []byte {
	var b strings.Builder
	b.WriteString(`apiVersion: argodeploy.dev/v1alpha1
kind: ServiceMapping
metadata:
  name: fleet
spec:
  gcp:
    project: acme-fleet
  services:
`)
	for i := range n {
		fmt.Fprintf(&b, `    - name: svc-%05d
      image: %s
      tagPattern: 'v[0-9]+\.[0-9]+\.[0-9]+'
      namespace: team-%d
      metadata:
        notify: '#team-%d'
`, i, Image(i), i%10, i%10)
		if i%10 == 9 {
			b.WriteString("      cluster:\n        name: eu\n        kubeconfigSecret:\n          name: kubeconfig-eu\n          key: config\n")
		}
	}
	return []byte(b.String())
}

// Mapping is YAML(n) loaded, with defaults applied.
func Mapping(n int) (*mapping.ServiceMapping, error) {
	return mapping.Parse(fmt.Sprintf("synthetic-%d.yaml", n), YAML(n))
}

// Objects are the rendered objects of Mapping(n), as generate writes them.
func Objects(n int) ([]render.Object, error) {
	m, err := Mapping(n)
	if err != nil {
		return nil, err
	}
	return render.Render(m, render.Options{})
}

// Push is the Artifact Registry message of a release of service i.
func Push(i int, tag string) string {
	return fmt.Sprintf(`{"action":"INSERT","digest":"%s@sha256:%s","tag":"%s:%s"}`, Image(i), strings.Repeat("ab", 32), Image(i), tag)
}

// Sizes are the numbers of services the benchmarks run at.
var Sizes = []int{1, 10, 100, 1000, 10000}
