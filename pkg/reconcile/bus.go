package reconcile

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	eventsv1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	eventbuscommon "github.com/argoproj/argo-events/pkg/eventbus/common"
	jetstreambase "github.com/argoproj/argo-events/pkg/eventbus/jetstream/base"
	jetstreamsensor "github.com/argoproj/argo-events/pkg/eventbus/jetstream/sensor"
	sharedutil "github.com/argoproj/argo-events/pkg/shared/util"
	"github.com/nats-io/nats.go"
	"github.com/spf13/viper"
	"go.uber.org/zap"
)

// Bus is a JetStream EventBus as its clients reach it: the URL and stream
// settings the argo-events controller publishes in the EventBus status
// (status.config.jetstream), and the client credentials of its
// eventbus-NAME-js-client-auth Secret.
type Bus struct {
	URL          string
	StreamConfig string
	Auth         *eventbuscommon.Auth
}

// LoadBusAuth reads the client credentials file of a JetStream EventBus
// (the client-auth key of its eventbus-NAME-js-client-auth Secret) as the
// argo-events programs read it (pkg/eventbus.GetAuth: viper, YAML).
func LoadBusAuth(path string) (*eventbuscommon.Auth, error) {
	v := viper.New()
	v.SetConfigFile(path)
	v.SetConfigType("yaml")
	if err := v.ReadInConfig(); err != nil {
		return nil, fmt.Errorf("bus credentials: %w", err)
	}
	cred := &eventbuscommon.AuthCredential{}
	if err := v.Unmarshal(cred); err != nil {
		return nil, fmt.Errorf("bus credentials %s: %w", path, err)
	}
	switch {
	case cred.Username != "":
		return &eventbuscommon.Auth{Strategy: eventsv1.AuthStrategyBasic, Credential: cred}, nil
	case cred.Token != "":
		return &eventbuscommon.Auth{Strategy: eventsv1.AuthStrategyToken, Credential: cred}, nil
	}
	return nil, fmt.Errorf("bus credentials %s: neither a username nor a token", path)
}

// RepairBus makes sure the bus holds what each Sensor needs to read it
// again after the bus restarted empty (its store lost: an emptyDir after a
// reschedule, a lost volume). An argo-events v1.9.11 Sensor creates the
// stream "default" and its key-value bucket (named after the Sensor) only
// when its pod starts (SensorJetstream.Initialize); after a restart of the
// bus it reconnects every 5 s, and each attempt fails for good while the
// bucket is missing (JetstreamTriggerConn: "failed to get K/V store").
// Meanwhile the EventSource cannot publish to the missing stream and
// leaves each push in Pub/Sub, unacknowledged. RepairBus checks the stream
// and each Sensor's bucket, and where one is missing runs the Sensor's own
// Initialize, which recreates both from the Sensor's spec, and then the
// Sensor's durable consumers, as its subscription would create them: the
// Sensor's next attempt reconnects and binds to them, and the pushes
// Pub/Sub redelivers meanwhile wait in them (a Sensor's own subscription
// delivers only what is published after it). It returns the Sensors it
// repaired; healthy ones cost a look-up.
func RepairBus(bus Bus, sensors []*eventsv1.Sensor, log io.Writer) ([]string, error) {
	logger := zap.NewNop().Sugar()
	probe, err := jetstreambase.NewJetstream(bus.URL, bus.StreamConfig, bus.Auth, logger, nil)
	if err != nil {
		return nil, err
	}
	conn, err := probe.MakeConnection()
	if err != nil {
		return nil, fmt.Errorf("event bus %s: %w", bus.URL, err)
	}
	defer conn.NATSConn.Close()
	_, err = conn.JSContext.StreamInfo(eventsv1.JetStreamStreamName)
	streamMissing := errors.Is(err, nats.ErrStreamNotFound)
	if err != nil && !streamMissing {
		return nil, fmt.Errorf("event bus %s: stream %s: %w", bus.URL, eventsv1.JetStreamStreamName, err)
	}
	var repaired []string
	var errs []error
	for _, s := range sensors {
		_, err := conn.JSContext.KeyValue(s.Name)
		bucketMissing := errors.Is(err, nats.ErrBucketNotFound)
		if err != nil && !bucketMissing {
			errs = append(errs, fmt.Errorf("sensor %s: bucket: %w", s.Name, err))
			continue
		}
		if !bucketMissing && !streamMissing {
			continue
		}
		var gone []string
		if streamMissing {
			gone = append(gone, "the stream "+eventsv1.JetStreamStreamName)
		}
		if bucketMissing {
			gone = append(gone, "its key-value bucket")
		}
		if err := initializeSensor(bus, s, logger); err != nil {
			errs = append(errs, fmt.Errorf("sensor %s: %s gone, and recreating failed: %w", s.Name, strings.Join(gone, " and "), err))
			continue
		}
		if err := createConsumers(conn.JSContext, s); err != nil {
			errs = append(errs, fmt.Errorf("sensor %s: %s recreated, its consumers not: %w", s.Name, strings.Join(gone, " and "), err))
			continue
		}
		fmt.Fprintf(log, "argodeploy: event bus: sensor %s: %s gone (the bus restarted empty); recreated, it reconnects within 5 s\n", s.Name, strings.Join(gone, " and "))
		repaired = append(repaired, s.Name)
		streamMissing = false
	}
	return repaired, errors.Join(errs...)
}

