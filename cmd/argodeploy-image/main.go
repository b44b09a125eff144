// Command argodeploy-image writes argodeploy's container image as a tarball,
// without a Docker daemon: the static binary alone on an empty base, run as
// user 65534, for make release (.ci/release).
//
//	argodeploy-image -binary dist/argodeploy -arch amd64 \
//	  -tag ghcr.io/argodeploy/argodeploy:v0.2.0 -created 2026-01-02T03:04:05Z -o image.tar
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/argodeploy/argodeploy/pkg/ociimage"
)

// User is the image's user, the one the generated pods run as.
const User = "65534:65534"

func main() {
	binary := flag.String("binary", "", "the static argodeploy binary (required)")
	arch := flag.String("arch", "amd64", "its GOARCH")
	tag := flag.String("tag", "", "the image reference to tag, e.g. ghcr.io/argodeploy/argodeploy:v0.2.0 (required)")
	created := flag.String("created", "", "creation time, RFC 3339 (default: the zero time, for reproducible images)")
	out := flag.String("o", "", "output tarball (required)")
	flag.Parse()
	if *binary == "" || *tag == "" || *out == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*binary, *arch, *tag, *created, *out); err != nil {
		fmt.Fprintln(os.Stderr, "argodeploy-image:", err)
		os.Exit(1)
	}
}

func run(binary, arch, tag, created, out string) error {
	var when time.Time
	if created != "" {
		var err error
		if when, err = time.Parse(time.RFC3339, created); err != nil {
			return err
		}
	}
	img, err := ociimage.Build([]ociimage.File{
		{Path: "/usr/local/bin/argodeploy", Source: binary, Mode: 0o755},
	}, ociimage.Config{
		Entrypoint: []string{"/usr/local/bin/argodeploy"},
		User:       User,
		Env:        []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp"},
		WorkingDir: "/",
		Arch:       arch,
		Created:    when,
	})
	if err != nil {
		return err
	}
	return ociimage.WriteTarball(out, tag, img)
}
