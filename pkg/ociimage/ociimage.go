// Package ociimage builds container images from files, without a Docker
// daemon: one layer of the given files on an empty base, a config with the
// entrypoint and user, written as a tarball that docker load, ctr images
// import and crane push read. The release image is argodeploy's static
// binary alone; the end-to-end tests build their node's images the same way.
package ociimage

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// File is one file of the image: Path inside the image (absolute), its
// content from Source (a host file) or Data, and its mode. UID and GID
// default to 0. A Link makes it a symbolic link to that target instead.
type File struct {
	Path   string
	Source string
	Data   []byte
	Mode   int64
	UID    int
	GID    int
	Link   string
}

// Config is the image configuration.
type Config struct {
	Entrypoint []string
	Cmd        []string
	Env        []string
	User       string // e.g. "65534:65534"
	WorkingDir string
	Arch       string // GOARCH; default amd64
	Created    time.Time
}

// Build returns the image of files on an empty base. It is deterministic:
// files are written in path order with Created (default the zero time) as
// their time, and the parent directories are added.
func Build(files []File, cfg Config) (v1.Image, error) {
	layer, err := layerOf(files, cfg.Created)
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS = "linux"
	cf.Architecture = cfg.Arch
	if cf.Architecture == "" {
		cf.Architecture = "amd64"
	}
	cf.Created = v1.Time{Time: cfg.Created}
	cf.Config.Entrypoint = cfg.Entrypoint
	cf.Config.Cmd = cfg.Cmd
	cf.Config.Env = cfg.Env
	cf.Config.User = cfg.User
	cf.Config.WorkingDir = cfg.WorkingDir
	return mutate.ConfigFile(img, cf)
}

// WriteTarball writes img, tagged ref, as a docker-archive tarball at path.
func WriteTarball(path, ref string, img v1.Image) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return fmt.Errorf("ociimage: %w", err)
	}
	return tarball.WriteToFile(path, tag, img)
}

// layerOf is one uncompressed tar layer of files and their parent
// directories (mode 0755, owned by root), in path order.
func layerOf(files []File, created time.Time) (v1.Layer, error) {
	var headers []*tar.Header
	content := map[string][]byte{}
	dirs := map[string]bool{}
	for _, f := range files {
		if !path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path || f.Path == "/" {
			return nil, fmt.Errorf("ociimage: %q is not a clean absolute file path", f.Path)
		}
		rel := strings.TrimPrefix(f.Path, "/")
		for dir := path.Dir(rel); dir != "." && !dirs[dir]; dir = path.Dir(dir) {
			dirs[dir] = true
			headers = append(headers, &tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o755, ModTime: created, Format: tar.FormatPAX})
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: rel, Mode: f.Mode, Uid: f.UID, Gid: f.GID, ModTime: created, Format: tar.FormatPAX}
		switch {
		case f.Link != "":
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, f.Link
		case f.Source != "":
			data, err := os.ReadFile(f.Source)
			if err != nil {
				return nil, fmt.Errorf("ociimage: %w", err)
			}
			content[rel], hdr.Size = data, int64(len(data))
		default:
			content[rel], hdr.Size = f.Data, int64(len(f.Data))
		}
		if hdr.Mode == 0 {
			hdr.Mode = map[byte]int64{tar.TypeReg: 0o644, tar.TypeSymlink: 0o777}[hdr.Typeflag]
		}
		headers = append(headers, hdr)
	}
	slices.SortStableFunc(headers, func(a, b *tar.Header) int { return strings.Compare(a.Name, b.Name) })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i, hdr := range headers {
		if i > 0 && headers[i-1].Name == hdr.Name {
			return nil, fmt.Errorf("ociimage: /%s given twice", hdr.Name)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(content[hdr.Name]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
}
