// Package tools pins CoreDNS, the node's cluster DNS in the end-to-end
// tests (the tool directive in go.mod), in a module of its own so that
// its build list is CoreDNS's own.
package tools
