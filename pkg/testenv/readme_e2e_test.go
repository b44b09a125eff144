//go:build e2e

package testenv_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/argodeploy/argodeploy/pkg/testenv"
)

// TestReadmePrerequisites runs the README's Prerequisites gcloud commands
// that create the topic and the subscription, as written (PROJECT and NAME
// filled in), against the Pub/Sub emulator, and checks the subscription
// they make: its topic, retry backoff and dead-letter policy. The IAM and
// Workload Identity commands are not run: the emulator has no IAM (501
// UNIMPLEMENTED), and there is no Google project here.
func TestReadmePrerequisites(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	e := testenv.New(t)
	ps, err := e.StartPubSub(ctx)
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, _ := strings.Cut(string(readme), "\n## Prerequisites\n")
	block, _, _ = strings.Cut(block, "\n## ")
	const project, name = "acme-shop-prod", "shop"
	ran := 0
	for _, cmd := range shellCommands(block) {
		if !strings.HasPrefix(cmd, "gcloud pubsub topics create") && !strings.HasPrefix(cmd, "gcloud pubsub subscriptions create") {
			continue
		}
		cmd = strings.NewReplacer("PROJECT", project, "NAME", name).Replace(cmd)
		words := strings.Fields(cmd)
		c := exec.CommandContext(ctx, words[0], words[1:]...)
		c.Env = append(os.Environ(),
			"CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB=http://"+ps.Host+"/",
			"CLOUDSDK_AUTH_DISABLE_CREDENTIALS=true",
			"CLOUDSDK_CORE_DISABLE_PROMPTS=1",
			"CLOUDSDK_CONFIG="+e.Path("gcloud-readme"))
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
		ran++
	}
	if ran != 3 {
		t.Fatalf("ran %d gcloud pubsub create commands of the README, want 3 (topic, dead-letter topic, subscription)", ran)
	}
	client, err := ps.Client(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	sub, err := client.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{Subscription: "projects/" + project + "/subscriptions/argodeploy-" + name})
	if err != nil {
		t.Fatal(err)
	}
	if sub.Topic != "projects/"+project+"/topics/gcr" || sub.AckDeadlineSeconds != 60 ||
		sub.GetRetryPolicy().GetMinimumBackoff().AsDuration() != 10*time.Second || sub.GetRetryPolicy().GetMaximumBackoff().AsDuration() != 600*time.Second ||
		sub.GetDeadLetterPolicy().GetDeadLetterTopic() != "projects/"+project+"/topics/argodeploy-dead-letter" || sub.GetDeadLetterPolicy().GetMaxDeliveryAttempts() != 100 {
		t.Errorf("subscription: %v", sub)
	}
}

// shellCommands are the commands of the indented code lines in text:
// comments dropped, continuation lines joined.
func shellCommands(text string) []string {
	var cmds []string
	current := ""
	for _, line := range strings.Split(text, "\n") {
		code, ok := strings.CutPrefix(line, "    ")
		code = strings.TrimSpace(code)
		if !ok || code == "" || strings.HasPrefix(code, "#") {
			continue
		}
		if cont, ok := strings.CutSuffix(code, "\\"); ok {
			current += cont
			continue
		}
		cmds = append(cmds, current+code)
		current = ""
	}
	return cmds
}
