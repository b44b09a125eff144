package ociimage

import (
	"archive/tar"
	"io"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func TestBuildWriteRead(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	files := []File{
		{Path: "/usr/bin/tool", Data: []byte("#!binary"), Mode: 0o755},
		{Path: "/etc/passwd", Data: []byte("nobody:x:65534:65534::/:/sbin/nologin\n")},
		{Path: "/bin/sh", Link: "/usr/bin/tool"},
	}
	cfg := Config{Entrypoint: []string{"/usr/bin/tool"}, Cmd: []string{"version"}, User: "65534:65534", Arch: "arm64", Created: created}
	img, err := Build(files, cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "img.tar")
	if err := WriteTarball(path, "example.com/tool:v1", img); err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag("example.com/tool:v1")
	back, err := tarball.ImageFromPath(path, &tag)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := back.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cf.Config.Entrypoint, cfg.Entrypoint) || !slices.Equal(cf.Config.Cmd, cfg.Cmd) || cf.Config.User != "65534:65534" ||
		cf.Architecture != "arm64" || cf.OS != "linux" || !cf.Created.Time.Equal(created) {
		t.Errorf("config %+v", cf)
	}

	type entry struct {
		name, link string
		mode       int64
		uid        int
		data       string
	}
	var got []entry
	tr := tar.NewReader(mutate.Extract(back))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		if !hdr.ModTime.Equal(created) {
			t.Errorf("%s: time %v", hdr.Name, hdr.ModTime)
		}
		got = append(got, entry{hdr.Name, hdr.Linkname, hdr.Mode, hdr.Uid, string(data)})
	}
	want := []entry{
		{"bin", "", 0o755, 0, ""},
		{"bin/sh", "/usr/bin/tool", 0o777, 0, ""},
		{"etc", "", 0o755, 0, ""},
		{"etc/passwd", "", 0o644, 0, "nobody:x:65534:65534::/:/sbin/nologin\n"},
		{"usr", "", 0o755, 0, ""},
		{"usr/bin", "", 0o755, 0, ""},
		{"usr/bin/tool", "", 0o755, 0, "#!binary"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("layer:\n got %v\nwant %v", got, want)
	}

	// The same files in another order give the same image.
	again, err := Build([]File{files[2], files[0], files[1]}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := img.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Errorf("not deterministic: %s vs %s", d1, d2)
	}
}

func TestBuildRefusesBadPaths(t *testing.T) {
	for _, files := range [][]File{
		{{Path: "relative"}},
		{{Path: "/a/../b"}},
		{{Path: "/"}},
		{{Path: "/x", Data: []byte("1")}, {Path: "/x", Data: []byte("2")}},
	} {
		if _, err := Build(files, Config{}); err == nil {
			t.Errorf("%+v: no error", files)
		}
	}
}
