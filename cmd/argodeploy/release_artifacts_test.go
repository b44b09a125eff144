//go:build release

package main

import (
	"archive/tar"
	"bytes"
	"cmp"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// TestReleaseArtifacts checks what make release wrote into dist/ (make
// release-check runs it): every file has its checksum, the linux/amd64
// archive's binary and the image's binary are the same and print the
// stamped version and this checkout's commit, and the image holds nothing
// but that binary, run as user 65534.
func TestReleaseArtifacts(t *testing.T) {
	dist := repoPath("dist")
	sums, err := os.ReadFile(filepath.Join(dist, "checksums.txt"))
	if err != nil {
		t.Fatalf("%v (run make release first)", err)
	}
	files := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		sum, file, ok := strings.Cut(line, "  ")
		data, err := os.ReadFile(filepath.Join(dist, file))
		got := sha256.Sum256(data)
		if !ok || err != nil || hex.EncodeToString(got[:]) != sum {
			t.Errorf("checksums.txt: %q: %v", line, err)
		}
		files[file] = true
	}
	archives, _ := filepath.Glob(filepath.Join(dist, "argodeploy_*_linux_amd64.tar.gz"))
	if len(archives) != 1 {
		t.Fatalf("linux/amd64 archives: %v", archives)
	}
	base := strings.TrimSuffix(filepath.Base(archives[0]), ".tar.gz")
	// An archive per platform make release built (PLATFORMS, as
	// .ci/release reads it), and an image per linux one.
	platforms := cmp.Or(os.Getenv("PLATFORMS"), "linux/amd64 linux/arm64 darwin/amd64 darwin/arm64")
	var want []string
	for _, p := range strings.Fields(platforms) {
		name := strings.Replace(base, "linux_amd64", strings.ReplaceAll(p, "/", "_"), 1)
		want = append(want, name+".tar.gz")
		if strings.HasPrefix(p, "linux/") {
			want = append(want, name+".image.tar")
		}
	}
	if len(files) != len(want) {
		t.Errorf("checksums.txt has %d files, want %d (%v)", len(files), len(want), want)
	}
	for _, f := range want {
		if !files[f] {
			t.Errorf("checksums.txt lacks %s", f)
		}
	}

	// The archive: argodeploy, LICENSE, README.md.
	gz, err := os.Open(archives[0])
	if err != nil {
		t.Fatal(err)
	}
	defer gz.Close()
	zr, err := gzip.NewReader(gz)
	if err != nil {
		t.Fatal(err)
	}
	names, entries := untar(t, zr)
	if !slices.Equal(names, []string{"argodeploy", "LICENSE", "README.md"}) {
		t.Errorf("archive holds %v", names)
	}
	// The archive names the version without its v.
	version := strings.TrimSuffix(strings.TrimPrefix(base, "argodeploy_"), "_linux_amd64")
	commit, err := exec.Command("git", "-C", repoPath("."), "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	checkVersion(t, "archive", entries["argodeploy"], version, strings.TrimSpace(string(commit)))

	// The image: the same binary, alone, as user 65534.
	img, err := tarball.ImageFromPath(filepath.Join(dist, base+".image.tar"), nil)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.User != "65534:65534" || !slices.Equal(cf.Config.Entrypoint, []string{"/usr/local/bin/argodeploy"}) || cf.Architecture != "amd64" {
		t.Errorf("image config: user %q entrypoint %v arch %s", cf.Config.User, cf.Config.Entrypoint, cf.Architecture)
	}
	regular, content := untar(t, mutate.Extract(img))
	binary := content["usr/local/bin/argodeploy"]
	if !slices.Equal(regular, []string{"usr/local/bin/argodeploy"}) || !bytes.Equal(binary, entries["argodeploy"]) {
		t.Errorf("image files %v; binary equal to the archive's: %v", regular, bytes.Equal(binary, entries["argodeploy"]))
	}
	checkVersion(t, "image", binary, version, strings.TrimSpace(string(commit)))
}

// untar reads a tar stream: the names of what is not a directory, in
// order, and their contents.
func untar(t *testing.T, r io.Reader) ([]string, map[string][]byte) {
	t.Helper()
	var names []string
	content := map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return names, content
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag != tar.TypeDir {
			names = append(names, hdr.Name)
			content[hdr.Name], _ = io.ReadAll(tr)
		}
	}
}

// checkVersion runs binary version -o json and checks the stamps.
func checkVersion(t *testing.T, what string, binary []byte, version, commit string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "argodeploy")
	if err := os.WriteFile(path, binary, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(path, "version", "-o", "json").Output()
	if err != nil {
		t.Fatalf("%s: argodeploy version: %v", what, err)
	}
	var v versionInfo
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatal(err)
	}
	if strings.TrimPrefix(v.Version, "v") != version || v.Commit != commit || v.Date == "" {
		t.Errorf("%s: version %+v, want %s at %s", what, v, version, commit)
	}
}
