//go:build e2e

package testenv_test

import (
	"context"
	"testing"
	"time"

	"github.com/argodeploy/argodeploy/pkg/testenv"
)

func TestNodeRunsPods(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	e := testenv.New(t)
	step := stepper(t)
	var (
		etcd *testenv.Etcd
		api  *testenv.APIServer
		node *testenv.Node
	)
	step("start etcd", func() (err error) { etcd, err = e.StartEtcd(ctx); return })
	step("start kube-apiserver", func() (err error) { api, err = e.StartAPIServer(ctx, etcd); return })
	step("start controller-manager", func() error { _, err := e.StartControllerManager(ctx, api); return err })
	step("start node", func() (err error) { node, err = e.StartNode(ctx, api); return })
	step("import busybox", func() error {
		img, err := testenv.BusyboxImage("65534:65534")
		if err != nil {
			return err
		}
		return node.ImportBuilt(ctx, "example.com/busybox:1", img)
	})
	pod := `apiVersion: v1
kind: Pod
metadata: {name: hello, namespace: default}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: example.com/busybox:1
    imagePullPolicy: Never
    command: [sh, -c, 'id; cat /var/run/secrets/kubernetes.io/serviceaccount/namespace']
`
	step("run pod", func() error {
		if _, err := api.Kubectl(ctx, pod, "apply", "-f", "-"); err != nil {
			return err
		}
		_, err := api.Kubectl(ctx, "", "wait", "pod/hello", "--for", "jsonpath={.status.phase}=Succeeded", "--timeout", "120s")
		return err
	})
	out, err := api.Kubectl(ctx, "", "logs", "hello")
	if err != nil {
		t.Fatal(err)
	}
	// The kubelet runs the container as the image's user id but not its
	// group (no runAsGroup given): gid 0.
	if want := "uid=65534 gid=0 groups=0\ndefault"; out != want {
		t.Errorf("logs %q, want %q", out, want)
	}
}
