package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestClusterUnreachable: each command that reads or writes the cluster,
// given a kubeconfig whose API server does not answer, exits 1 (as each
// documents) with an error that names what it was reading and the
// server's address; only status writes on stdout (what it could read, here
// nothing, then what it could not).
func TestClusterUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, fmt.Appendf(nil, `apiVersion: v1
kind: Config
clusters:
- name: gone
  cluster:
    server: https://%s
contexts:
- name: gone
  context: {cluster: gone, user: u}
current-context: gone
users:
- name: u
  user: {token: x}
`, addr), 0o600); err != nil {
		t.Fatal(err)
	}
	const m = "examples/staged-release.yaml"
	for _, c := range []struct {
		args []string
		what string // the start of the error
	}{
		{[]string{"status", "-f", m}, "web-staging: could not read staging/web:web"},
		{[]string{"history", "web-prod", "-f", m}, "Error: listing the Workflows of web in argo-events"},
		{[]string{"approve", "web-prod", "-f", m}, "Error: listing the Workflows of web in argo-events"},
		{[]string{"reject", "web-prod", "-f", m}, "Error: listing the Workflows of web in argo-events"},
		{[]string{"rollback", "web-prod", "--previous", "-f", m}, "Error: reading target web-prod (cluster local)"},
		{[]string{"replay", "web-dead-letter-x7k2p", "-f", m}, "Error: reading dead letter argo-events/web-dead-letter-x7k2p"},
	} {
		t.Run(c.args[0], func(t *testing.T) {
			stdout, stderr, code := run(t, "", append(c.args, "--kubeconfig", kubeconfig)...)
			if c.args[0] == "status" {
				// status shows what it read and, below, what it could not.
				stderr = stdout + stderr
			}
			if code != exitFailure || !strings.Contains(stderr, c.what) || !strings.Contains(stderr, addr) || !strings.Contains(stderr, "connection refused") {
				t.Errorf("exit %d, want %d; stderr, want %q and the server %s:\n%s", code, exitFailure, c.what, addr, stderr)
			}
			if c.args[0] != "status" && stdout != "" {
				t.Errorf("stdout: %q", stdout)
			}
		})
	}
}
