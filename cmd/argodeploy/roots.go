package main

import (
	"crypto/x509"
	"sync"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// offline names the commands that never open a connection. Every other
// command, before it runs, sets Mozilla's root certificates as the
// fallback for a system that has none (the release image is the static
// binary alone, and reconcile, notify and the steps speak TLS). Parsing
// them is what importing x509roots/fallback did in every start.
var offline = map[string]bool{
	"init": true, "generate": true, "validate": true, "simulate": true, "version": true,
	"schema": true, "graph": true, "help": true, "completion": true,
	cobra.ShellCompRequestCmd: true, cobra.ShellCompNoDescRequestCmd: true,
}

// needsRoots reports whether cmd may open a connection: any command not
// named offline, nor under one that is.
func needsRoots(cmd *cobra.Command) bool {
	for c := cmd; c.HasParent(); c = c.Parent() {
		if offline[c.Name()] {
			return false
		}
	}
	return cmd.HasParent()
}

// setFallbackRoots is x509roots/fallback's init, run once and only when
// needed.
var setFallbackRoots = sync.OnceFunc(func() {
	pool := x509.NewCertPool()
	for root := range bundle.Roots() {
		cert, err := x509.ParseCertificate(root.Certificate)
		if err != nil {
			panic(err)
		}
		pool.AddCertWithConstraint(cert, root.Constraint)
	}
	x509.SetFallbackRoots(pool)
})
