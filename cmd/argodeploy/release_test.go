package main

import (
	"bytes"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"text/template"

	"github.com/argodeploy/argodeploy/pkg/mapping"
)

// goreleaser is the part of .goreleaser.yaml the release build must agree
// with.
type goreleaser struct {
	Version int
	Builds  []struct {
		Main    string
		Binary  string
		Env     []string
		Ldflags []string
		Goos    []string
		Goarch  []string
	}
	Archives []struct {
		Formats      []string
		NameTemplate string `yaml:"name_template"`
		Files        []string
	}
	Checksum struct {
		NameTemplate string `yaml:"name_template"`
	}
	Kos []struct {
		Repositories []string
		Tags         []string
		User         string
		Platforms    []string
	}
}

// TestReleaseConfig: .goreleaser.yaml (what a maintainer publishes with)
// and .ci/release (make release, offline) build the same platforms with the
// same stamps, under the same file names, and the image is the one the
// mapping's default workflow.image names, as the same non-root user; the
// README's install commands name those files.
func TestReleaseConfig(t *testing.T) {
	var g goreleaser
	parse(t, ".goreleaser.yaml", &g)
	script, err := os.ReadFile(repoPath(".ci/release"))
	if err != nil {
		t.Fatal(err)
	}
	sh := string(script)
	if g.Version != 2 || len(g.Builds) != 1 || len(g.Archives) != 1 || len(g.Kos) != 1 {
		t.Fatalf("want a GoReleaser v2 config with one build, archive and ko image: %+v", g)
	}
	b := g.Builds[0]
	if b.Main != "./cmd/argodeploy" || b.Binary != "argodeploy" || !slices.Contains(b.Env, "CGO_ENABLED=0") {
		t.Errorf("build: %+v", b)
	}
	var platforms []string
	for _, os := range b.Goos {
		for _, arch := range b.Goarch {
			platforms = append(platforms, os+"/"+arch)
		}
	}
	if want := `platforms=${PLATFORMS:-"` + strings.Join(platforms, " ") + `"}`; !strings.Contains(sh, want) {
		t.Errorf(".ci/release does not build the platforms of .goreleaser.yaml: want %s", want)
	}
	// The same variables are stamped, and they are the ones version reads.
	stamp := regexp.MustCompile(`-X (main\.\w+)=`)
	names := func(s string) (out []string) {
		for _, m := range stamp.FindAllStringSubmatch(s, -1) {
			out = append(out, m[1])
		}
		return out
	}
	want := []string{"main.version", "main.commit", "main.date"}
	if got := names(strings.Join(b.Ldflags, " ")); !slices.Equal(got, want) {
		t.Errorf(".goreleaser.yaml stamps %v, want %v", got, want)
	}
	if got := names(sh); !slices.Equal(got, want) {
		t.Errorf(".ci/release stamps %v, want %v", got, want)
	}
	version, commit, date = "v9.8.7", "abc123", "2026-01-02T03:04:05Z"
	t.Cleanup(func() { version, commit, date = "", "", "" })
	if v := buildVersion(); v.Version != "v9.8.7" || v.Commit != "abc123" || v.Date != "2026-01-02T03:04:05Z" {
		t.Errorf("stamped variables not shown by version: %+v", v)
	}

	// File names: goreleaser's templates rendered for 0.2.0 must be what the
	// script writes and what the README downloads.
	a := g.Archives[0]
	var name bytes.Buffer
	tmpl := template.Must(template.New("archive").Parse(a.NameTemplate))
	if err := tmpl.Execute(&name, map[string]string{"ProjectName": "argodeploy", "Version": "0.2.0", "Os": "linux", "Arch": "amd64"}); err != nil {
		t.Fatal(err)
	}
	archive := name.String() + "." + a.Formats[0]
	if archive != "argodeploy_0.2.0_linux_amd64.tar.gz" || !strings.Contains(sh, `name=argodeploy_${plain}_${os}_${arch}`) || !strings.Contains(sh, `"$dist/$name.tar.gz"`) {
		t.Errorf("archive %s is not named as .ci/release names it", archive)
	}
	for _, f := range a.Files {
		if !strings.Contains(sh, "cp LICENSE README.md") || !slices.Contains([]string{"LICENSE", "README.md"}, f) {
			t.Errorf("archive file %s is not packed by .ci/release", f)
		}
	}
	sums := g.Checksum.NameTemplate
	if !strings.Contains(sh, ">"+sums) {
		t.Errorf("checksums %s not written by .ci/release", sums)
	}
	readme, err := os.ReadFile(repoPath("README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{archive, sums} {
		if !bytes.Contains(readme, []byte("releases/download/v0.2.0/"+f)) {
			t.Errorf("README does not download %s", f)
		}
	}

	// The CI recipes install that archive, checked against the checksums.
	for _, recipe := range []string{"examples/ci/github-actions.yaml", "examples/ci/gitlab-ci.yaml"} {
		data, err := os.ReadFile(repoPath(recipe))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"releases/download/", "_linux_amd64.tar.gz", sums, "sha256sum -c"} {
			if !bytes.Contains(data, []byte(want)) {
				t.Errorf("%s does not install the release archive checked by its checksums: no %q", recipe, want)
			}
		}
		if bytes.Contains(data, []byte("go install")) {
			t.Errorf("%s compiles argodeploy (go install) instead of installing the release", recipe)
		}
	}

	// The image: the default workflow.image's repository, its tag, user
	// 65534 as the pods run.
	k := g.Kos[0]
	repo, tag, _ := strings.Cut(mapping.DefaultImage, ":")
	if !slices.Equal(k.Repositories, []string{repo}) || !slices.Equal(k.Tags, []string{"{{.Tag}}"}) || tag != "v0.2.0" {
		t.Errorf("ko image %v:%v, want %s", k.Repositories, k.Tags, mapping.DefaultImage)
	}
	if !strings.Contains(sh, `-tag "`+repo+`:$version"`) {
		t.Errorf(".ci/release does not tag the image %s:VERSION", repo)
	}
	if k.User != "65534:65534" || !slices.Equal(k.Platforms, []string{"linux/amd64", "linux/arm64"}) {
		t.Errorf("ko image user %q platforms %v", k.User, k.Platforms)
	}
}
