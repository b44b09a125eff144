package output

import (
	"encoding/json"
	"testing"

	"github.com/argodeploy/argodeploy/pkg/render"
	"github.com/argodeploy/argodeploy/pkg/testcorpus/synthetic"
)

// BenchmarkJSONTree: decoding the JSON of the objects of 1,000 services,
// by jsonTree and by encoding/json.
func BenchmarkJSONTree(b *testing.B) {
	objs, err := synthetic.Objects(1000)
	if err != nil {
		b.Fatal(err)
	}
	var docs [][]byte
	size := 0
	for _, obj := range render.Convert[Object](objs) {
		data, err := json.Marshal(obj)
		if err != nil {
			b.Fatal(err)
		}
		docs = append(docs, data)
		size += len(data)
	}
	b.Run("jsonTree", func(b *testing.B) {
		b.SetBytes(int64(size))
		b.ReportAllocs()
		for b.Loop() {
			for _, d := range docs {
				if _, err := jsonTree(d); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(size))
		b.ReportAllocs()
		for b.Loop() {
			for _, d := range docs {
				if _, err := decodeReference(d); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
