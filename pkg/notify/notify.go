// Package notify sends what became of a release to the receivers of a
// target (mapping.Receiver): a JSON webhook or a Slack-compatible one. The
// URL is read from a Secret when sending. Sending is bounded in time and
// attempts, and its failure is only reported: it never changes what the
// release did.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/argodeploy/argodeploy/pkg/mapping"
)

// Notification is what a webhook receiver gets, as JSON.
type Notification struct {
	Service    string `json:"service"`
	Target     string `json:"target"`
	Cluster    string `json:"cluster"`
	Namespace  string `json:"namespace"`
	Deployment string `json:"deployment"`
	Container  string `json:"container"`
	// Image, Tag and Digest are the push's: <image>, <image>:<tag> and
	// <image>@sha256:<hex>.
	Image  string `json:"image"`
	Tag    string `json:"tag"`
	Digest string `json:"digest"`
	// PreviousImage is what the container ran before the step.
	PreviousImage string `json:"previousImage,omitempty"`
	// Outcome is rolled, already, skipped, failed, undone or waiting.
	Outcome  string `json:"outcome"`
	Reason   string `json:"reason"`
	Workflow string `json:"workflow,omitempty"`
	Rollback bool   `json:"rollback,omitempty"`
	// StartedAt and FinishedAt bound the step (RFC 3339); Seconds is the
	// time between them.
	StartedAt  string  `json:"startedAt,omitempty"`
	FinishedAt string  `json:"finishedAt,omitempty"`
	Seconds    float64 `json:"durationSeconds,omitempty"`
	// Approve is the command that approves a waiting release.
	Approve string `json:"approve,omitempty"`
}

// Text is the notification in one line, for Slack and logs.
func (n Notification) Text() string {
	where := n.Namespace + "/" + n.Deployment
	if n.Cluster != "" && n.Cluster != mapping.LocalCluster {
		where = n.Cluster + "/" + where
	}
	tag := n.Tag[strings.LastIndexByte(n.Tag, ':')+1:]
	text := fmt.Sprintf("%s %s: %s %s to %s (%s)", n.Target, n.Outcome, n.Service, tag, where, n.Reason)
	if n.Approve != "" {
		text += "; approve with: " + n.Approve
	}
	if n.Workflow != "" {
		text += " [workflow " + n.Workflow + "]"
	}
	return text
}

// Secrets reads the value of key in Secret name of the pipeline's
// namespace.
type Secrets func(ctx context.Context, name, key string) (string, error)

// Sender sends notifications.
type Sender struct {
	Secrets Secrets
	// Client sends the requests. Default: http.DefaultClient.
	Client *http.Client
	// Timeout bounds each attempt; Attempts is how many are made, Backoff
	// the wait before the second (doubling). Defaults: 10s, 3, 1s.
	Timeout  time.Duration
	Attempts int
	Backoff  time.Duration
	// Log receives a line per notification sent or failed.
	Log io.Writer
}

// Send sends n to each receiver whose On includes n's outcome, and
// returns how many failed; each failure is logged with why.
func (s *Sender) Send(ctx context.Context, receivers []mapping.Receiver, n Notification) int {
	failed := 0
	for _, r := range receivers {
		if !slices.Contains(r.On, n.Outcome) {
			continue
		}
		if err := s.send(ctx, r, n); err != nil {
			failed++
			fmt.Fprintf(s.log(), "argodeploy: notify %s (%s): %v; the release is not affected\n", r.Name, r.Type, err)
			continue
		}
		fmt.Fprintf(s.log(), "argodeploy: notify %s (%s): sent %s\n", r.Name, r.Type, n.Outcome)
	}
	return failed
}

func (s *Sender) log() io.Writer {
	if s.Log == nil {
		return io.Discard
	}
	return s.Log
}

// Body is what receiver r gets for n.
func Body(r mapping.Receiver, n Notification) ([]byte, error) {
	if r.Type == mapping.ReceiverSlack {
		return json.Marshal(map[string]string{"text": n.Text()})
	}
	return json.Marshal(n)
}

func (s *Sender) send(ctx context.Context, r mapping.Receiver, n Notification) error {
	url, err := s.Secrets(ctx, r.URLSecret.Name, r.URLSecret.Key)
	if err != nil {
		return fmt.Errorf("reading its URL from Secret %s key %s: %v", r.URLSecret.Name, r.URLSecret.Key, err)
	}
	url = strings.TrimSpace(url)
	body, err := Body(r, n)
	if err != nil {
		return err
	}
	attempts, backoff, timeout := s.Attempts, s.Backoff, s.Timeout
	if attempts <= 0 {
		attempts = 3
	}
	if backoff <= 0 {
		backoff = time.Second
	}
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	client := s.Client
	if client == nil {
		client = http.DefaultClient
	}
	for i := range attempts {
		if i > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("%v (after %d attempts: %v)", ctx.Err(), i, err)
			case <-time.After(backoff << (i - 1)):
			}
		}
		if err = post(ctx, client, timeout, url, body); err == nil {
			return nil
		}
	}
	return fmt.Errorf("%d attempts: %v", attempts, err)
}

// post sends body to url, as JSON; only a 2xx answer is success. The
// error never contains the URL, which may hold a token.
func post(ctx context.Context, client *http.Client, timeout time.Duration, url string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("the URL in its Secret is not a URL")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("no answer within %s", timeout)
		}
		return fmt.Errorf("request failed: %v", redact(err, url))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("answered %s", resp.Status)
	}
	return nil
}

// redact removes url from err's text.
func redact(err error, url string) string {
	return strings.ReplaceAll(err.Error(), url, "<url>")
}
