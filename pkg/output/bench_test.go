package output_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/argodeploy/argodeploy/pkg/output"
	"github.com/argodeploy/argodeploy/pkg/render"
	"github.com/argodeploy/argodeploy/pkg/testcorpus/synthetic"
)

// BenchmarkYAML: rendered objects → the YAML stream generate prints.
func BenchmarkYAML(b *testing.B) {
	for _, n := range synthetic.Sizes {
		rendered, err := synthetic.Objects(n)
		if err != nil {
			b.Fatal(err)
		}
		objs := render.Convert[output.Object](rendered)
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var buf bytes.Buffer
			for b.Loop() {
				buf.Reset()
				if err := output.YAML(&buf, objs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(buf.Len()), "bytes")
		})
	}
}
