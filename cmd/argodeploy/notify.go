package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/notify"
	"github.com/argodeploy/argodeploy/pkg/rollout"
)

// notifyTimeout bounds all the notifications of one step, after the step
// has recorded its outcome (and after SIGTERM too).
const notifyTimeout = 30 * time.Second

// secretsIn reads Secret values in namespace with the step's client.
func secretsIn(client rollout.Local, namespace string) notify.Secrets {
	return func(ctx context.Context, name, key string) (string, error) {
		s, err := client.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		v, ok := s.Data[key]
		if !ok {
			return "", fmt.Errorf("Secret %s has no key %s", name, key)
		}
		return string(v), nil
	}
}

// notification describes push p for target t of svc.
func notification(svc *mapping.Service, t *mapping.Target, p rollout.Push, workflow string) notify.Notification {
	return notify.Notification{
		Service: svc.Name, Target: t.Name, Cluster: t.ClusterName(), Namespace: t.Namespace, Deployment: t.Deployment, Container: t.Container,
		Image: svc.Image, Tag: p.Tag, Digest: p.Digest, Workflow: workflow,
	}
}

// notifyStep sends the outcome of a rollout step to the target's
// receivers, unless the step failed transiently and will be retried
// (attempt, from Argo's {{retries}}, below retryLimit).
func notifyStep(client rollout.Local, namespace string, svc *mapping.Service, target string, p rollout.Push, res rollout.Result, env func(string) string, retryLimit int, started time.Time, rollback bool, log io.Writer) {
	t := svc.Target(target)
	if t == nil || len(t.Receivers) == 0 {
		return
	}
	if attempt, err := strconv.Atoi(env("RETRY")); res.Exit == rollout.ExitTransient && err == nil && attempt < retryLimit {
		fmt.Fprintf(log, "argodeploy: notify: attempt %d of %d failed and will be retried; nothing sent\n", attempt+1, retryLimit+1)
		return
	}
	n := notification(svc, t, p, env("WORKFLOW_NAME"))
	n.Outcome, n.Reason, n.PreviousImage, n.Rollback = res.Outcome, res.Reason, res.Before, rollback
	finished := time.Now()
	n.StartedAt, n.FinishedAt = started.UTC().Format(time.RFC3339), finished.UTC().Format(time.RFC3339)
	n.Seconds = finished.Sub(started).Round(time.Millisecond).Seconds()
	send(client, namespace, t.Receivers, n, log)
}

// notifyWaiting tells the receivers of each route of svc that waits for
// approval how to approve it.
func notifyWaiting(client rollout.Local, namespace string, svc *mapping.Service, routes []rollout.Route, p rollout.Push, workflow string, log io.Writer) {
	for _, r := range routes {
		t := svc.Target(r.Target)
		if !r.Approval || t == nil || len(t.Receivers) == 0 {
			continue
		}
		n := notification(svc, t, p, workflow)
		n.Outcome, n.Reason = mapping.OnWaiting, "waits for approval"
		n.Approve = fmt.Sprintf("argodeploy approve %s --workflow %s -f MAPPING", t.Name, workflow)
		send(client, namespace, t.Receivers, n, log)
	}
}

func send(client rollout.Local, namespace string, receivers []mapping.Receiver, n notify.Notification, log io.Writer) {
	ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
	defer cancel()
	s := &notify.Sender{Secrets: secretsIn(client, namespace), Log: log}
	s.Send(ctx, receivers, n)
}
