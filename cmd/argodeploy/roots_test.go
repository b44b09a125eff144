package main

import (
	"crypto/x509"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestEveryCommandDecidesRoots: each command is offline or one that may
// connect, on purpose; a subcommand decides as its command does.
func TestEveryCommandDecidesRoots(t *testing.T) {
	connects := map[string]bool{"rollout": true, "route": true, "reconcile": true, "status": true,
		"history": true, "replay": true, "rollback": true, "approve": true, "reject": true}
	var walk func(cmd *cobra.Command, want bool)
	walk = func(cmd *cobra.Command, want bool) {
		if got := needsRoots(cmd); got != want {
			t.Errorf("%s: needsRoots %v, want %v", cmd.CommandPath(), got, want)
		}
		for _, sub := range cmd.Commands() {
			walk(sub, want)
		}
	}
	root := newRootCommand(streams{})
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	for _, cmd := range root.Commands() {
		if offline[cmd.Name()] == connects[cmd.Name()] {
			t.Errorf("%s: add it to offline or to this test's connects", cmd.Name())
		}
		walk(cmd, connects[cmd.Name()])
	}
	if needsRoots(root) {
		t.Error("argodeploy alone (its help) loads the roots")
	}
}

// TestFallbackRoots runs commands in a child process on a system without
// root certificates: an offline command leaves the pool empty; a command
// that may connect, even one that then fails, has Mozilla's roots.
func TestFallbackRoots(t *testing.T) {
	if args := os.Getenv("ARGODEPLOY_ROOTS_CHILD"); args != "" {
		run(t, "", strings.Fields(args)...)
		pool, err := x509.SystemCertPool()
		if err != nil || pool.Equal(x509.NewCertPool()) {
			os.Stdout.WriteString("roots: none\n")
		} else {
			os.Stdout.WriteString("roots: some\n")
		}
		return
	}
	for _, tt := range []struct {
		args string
		want string
	}{
		{"validate examples/single-service.yaml", "none"},
		{"generate -f examples/single-service.yaml", "none"},
		{"version", "none"},
		{"reconcile", "some"},
		{"status -f examples/single-service.yaml", "some"},
		{"rollout --service nosuch --target nosuch", "some"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestFallbackRoots$")
		cmd.Env = append(os.Environ(), "ARGODEPLOY_ROOTS_CHILD="+tt.args,
			"SSL_CERT_FILE=/nonexistent", "SSL_CERT_DIR=/nonexistent", "KUBECONFIG=/nonexistent")
		out, err := cmd.Output()
		if err != nil || !strings.Contains(string(out), "roots: "+tt.want+"\n") {
			t.Errorf("%s: %v, %q; want roots: %s", tt.args, err, out, tt.want)
		}
	}
}
