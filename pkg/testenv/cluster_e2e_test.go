//go:build e2e

package testenv_test

import (
	"context"
	"testing"
	"time"

	"github.com/argodeploy/argodeploy/pkg/testenv"
)

// stepper returns a function that runs one named step of a test, fails the
// test if it fails and logs how long it took.
func stepper(t *testing.T) func(what string, f func() error) {
	return func(what string, f func() error) {
		t.Helper()
		s := time.Now()
		if err := f(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		t.Logf("%-28s %6.1fs", what, time.Since(s).Seconds())
	}
}

// startCluster starts what every end-to-end test needs: etcd, the
// kube-apiserver and controller-manager with the full CRDs applied, NATS
// and the Pub/Sub emulator, which (a JVM) starts while the others do.
func startCluster(ctx context.Context, e *testenv.Env, step func(string, func() error)) (*testenv.PubSub, *testenv.APIServer, *testenv.NATS) {
	var (
		ps   *testenv.PubSub
		etcd *testenv.Etcd
		api  *testenv.APIServer
		nats *testenv.NATS
	)
	psErr := make(chan error, 1)
	go func() {
		var err error
		ps, err = e.StartPubSub(ctx)
		psErr <- err
	}()
	step("start etcd", func() (err error) { etcd, err = e.StartEtcd(ctx); return })
	step("start kube-apiserver", func() (err error) { api, err = e.StartAPIServer(ctx, etcd); return })
	step("start controller-manager", func() error { _, err := e.StartControllerManager(ctx, api); return err })
	step("start nats-server", func() (err error) { nats, err = e.StartNATS(ctx); return })
	step("start pubsub emulator", func() error { return <-psErr })
	step("apply CRDs (full)", func() error { return api.ApplyCRDs(ctx, true) })
	return ps, api, nats
}

// applyPipeline creates the namespaces and applies the generated manifests
// as a user would: a server-side dry run first, then for real.
func applyPipeline(ctx context.Context, t *testing.T, step func(string, func() error), api *testenv.APIServer, manifests string, namespaces ...string) {
	step("create namespaces", func() error {
		for _, ns := range namespaces {
			if _, err := api.Kubectl(ctx, "", "create", "namespace", ns); err != nil {
				return err
			}
		}
		return nil
	})
	step("apply --dry-run=server", func() error {
		out, err := api.Kubectl(ctx, manifests, "apply", "--dry-run=server", "-f", "-")
		t.Logf("dry run:\n%s", out)
		return err
	})
	step("apply", func() error {
		_, err := api.Kubectl(ctx, manifests, "apply", "-f", "-")
		return err
	})
}

// startEventSource starts the pipeline's EventSource NAME and waits until
// it listens to its subscription.
func startEventSource(ctx context.Context, e *testenv.Env, p testenv.Pipeline, name string) error {
	es, err := e.StartEventSource(ctx, p, pipelineN, name)
	if err != nil {
		return err
	}
	return testenv.WaitForLog(ctx, es.Proc, "listening for messages from PubSub", 90*time.Second)
}
