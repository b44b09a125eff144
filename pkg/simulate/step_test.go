package simulate

import (
	"strings"
	"testing"

	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/rollout"
)

// TestStageOrder: a release's targets run upstream first whatever order
// the route step lists them in; targets without stages keep their place.
func TestStageOrder(t *testing.T) {
	svc := mapping.Service{Name: "web", Targets: []mapping.Target{
		{Name: "prod", After: "canary"},
		{Name: "eu"},
		{Name: "canary", After: "staging"},
		{Name: "staging"},
	}}
	var routes []rollout.Route
	for _, tg := range svc.Targets {
		routes = append(routes, rollout.Route{Service: svc.Name, Target: tg.Name})
	}
	var got []string
	for _, r := range stageOrder(map[string]mapping.Service{svc.Name: svc}, routes) {
		got = append(got, r.Target)
	}
	if want := "eu staging canary prod"; join(got) != want {
		t.Fatalf("order %q, want %q", join(got), want)
	}
}

func join(names []string) string { return strings.Join(names, " ") }
