//go:build release

package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"maps"
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
	want := []string{base + ".image.tar", base + ".tar.gz"}
	for _, p := range []string{"darwin_amd64", "darwin_arm64", "linux_arm64"} {
		want = append(want, strings.Replace(base, "linux_amd64", p, 1)+".tar.gz")
	}
	want = append(want, strings.Replace(base, "linux_amd64", "linux_arm64", 1)+".image.tar")
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
	entries := map[string][]byte{}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		entries[hdr.Name], _ = io.ReadAll(tr)
	}
	if names := slices.Sorted(maps.Keys(entries)); !slices.Equal(names, []string{"LICENSE", "README.md", "argodeploy"}) {
		t.Errorf("archive holds %v", names)
	}
	version := strings.TrimPrefix(base, "argodeploy_")
	version = "v" + strings.TrimSuffix(version, "_linux_amd64")
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
	var regular []string
	var binary []byte
	tr = tar.NewReader(mutate.Extract(img))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag != tar.TypeDir {
			regular = append(regular, hdr.Name)
			binary, _ = io.ReadAll(tr)
		}
	}
	if !slices.Equal(regular, []string{"usr/local/bin/argodeploy"}) || !bytes.Equal(binary, entries["argodeploy"]) {
		t.Errorf("image files %v; binary equal to the archive's: %v", regular, bytes.Equal(binary, entries["argodeploy"]))
	}
	checkVersion(t, "image", binary, version, strings.TrimSpace(string(commit)))
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
	if v.Version != version || v.Commit != commit || v.Date == "" {
		t.Errorf("%s: version %+v, want %s at %s", what, v, version, commit)
	}
}
