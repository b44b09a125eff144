package check

import (
	"strings"
	"testing"
)

func TestUnpinned(t *testing.T) {
	for image, want := range map[string]string{
		"ghcr.io/argodeploy/argodeploy:v0.2.0":                               "",
		"ghcr.io/argodeploy/argodeploy@sha256:" + strings.Repeat("a", 64):    "",
		"ghcr.io/argodeploy/argodeploy:v1@sha256:" + strings.Repeat("a", 64): "",
		"localhost:5000/argodeploy:1":                                        "",
		"alpine:3.20":                                                        "",
		"ghcr.io/argodeploy/argodeploy:latest":                               "runs whatever latest is",
		"ghcr.io/argodeploy/argodeploy":                                      "has no tag or digest",
		"localhost:5000/argodeploy":                                          "has no tag or digest",
		"alpine":                                                             "has no tag or digest",
		"{{inputs.parameters.image}}":                                        "is a parameter",
		"Ghcr.io/UPPER:1":                                                    "not an image reference",
	} {
		got := unpinned(image)
		if want == "" && got != "" || !strings.Contains(got, want) {
			t.Errorf("%s: got %q, want %q", image, got, want)
		}
	}
}
