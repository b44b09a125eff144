package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/argodeploy/argodeploy/pkg/rollout"
)

// runRoute runs argodeploy route --cache-dir cache with vars as its
// environment and returns the exit code, stdout and stderr.
func runRoute(cache string, vars map[string]string) (int, string, string) {
	var out, errOut bytes.Buffer
	s := streams{in: strings.NewReader(""), out: &out, err: &errOut}
	root := newRootCommand(s)
	if c, _, err := root.Find([]string{"route"}); err == nil && c != root {
		root.RemoveCommand(c)
	}
	root.AddCommand(newRouteCommandWith(s, rolloutEnv{getenv: func(k string) string { return vars[k] }, client: localClient}))
	root.SetArgs([]string{"route", "--cache-dir", cache})
	err := root.ExecuteContext(context.Background())
	var exit *exitError
	switch {
	case err == nil:
		return 0, out.String(), errOut.String()
	case errors.As(err, &exit):
		return exit.code, out.String(), errOut.String() + err.Error()
	}
	return exitFailure, out.String(), errOut.String() + err.Error()
}

// TestRouteCommand: a release tag of the mapped image prints its one
// target as JSON for withParam; a tag the target does not take prints an
// empty list and says why; an unknown image or a malformed push exits 2
// and prints nothing on stdout.
func TestRouteCommand(t *testing.T) {
	cache := rolloutCache(t)
	code, out, stderr := runRoute(cache, pushEnv())
	if code != 0 || out != `[{"service":"web","target":"web","lock":"local.prod.web","approval":false}]`+"\n" {
		t.Errorf("release: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	branch := pushEnv()
	branch["TAG"] = rolloutImage + ":pr-1"
	code, out, stderr = runRoute(cache, branch)
	if code != 0 || out != "[]\n" || !strings.Contains(stderr, "does not match target web's tagPattern") {
		t.Errorf("branch tag: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	for name, edit := range map[string][2]string{
		"unknown image":        {"DIGEST", "us-east1-docker.pkg.dev/acme-shop-prod/containers/api@sha256:" + strings.Repeat("1", 64)},
		"tag of another image": {"TAG", "us-east1-docker.pkg.dev/acme-shop-prod/containers/api:1.4.2"},
		"no publish time":      {"PUBLISHED_AT", ""},
	} {
		env := pushEnv()
		env[edit[0]] = edit[1]
		code, out, stderr := runRoute(cache, env)
		if code != rollout.ExitPermanent || out != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit %d and no output", name, code, out, stderr, rollout.ExitPermanent)
		}
	}
}
