package main

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/argodeploy/argodeploy/pkg/check"
	"github.com/argodeploy/argodeploy/pkg/manifest"
	"github.com/argodeploy/argodeploy/pkg/output"
	"github.com/argodeploy/argodeploy/pkg/render"
	"github.com/argodeploy/argodeploy/pkg/testcorpus/synthetic"
)

// BenchmarkValidate: the manifests generate writes for n services → the
// report validate prints (parsing, every layer, placing each finding).
func BenchmarkValidate(b *testing.B) {
	for _, n := range synthetic.Sizes {
		rendered, err := synthetic.Objects(n)
		if err != nil {
			b.Fatal(err)
		}
		var manifests bytes.Buffer
		if err := output.YAML(&manifests, render.Convert[output.Object](rendered)); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(manifests.Len()))
			for b.Loop() {
				docs, err := manifest.Parse("bench.yaml", manifests.Bytes())
				if err != nil {
					b.Fatal(err)
				}
				if rep := validateDocs(context.Background(), docs, check.Options{External: true}); rep.Invalid != 0 {
					b.Fatalf("%d invalid: %v", rep.Invalid, rep.Problems[0])
				}
			}
		})
	}
}
