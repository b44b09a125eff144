package main

import (
	"strings"
	"testing"
)

// TestUsageErrors: every usage error of every command exits 2 with one
// "Error:" line (suggestions after it), and writes nothing on stdout:
// unknown commands, extra positional arguments, unknown flags and bad flag
// values.
func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"nosuch"}, `Error: unknown command "nosuch" for "argodeploy"`},
		{[]string{"generat"}, "Did you mean this?\n\tgenerate"},
		{[]string{"--bogus"}, "Error: unknown flag: --bogus"},
		{[]string{"generate", "-o", "xml", "-f", "examples/single-service.yaml"}, "Error: --output must be yaml or json"},
		{[]string{"generate", "--max-object-bytes", "many"}, `invalid argument "many"`},
	}
	// Every command that takes no positional argument refuses one.
	for _, cmd := range newRootCommand(streams{}).Commands() {
		if cmd.Args != nil && cmd.Args(cmd, nil) == nil && cmd.Args(cmd, []string{"extra"}) != nil {
			tests = append(tests, struct {
				args []string
				want string
			}{[]string{cmd.Name(), "extra"}, `Error: unknown command "extra" for "argodeploy ` + cmd.Name() + `"`})
		}
	}
	if len(tests) < 10 {
		t.Fatalf("only %d cases: the commands' Args checks were not found", len(tests))
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			stdout, stderr, code := run(t, "", tt.args...)
			if code != exitUsage || !strings.Contains(stderr, tt.want) || stdout != "" || strings.Count(stderr, "Error:") != 1 {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, stdout, stderr, tt.want)
			}
		})
	}
}

// TestVersionFlag: --version prints the version line of `version`, and
// argodeploy alone prints its help and exits 0.
func TestVersionFlag(t *testing.T) {
	stdout, _, code := run(t, "", "--version")
	long, _, _ := run(t, "", "version")
	if code != 0 || !strings.HasPrefix(stdout, "argodeploy ") || strings.Count(stdout, "\n") != 1 || !strings.HasPrefix(long, stdout) {
		t.Errorf("--version: exit %d, %q; version prints %q", code, stdout, long)
	}
	stdout, stderr, code := run(t, "")
	if code != 0 || !strings.Contains(stdout, "Available Commands:") || stderr != "" {
		t.Errorf("argodeploy alone: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// TestVersionStamp: a release build's stamps win over the build
// information, and short puts them on one line.
func TestVersionStamp(t *testing.T) {
	defer func(v, c, d string) { version, commit, date = v, c, d }(version, commit, date)
	version, commit, date = "v0.3.0", "0123456789ab", "2026-12-04T00:00:00Z"
	info := buildVersion()
	if got, want := info.short(), "v0.3.0 (commit 0123456789ab, built 2026-12-04T00:00:00Z)"; got != want {
		t.Errorf("short() = %q, want %q", got, want)
	}
	if info.Targets["argo-events"] == "" {
		t.Errorf("targets %v", info.Targets)
	}
}

// TestCompletion: -o completes to its command's formats, and file flags
// to YAML and JSON files.
func TestCompletion(t *testing.T) {
	for cmd, want := range outputFormats {
		stdout, _, code := run(t, "", "__complete", cmd, "-o", "")
		got := strings.Split(strings.TrimSpace(stdout), "\n")
		if code != 0 || len(got) != len(want)+1 || strings.Join(got[:len(want)], ",") != strings.Join(want, ",") || got[len(want)] != ":4" {
			t.Errorf("%s -o: exit %d, %q; want %v and no file completion", cmd, code, stdout, want)
		}
		// Each listed format is one the command takes.
		for _, f := range want {
			args := []string{cmd, "-o", f}
			switch cmd {
			case "generate":
				args = append(args, "-f", "examples/single-service.yaml")
			case "graph", "simulate":
				args = append(args, "-f", "examples/single-service.yaml")
				if cmd == "simulate" {
					args = append(args, "--message", `{"action":"INSERT","digest":"us-east1-docker.pkg.dev/my-project/apps/web@sha256:`+strings.Repeat("a", 64)+`","tag":"us-east1-docker.pkg.dev/my-project/apps/web:1.0"}`)
				}
			case "validate":
				args = append(args, "examples/single-service.yaml")
			}
			if _, stderr, code := run(t, "", args...); code == exitUsage {
				t.Errorf("%v: %s", args, stderr)
			}
		}
	}
	stdout, _, _ := run(t, "", "__complete", "generate", "-f", "")
	if !strings.Contains(stdout, "yaml\nyml\njson\n:8") {
		t.Errorf("generate -f completes %q, want YAML and JSON files", stdout)
	}
}

// TestGenerateYml: -o yml is -o yaml, as kubectl takes it.
func TestGenerateYml(t *testing.T) {
	yml, _, code1 := run(t, "", "generate", "-o", "yml", "-f", "examples/single-service.yaml")
	yaml, _, code2 := run(t, "", "generate", "-f", "examples/single-service.yaml")
	if code1 != 0 || code2 != 0 || yml != yaml {
		t.Errorf("-o yml: exit %d, differs from -o yaml (exit %d): %v", code1, code2, yml != yaml)
	}
}
