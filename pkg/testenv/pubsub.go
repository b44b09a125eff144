package testenv

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// PubSub is a running Google Cloud Pub/Sub emulator. Clients reach it with
// PUBSUB_EMULATOR_HOST=Host.
type PubSub struct {
	Host string
	Port int
	Proc *Proc
}

// StartPubSub starts `gcloud beta emulators pubsub start` on a free
// loopback port, with its gcloud configuration and data in temp dirs.
func (e *Env) StartPubSub(ctx context.Context) (*PubSub, error) {
	return e.StartPubSubAt(ctx, "127.0.0.1")
}

// StartPubSubAt is StartPubSub on address ip, e.g. the apiserver's HostIP,
// which a node's pods reach.
func (e *Env) StartPubSubAt(ctx context.Context, ip string) (*PubSub, error) {
	gcloud, err := lookPath("gcloud")
	if err != nil {
		return nil, err
	}
	if _, err := lookPath("java"); err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	host := net.JoinHostPort(ip, strconv.Itoa(port))
	data := e.Path("gcloud", "pubsub")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, err
	}
	p, err := e.Start("pubsub-emulator", []string{
		"CLOUDSDK_CONFIG=" + e.Path("gcloud", "config"),
		"CLOUDSDK_CORE_DISABLE_PROMPTS=1",
		"CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK=true",
		"CLOUDSDK_CORE_DISABLE_USAGE_REPORTING=true",
	}, gcloud, "beta", "emulators", "pubsub", "start",
		"--host-port="+host, "--data-dir="+data, "--quiet")
	if err != nil {
		return nil, err
	}
	err = WaitFor(ctx, "pubsub emulator", 90*time.Second, p, func(ctx context.Context) error {
		return httpOK(ctx, http.DefaultClient, "http://"+host+"/", "")
	})
	if err != nil {
		return nil, err
	}
	return &PubSub{Host: host, Port: port, Proc: p}, nil
}

// Client returns a Pub/Sub client of the emulator for a project.
func (ps *PubSub) Client(ctx context.Context, project string) (*pubsub.Client, error) {
	return pubsub.NewClient(ctx, project,
		option.WithEndpoint(ps.Host),
		option.WithoutAuthentication(),
		option.WithTelemetryDisabled(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	)
}

// CreateTopic creates projects/PROJECT/topics/TOPIC unless it exists.
func (ps *PubSub) CreateTopic(ctx context.Context, project, topic string) error {
	c, err := ps.Client(ctx, project)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: fmt.Sprintf("projects/%s/topics/%s", project, topic)})
	if status.Code(err) == codes.AlreadyExists {
		return nil
	}
	return err
}

// SubscriptionExists reports whether projects/PROJECT/subscriptions/ID exists.
func (ps *PubSub) SubscriptionExists(ctx context.Context, project, id string) (bool, error) {
	c, err := ps.Client(ctx, project)
	if err != nil {
		return false, err
	}
	defer c.Close()
	_, err = c.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{
		Subscription: fmt.Sprintf("projects/%s/subscriptions/%s", project, id)})
	if status.Code(err) == codes.NotFound {
		return false, nil
	}
	return err == nil, err
}

// Publish publishes data to a topic and returns the server's message ID.
func (ps *PubSub) Publish(ctx context.Context, project, topic string, data []byte) (string, error) {
	c, err := ps.Client(ctx, project)
	if err != nil {
		return "", err
	}
	defer c.Close()
	pub := c.Publisher(topic)
	defer pub.Stop()
	return pub.Publish(ctx, &pubsub.Message{Data: data}).Get(ctx)
}

// Publisher publishes to one topic over one connection, each message sent
// at once (no batching delay), so that publish times can be measured.
type Publisher struct {
	client *pubsub.Client
	pub    *pubsub.Publisher
}

// NewPublisher returns a Publisher for projects/PROJECT/topics/TOPIC.
// Close releases it.
func (ps *PubSub) NewPublisher(ctx context.Context, project, topic string) (*Publisher, error) {
	c, err := ps.Client(ctx, project)
	if err != nil {
		return nil, err
	}
	pub := c.Publisher(topic)
	pub.PublishSettings.CountThreshold = 1
	pub.PublishSettings.DelayThreshold = time.Millisecond
	return &Publisher{client: c, pub: pub}, nil
}

// Publish publishes data and returns the server's message ID once the
// emulator has accepted it.
func (p *Publisher) Publish(ctx context.Context, data []byte) (string, error) {
	return p.pub.Publish(ctx, &pubsub.Message{Data: data}).Get(ctx)
}

// Close stops the publisher and closes its connection.
func (p *Publisher) Close() error {
	p.pub.Stop()
	return p.client.Close()
}
