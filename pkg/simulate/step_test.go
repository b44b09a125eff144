package simulate

import (
	"strings"
	"testing"

	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/render"
)

// TestStageOrder: a release's targets run upstream first whatever order
// the Workflow lists them in; targets without stages keep their place.
func TestStageOrder(t *testing.T) {
	svc := &mapping.Service{Targets: []mapping.Target{
		{Name: "prod", After: "canary"},
		{Name: "eu"},
		{Name: "canary", After: "staging"},
		{Name: "staging"},
	}}
	var items []render.TargetItem
	for _, tg := range svc.Targets {
		items = append(items, render.TargetItem{Name: tg.Name})
	}
	var got []string
	for _, it := range stageOrder(svc, items) {
		got = append(got, it.Name)
	}
	if want := "eu staging canary prod"; join(got) != want {
		t.Fatalf("order %q, want %q", join(got), want)
	}
}

func join(names []string) string { return strings.Join(names, " ") }
