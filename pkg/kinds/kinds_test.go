package kinds_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/argodeploy/argodeploy/pkg/kinds"
)

// TestByGroupKind: each entry makes an object of its own kind, from a Go
// package of its own version.
func TestByGroupKind(t *testing.T) {
	for gk, typed := range kinds.ByGroupKind {
		typ := reflect.TypeOf(typed.New()).Elem()
		if typ.Name() != gk.Kind || !strings.HasSuffix(typ.PkgPath(), "/"+typed.Version) {
			t.Errorf("%v at %s makes a %s.%s", gk, typed.Version, typ.PkgPath(), typ.Name())
		}
	}
}