// createConsumers creates the durable consumer of each (trigger,
// dependency) pair of s as the Sensor's subscription does
// (JetstreamTriggerConn.Subscribe: PullSubscribe with the durable name
// group-HASH, explicit acks, new messages only). The subscriptions are
// left open, not unsubscribed, which would delete the consumers: closing
// the connection ends them and keeps the consumers.
func createConsumers(js nats.JetStreamContext, s *eventsv1.Sensor) error {
	// Conditions may spell a dependency's "-" as "_" (the Sensor's
	// getDependencyExpression); each dependency is subscribed once.
	deps := map[string]eventsv1.EventDependency{}
	for _, d := range s.Spec.Dependencies {
		deps[strings.ReplaceAll(d.Name, "-", "_")] = d
	}
	for _, tr := range s.Spec.Triggers {
		if tr.Template == nil {
			continue
		}
		var named []string
		for _, n := range conditionNames.FindAllString(tr.Template.Conditions, -1) {
			named = append(named, strings.ReplaceAll(n, "-", "_"))
		}
		if len(named) == 0 {
			for key := range deps {
				named = append(named, key)
			}
		}
		slices.Sort(named)
		for _, name := range slices.Compact(named) {
			d, ok := deps[name]
			if !ok {
				return fmt.Errorf("trigger %s: no dependency %s", tr.Template.Name, name)
			}
			subject := fmt.Sprintf("%s.%s.%s", eventsv1.JetStreamStreamName, d.EventSourceName, d.EventName)
			durable := "group-" + sharedutil.Hasher(s.Name+"-"+tr.Template.Name+"-"+d.Name)
			if _, err := js.PullSubscribe(subject, durable, nats.AckExplicit(), nats.DeliverNew()); err != nil {
				return fmt.Errorf("consumer %s of %s: %w", durable, subject, err)
			}
		}
	}
	return nil
}

// conditionNames finds the dependency names in a trigger's conditions.
var conditionNames = regexp.MustCompile(`[^\s&|()!]+`)

// initializeSensor runs what a starting Sensor pod runs on the bus.
func initializeSensor(bus Bus, s *eventsv1.Sensor, logger *zap.SugaredLogger) error {
	js, err := jetstreamsensor.NewSensorJetstream(bus.URL, s, bus.StreamConfig, bus.Auth, logger, nil)
	if err != nil {
		return err
	}
	err = js.Initialize()
	if c := js.MgmtConnection.NATSConn; c != nil {
		c.Close()
	}
	return err
}
