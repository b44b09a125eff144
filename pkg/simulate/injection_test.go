package simulate

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestCraftedMessagesRestartNothing replays messages crafted to mislead
// through the generated Sensor with Argo Events' own filter code: none may
// fire, so no event text ever reaches the Workflow or its steps, except a
// digest and a tag of two different mapped images, which the filters
// cannot tell apart: its release's route step refuses it, and nothing
// rolls.
func TestCraftedMessagesRestartNothing(t *testing.T) {
	p := pipeline(t, "multi-namespace.yaml")
	const services = "europe-west1-docker.pkg.dev/acme-platform/services/"
	digest := services + "api@sha256:" + strings.Repeat("ab", 32)
	tag := func(t string) string { return services + "api:" + t }
	body := func(fields map[string]any) string {
		raw, _ := json.Marshal(fields)
		return string(raw)
	}
	cases := map[string]string{
		"prefix-sharing image, digest of another": body(map[string]any{"action": "INSERT", "digest": services + "api-worker@sha256:" + strings.Repeat("ab", 32), "tag": tag("v1.0.0")}),
		"image from another project":              body(map[string]any{"action": "INSERT", "digest": "europe-west1-docker.pkg.dev/evil/services/api@sha256:" + strings.Repeat("ab", 32), "tag": "europe-west1-docker.pkg.dev/evil/services/api:v1.0.0"}),
		"Argo template in the tag":                body(map[string]any{"action": "INSERT", "digest": digest, "tag": tag("v1.0.0{{workflow.name}}")}),
		"command substitution in the tag":         body(map[string]any{"action": "INSERT", "digest": digest, "tag": tag("v1.0.0$(reboot)")}),
		"quotes in the tag":                       body(map[string]any{"action": "INSERT", "digest": digest, "tag": tag(`v1.0.0"'`)}),
		"newline in the tag":                      body(map[string]any{"action": "INSERT", "digest": digest, "tag": tag("v1.0.0\nrm -rf /")}),
		"huge tag":                                body(map[string]any{"action": "INSERT", "digest": digest, "tag": tag("v1.0.0" + strings.Repeat("9", 200))}),
		"missing tag":                             body(map[string]any{"action": "INSERT", "digest": digest}),
		"null tag":                                body(map[string]any{"action": "INSERT", "digest": digest, "tag": nil}),
		"tag of the wrong type":                   body(map[string]any{"action": "INSERT", "digest": digest, "tag": []string{tag("v1.0.0")}}),
		"bare digest":                             body(map[string]any{"action": "INSERT", "digest": "sha256:" + strings.Repeat("ab", 32), "tag": tag("v1.0.0")}),
		"short digest":                            body(map[string]any{"action": "INSERT", "digest": services + "api@sha256:abc", "tag": tag("v1.0.0")}),
		"uppercase digest":                        body(map[string]any{"action": "INSERT", "digest": services + "api@sha256:" + strings.Repeat("AB", 32), "tag": tag("v1.0.0")}),
		"digest with a trailing payload":          body(map[string]any{"action": "INSERT", "digest": digest + "\n" + digest, "tag": tag("v1.0.0")}),
		"action in lowercase":                     body(map[string]any{"action": "insert", "digest": digest, "tag": tag("v1.0.0")}),
		"fields naming the target":                body(map[string]any{"action": "INSERT", "digest": digest, "tag": tag("latest"), "service": "api", "deployment": "api", "namespace": "prod"}),
	}
	for name, payload := range cases {
		t.Run(name, func(t *testing.T) {
			out := p.Replay(Message{ID: "1", Data: []byte(payload), PublishTime: DefaultPublishTime})
			if name != "prefix-sharing image, digest of another" {
				if out.Error != "" || len(out.Fired) != 0 {
					t.Fatalf("%s fires: %+v", payload, out)
				}
				return
			}
			c, err := p.NewCluster(nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range out.Fired {
				if err := p.Follow(context.Background(), c, f.Workflow, DefaultPublishTime); err != nil {
					t.Fatal(err)
				}
				if r := f.Workflow.Route; r == nil || r.Exit != 2 || !strings.Contains(r.Error, "is not a tag of") || len(f.Workflow.Steps) != 0 {
					t.Fatalf("%s: route %+v, steps %+v", payload, r, f.Workflow.Steps)
				}
			}
		})
	}
}

// TestDuplicateKeysAreReadOnce: a body with a key twice is read the same
// way by the filter and by the trigger parameter (both Argo Events' gjson),
// so what passed the filter is what reaches the Workflow.
func TestDuplicateKeysAreReadOnce(t *testing.T) {
	p := pipeline(t, "single-service.yaml")
	digest := image + "@sha256:" + strings.Repeat("ab", 32)
	for _, payload := range []string{
		`{"action":"INSERT","digest":"` + digest + `","tag":"` + image + `:1.0.0","tag":"` + image + `:$(reboot)"}`,
		`{"action":"INSERT","digest":"` + digest + `","tag":"` + image + `:$(reboot)","tag":"` + image + `:1.0.0"}`,
	} {
		out := p.Replay(Message{ID: "1", Data: []byte(payload), PublishTime: DefaultPublishTime})
		for _, f := range out.Fired {
			if tag := f.Workflow.Arguments["tag"]; strings.ContainsAny(tag, "$()") {
				t.Errorf("%s: filter passed, the Workflow got tag %q", payload, tag)
			}
		}
	}
}

// TestDuplicateDeliveryIsOneRollout: Pub/Sub delivers at least once; the
// same message twice creates the same Workflow twice, serialised by the
// same mutex, and against one cluster only the first rolls: the second
// finds the Deployment restarted for that digest and tag and only waits
// for it to be healthy.
func TestDuplicateDeliveryIsOneRollout(t *testing.T) {
	p := pipeline(t, "single-service.yaml")
	c, err := p.NewCluster(nil)
	if err != nil {
		t.Fatal(err)
	}
	msg := Message{ID: "7", Data: []byte(push("latest")), PublishTime: DefaultPublishTime}
	var outcomes, updates []string
	for range 2 {
		out := p.Replay(msg)
		if len(out.Fired) != 1 {
			t.Fatalf("fired %d", len(out.Fired))
		}
		w := out.Fired[0].Workflow
		if err := p.Follow(context.Background(), c, w, msg.PublishTime); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(w.Route.Targets); got != `[{web web local.shop.web false}]` {
			t.Fatalf("route %s", got)
		}
		steps := w.Steps
		outcomes = append(outcomes, steps[0].Outcome)
		n := 0
		for _, call := range steps[0].Calls {
			if strings.HasPrefix(call, "update ") {
				n++
			}
		}
		updates = append(updates, fmt.Sprint(n))
	}
	if strings.Join(outcomes, ",") != "rolled,already" || strings.Join(updates, ",") != "2,0" {
		t.Fatalf("two deliveries: outcomes %v, updates %v", outcomes, updates)
	}
}
