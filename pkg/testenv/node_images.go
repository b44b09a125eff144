package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/argodeploy/argodeploy/pkg/ociimage"
)

// The node pulls nothing: every image its pods run is built here from local
// files with pkg/ociimage and imported under the reference the pods name.

// busyboxPath is Debian busybox-static's binary.
const busyboxPath = "/bin/busybox"

// ImportBuilt writes img as a tarball tagged ref and imports it.
func (n *Node) ImportBuilt(ctx context.Context, ref string, img v1.Image) error {
	dir, err := os.MkdirTemp(n.Dir, "image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	tar := filepath.Join(dir, "image.tar")
	if err := ociimage.WriteTarball(tar, ref, img); err != nil {
		return err
	}
	return n.ImportImage(ctx, tar)
}

// importPause imports PauseImage: the pause program alone, run as
// 65535:65535 as upstream's image is.
func (n *Node) importPause(ctx context.Context, pause string) error {
	img, err := ociimage.Build([]ociimage.File{{Path: "/pause", Source: pause, Mode: 0o755}},
		ociimage.Config{Entrypoint: []string{"/pause"}, User: "65535:65535"})
	if err != nil {
		return err
	}
	return n.ImportBuilt(ctx, PauseImage, img)
}

// BusyboxImage is an image of the static busybox, with a link in /bin for
// each of its programs (sh, id, cat, sleep, wget...) and PATH set, run as
// user (e.g. "65534:65534", or "" for root).
func BusyboxImage(user string) (v1.Image, error) {
	if _, err := os.Stat(busyboxPath); err != nil {
		return nil, fmt.Errorf("%s missing (Debian busybox-static): %s", busyboxPath, installHint)
	}
	out, err := exec.Command(busyboxPath, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("busybox --list: %w", err)
	}
	files := []ociimage.File{{Path: "/bin/busybox", Source: busyboxPath, Mode: 0o755}}
	for _, name := range strings.Fields(string(out)) {
		if name != "busybox" && !strings.Contains(name, "/") {
			files = append(files, ociimage.File{Path: "/bin/" + name, Link: "busybox"})
		}
	}
	return ociimage.Build(files, ociimage.Config{
		Entrypoint: []string{"/bin/sh"},
		Env:        []string{"PATH=/bin"},
		User:       user,
		WorkingDir: "/",
	})
}

// argodeployStatic builds cmd/argodeploy once per test binary, static
// (CGO_ENABLED=0), for an image with nothing else in it.
var argodeployStatic = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "argodeploy-static-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "argodeploy")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "github.com/argodeploy/argodeploy/cmd/argodeploy")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/argodeploy: %v\n%s", err, out)
	}
	return bin, nil
})

// ArgodeployImage is argodeploy's image as make release builds it: the
// static binary alone at /usr/local/bin/argodeploy on an empty base, run
// as 65534:65534, built from this checkout.
func ArgodeployImage() (v1.Image, error) {
	bin, err := argodeployStatic()
	if err != nil {
		return nil, err
	}
	return ociimage.Build([]ociimage.File{{Path: "/usr/local/bin/argodeploy", Source: bin, Mode: 0o755}},
		ociimage.Config{
			Entrypoint: []string{"/usr/local/bin/argodeploy"},
			User:       "65534:65534",
			Env:        []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp"},
			WorkingDir: "/",
		})
}

// ArgoEventsImageBuilt is Argo Events' image as its Dockerfile lays it
// out: the static argo-events program at /bin/argo-events as entrypoint on
// an empty base (upstream adds CA certificates, zoneinfo and the argo CLI,
// which nothing here uses).
func ArgoEventsImageBuilt() (v1.Image, error) {
	bin, err := Binary("argo-events-static-" + ArgoEventsVersion)
	if err != nil {
		return nil, err
	}
	return ociimage.Build([]ociimage.File{{Path: "/bin/argo-events", Source: bin, Mode: 0o755}},
		ociimage.Config{Entrypoint: []string{"/bin/argo-events"}, WorkingDir: "/"})
}

// NATSImageBuilt is the nats image as the controller's 2.10.29 JetStream
// version uses it (startCommand /nats-server): the static nats-server at
// /nats-server.
func NATSImageBuilt() (v1.Image, error) {
	bin, err := Binary("nats-server-static-" + NATSServerVersion)
	if err != nil {
		return nil, err
	}
	return ociimage.Build([]ociimage.File{{Path: "/nats-server", Source: bin, Mode: 0o755}},
		ociimage.Config{Entrypoint: []string{"/nats-server"}, WorkingDir: "/"})
}

// CrashingImage is an image whose /bin/sh, the program a pod of
// runningDeployment's command runs, exits non-zero at once: it is the
// static argodeploy binary, which refuses sh's -c with exit code 2.
func CrashingImage() (v1.Image, error) {
	bin, err := argodeployStatic()
	if err != nil {
		return nil, err
	}
	return ociimage.Build([]ociimage.File{{Path: "/bin/sh", Source: bin, Mode: 0o755}},
		ociimage.Config{Entrypoint: []string{"/bin/sh"}, User: "65534:65534", Env: []string{"PATH=/bin"}, WorkingDir: "/"})
}

// StandInImage is what the node runs under NATSReloaderImage and
// NATSExporterImage, the JetStream StatefulSet's sidecars: their modules
// (github.com/nats-io/nack, github.com/nats-io/prometheus-nats-exporter)
// are refused by the module proxy here (403), so nothing builds them. It
// is busybox as user 65534, whose entrypoint ignores the sidecar's
// arguments and waits until it is stopped: the pod's containers start and
// end as the kubelet runs them, but no configuration is reloaded and no
// metric exported (nothing of the pipeline reads either).
func StandInImage() (v1.Image, error) {
	base, err := BusyboxImage("65534:65534")
	if err != nil {
		return nil, err
	}
	return WithConfig(base, func(c *v1.Config) {
		c.Entrypoint = []string{"/bin/sh", "-c", `trap "exit 0" TERM; sleep 2147483647 & wait`, "stand-in"}
	})
}

// WithConfig is img with its configuration (entrypoint, environment...)
// changed by edit.
func WithConfig(img v1.Image, edit func(*v1.Config)) (v1.Image, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg := cf.Config.DeepCopy()
	edit(cfg)
	return mutate.Config(img, *cfg)
}
