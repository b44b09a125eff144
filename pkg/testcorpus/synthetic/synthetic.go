// Package synthetic writes service mappings of any size, for benchmarks
// and scale tests: n services over ten namespaces, every tenth in another
// cluster, each with a tag pattern and a metadata entry, so that objects
// are as large as real ones.
package synthetic

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

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

// Release is the Artifact Registry notification of the k-th release in a
// fleet of n services: service k%n, with a tag (matching the services' tag
// pattern) and a digest that no other release has, as real pushes do.
func Release(k, n int) string { return release(Image(k%n), k) }

func release(image string, k int) string {
	digest := sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(k)))
	return fmt.Sprintf(`{"action":"INSERT","digest":"%s@sha256:%x","tag":"%s:v%d.%d.%d"}`,
		image, digest, image, k/1_000_000, k/1000%1000, k%1000)
}

// ReleaseMessage is Release(k, n) as a message pulled from the
// subscription (`gcloud pubsub subscriptions pull --format=json`): base64
// data, its own message ID, and a publish time k milliseconds into 2026.
func ReleaseMessage(k, n int) string { return message(Release(k, n), k) }

// UnmappedMessage is ReleaseMessage(k, n) for the same service's image in
// another project, which no service maps: nothing fires.
func UnmappedMessage(k, n int) string {
	return message(release(strings.Replace(Image(k%n), "acme-fleet", "acme-other", 1), k), k)
}

func message(data string, k int) string {
	published := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(k) * time.Millisecond)
	return fmt.Sprintf(`{"data":%q,"messageId":"%d","publishTime":%q}`,
		base64.StdEncoding.EncodeToString([]byte(data)), 1_000_000+k, published.Format(time.RFC3339Nano))
}

// Sizes are the numbers of services the benchmarks run at.
var Sizes = []int{1, 10, 100, 1000, 10000}
