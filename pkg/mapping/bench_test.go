package mapping_test

import (
	"fmt"
	"testing"

	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/testcorpus/synthetic"
)

// BenchmarkParse: a mapping file → a defaulted mapping.
func BenchmarkParse(b *testing.B) {
	for _, n := range synthetic.Sizes {
		data := synthetic.YAML(n)
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := mapping.Parse("bench.yaml", data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
