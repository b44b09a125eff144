package main

import (
	"encoding/json"
	"github.com/argodeploy/argodeploy/pkg/mapping"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/argodeploy/argodeploy/schemas"
)

func TestInit(t *testing.T) {
	file := filepath.Join(t.TempDir(), "mapping.yaml")
	flags := []string{"init", "--project", "acme-shop-prod", "--image", "us-east1-docker.pkg.dev/acme-shop-prod/containers/web", "--namespace", "shop", "-f", file}
	if _, stderr, code := run(t, "", flags...); code != 0 {
		t.Fatalf("init: exit %d: %s", code, stderr)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "# yaml-language-server: $schema=https://") {
		t.Errorf("no schema modeline:\n%s", data)
	}
	// What init writes generates a pipeline that validates clean.
	manifests, stderr, code := run(t, "", "generate", "-f", file)
	if code != 0 {
		t.Fatalf("generate: exit %d: %s", code, stderr)
	}
	if out, _, code := run(t, manifests, "validate", "-"); code != 0 || !strings.Contains(out, "invalid 0") {
		t.Fatalf("validate: exit %d\n%s", code, out)
	}

	// It never replaces a file without --force.
	if err := os.WriteFile(file, []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := run(t, "", flags...); code != exitFailure || !strings.Contains(stderr, "use --force") {
		t.Fatalf("existing file: exit %d, stderr %q", code, stderr)
	}
	if data, _ := os.ReadFile(file); string(data) != "mine\n" {
		t.Fatalf("existing file changed: %q", data)
	}
	if _, _, code := run(t, "", append(flags, "--force")...); code != 0 {
		t.Fatalf("--force: exit %d", code)
	}

	// Bad values are reported against the flag that gave them, once each
	// (a usage error), and nothing is written.
	other := filepath.Join(filepath.Dir(file), "other.yaml")
	stdout, stderr, code := run(t, "", "init", "--project", "x", "--image", "nope", "--namespace", "Shop", "-f", other)
	want := "Error: the options do not make a valid mapping:\n" +
		"--project: \"x\" is not a GCP project ID: 6 to 30 lowercase letters, digits or '-', starting with a letter and not ending with '-'\n" +
		"--image: \"nope\" has no registry host: give the full path, e.g. us-east1-docker.pkg.dev/my-project/my-repo/app\n" +
		"--namespace: \"Shop\" is not a valid name: use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit\n"
	if code != exitUsage || stderr != want || stdout != "" {
		t.Fatalf("bad flags: exit %d, stderr\n%s\nwant\n%s", code, stderr, want)
	}
	if _, err := os.Stat(other); !os.IsNotExist(err) {
		t.Fatalf("bad flags wrote %s", other)
	}
	// A tag on --image is one error about the flag, not one per name drawn
	// from it.
	_, stderr, code = run(t, "", "init", "--project", "my-project-1", "--image", "us-east1-docker.pkg.dev/my-project-1/apps/web:1.0", "--namespace", "shop", "-f", other)
	if code != exitUsage || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "Error: --image us-east1-docker.pkg.dev/my-project-1/apps/web:1.0: give the repository without its tag") {
		t.Fatalf("--image with a tag: exit %d, stderr %q", code, stderr)
	}
	// The file's directory is created.
	nested := filepath.Join(filepath.Dir(file), "sub", "dir", "m.yaml")
	if _, stderr, code := run(t, "", "init", "--project", "my-project-1", "--image", "us-east1-docker.pkg.dev/my-project-1/apps/web", "--namespace", "shop", "-f", nested); code != 0 {
		t.Fatalf("-f sub/dir/m.yaml: exit %d, %s", code, stderr)
	}
	if _, err := mappingLoad(nested); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := run(t, "", "init", "--image", "us-east1-docker.pkg.dev/p/r/web"); code != exitUsage || !strings.Contains(stderr, "is required") {
		t.Fatalf("missing flags: exit %d, stderr %q", code, stderr)
	}
	stdout, _, code = run(t, "", "init", "--project", "acme-shop-prod", "--image", "us-east1-docker.pkg.dev/acme-shop-prod/containers/web", "--namespace", "shop", "--deployment", "frontend", "-f", "-")
	if code != 0 || !strings.Contains(stdout, `deployment: "frontend"`) || !strings.Contains(stdout, `name: "web"`) {
		t.Fatalf("-f -: exit %d\n%s", code, stdout)
	}
}

func TestVersionAndSchema(t *testing.T) {
	stdout, _, code := run(t, "", "version", "-o", "json")
	var info versionInfo
	if code != 0 || json.Unmarshal([]byte(stdout), &info) != nil {
		t.Fatalf("version -o json: exit %d\n%s", code, stdout)
	}
	goMod, err := os.ReadFile(repoPath("go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range targets {
		if v := info.Targets[target.name]; v == "" || !strings.Contains(string(goMod), target.module+" "+v+"\n") {
			t.Errorf("%s %q is not the version go.mod requires", target.name, v)
		}
	}
	if text, _, code := run(t, "", "version"); code != 0 || !strings.Contains(text, "argo-events "+info.Targets["argo-events"]) {
		t.Errorf("version: exit %d\n%s", code, text)
	}

	stdout, _, code = run(t, "", "schema")
	if code != 0 || stdout != string(schemas.ServiceMapping) || !json.Valid([]byte(stdout)) {
		t.Errorf("schema: exit %d, %d bytes", code, len(stdout))
	}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		if out, _, code := run(t, "", "completion", shell); code != 0 || !strings.Contains(out, "argodeploy") {
			t.Errorf("completion %s: exit %d", shell, code)
		}
	}
}

func mappingLoad(path string) (*mapping.ServiceMapping, error) { return mapping.Load(path) }
