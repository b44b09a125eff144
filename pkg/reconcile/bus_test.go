package reconcile

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	eventsv1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	eventbuscommon "github.com/argoproj/argo-events/pkg/eventbus/common"
	jetstreambase "github.com/argoproj/argo-events/pkg/eventbus/jetstream/base"
	jetstreamsource "github.com/argoproj/argo-events/pkg/eventbus/jetstream/eventsource"
	jetstreamsensor "github.com/argoproj/argo-events/pkg/eventbus/jetstream/sensor"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// testBus is a real JetStream server (nats-server, in process) with TLS
// and a user, as the argo-events controller runs one, that a test can
// stop and start again on the same port, with its store or without.
type testBus struct {
	t        *testing.T
	srv      *server.Server
	port     int
	store    string
	tls      *tls.Config
	user     string
	password string
}

func startBus(t *testing.T) *testBus {
	t.Helper()
	b := &testBus{t: t, store: t.TempDir(), tls: selfSigned(t), user: "1234e567", password: "00012345"}
	b.start()
	t.Cleanup(func() { b.srv.Shutdown() })
	return b
}

func (b *testBus) start() {
	b.t.Helper()
	port := b.port
	if port == 0 {
		port = -1
	}
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true,
		JetStream: true, StoreDir: b.store,
		Username: b.user, Password: b.password,
		TLS: true, TLSConfig: b.tls,
	})
	if err != nil {
		b.t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		b.t.Fatal("nats-server did not start")
	}
	b.srv = s
	b.port = s.Addr().(*net.TCPAddr).Port
}

// restart stops the server and starts it again on the same port, with an
// empty store when wipe is set.
func (b *testBus) restart(wipe bool) {
	b.t.Helper()
	b.srv.Shutdown()
	b.srv.WaitForShutdown()
	if wipe {
		if err := os.RemoveAll(b.store); err != nil {
			b.t.Fatal(err)
		}
		if err := os.MkdirAll(b.store, 0o700); err != nil {
			b.t.Fatal(err)
		}
	}
	b.start()
}

// consumers counts the stream's consumers.
func (b *testBus) consumers() int {
	b.t.Helper()
	probe, err := jetstreambase.NewJetstream(b.bus().URL, "", b.bus().Auth, zap.NewNop().Sugar(), nil)
	if err != nil {
		b.t.Fatal(err)
	}
	conn, err := probe.MakeConnection()
	if err != nil {
		b.t.Fatal(err)
	}
	defer conn.NATSConn.Close()
	info, err := conn.JSContext.StreamInfo(eventsv1.JetStreamStreamName)
	if err != nil {
		b.t.Fatal(err)
	}
	return info.State.Consumers
}

func (b *testBus) bus() Bus {
	return Bus{
		URL:          "nats://127.0.0.1:" + itoa(b.port),
		StreamConfig: "maxMsgs: 50000\nmaxAge: 168h\nmaxBytes: -1\nreplicas: 1\nduplicates: 300s\nretention: 0\ndiscard: 0\n",
		Auth: &eventbuscommon.Auth{Strategy: eventsv1.AuthStrategyBasic,
			Credential: &eventbuscommon.AuthCredential{Username: b.user, Password: b.password}},
	}
}

func itoa(n int) string { return big.NewInt(int64(n)).String() }

func selfSigned(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
}

// testSensor is a Sensor as argodeploy renders one: one dependency, one
// trigger on it.
func testSensor(name string) *eventsv1.Sensor {
	return &eventsv1.Sensor{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "argo-events"},
		Spec: eventsv1.SensorSpec{
			Dependencies: []eventsv1.EventDependency{{Name: "push", EventSourceName: "shop", EventName: "gcr"}},
			Triggers:     []eventsv1.Trigger{{Template: &eventsv1.TriggerTemplate{Name: "release", Conditions: "push"}}},
		},
	}
}

// sensorStarts runs what a starting Sensor pod runs on the bus.
func sensorStarts(t *testing.T, bus Bus, s *eventsv1.Sensor) {
	t.Helper()
	if err := initializeSensor(bus, s, zap.NewNop().Sugar()); err != nil {
		t.Fatalf("the sensor cannot start: %v", err)
	}
}

// sensorReconnects is one attempt of a running Sensor's reconnect loop
// (pkg/sensors/listener.go: ebDriver.Connect every 5 s), with the upstream
// code.
func sensorReconnects(bus Bus, s *eventsv1.Sensor) error {
	js, err := jetstreamsensor.NewSensorJetstream(bus.URL, s, bus.StreamConfig, bus.Auth, zap.NewNop().Sugar(), nil)
	if err != nil {
		return err
	}
	conn, err := js.Connect(context.Background(), "release", "push",
		[]eventbuscommon.Dependency{{Name: "push", EventSourceName: "shop", EventName: "gcr"}}, false)
	if err != nil {
		return err
	}
	return conn.Close()
}

// eventSourcePublishes publishes one push as the EventSource "shop" does
// for its event "gcr", with the upstream code: a CloudEvent with the
// message as its data.
func eventSourcePublishes(bus Bus, id string) error {
	src, err := jetstreamsource.NewSourceJetstream(bus.URL, "shop", bus.StreamConfig, bus.Auth, zap.NewNop().Sugar(), nil)
	if err != nil {
		return err
	}
	conn, err := src.Connect("shop-eventsource-" + id)
	if err != nil {
		return err
	}
	defer conn.Close()
	event := cloudevents.NewEvent()
	event.SetID(id)
	event.SetSource("shop")
	event.SetSubject("gcr")
	event.SetType("pubsub")
	if err := event.SetData(cloudevents.ApplicationJSON, map[string]string{"action": "INSERT", "digest": id}); err != nil {
		return err
	}
	body, err := json.Marshal(event)
	if err != nil {
		return err
	}
	return conn.Publish(context.Background(), eventbuscommon.Message{MsgHeader: eventbuscommon.MsgHeader{EventSourceName: "shop", EventName: "gcr", ID: id}, Body: body})
}

// sensorReceives runs a Sensor's subscription with the upstream code
// (Connect, then Subscribe, as pkg/sensors/listener.go does) until it has
// fired on want events, and returns their IDs.
func sensorReceives(t *testing.T, bus Bus, s *eventsv1.Sensor, want int) []string {
	t.Helper()
	js, err := jetstreamsensor.NewSensorJetstream(bus.URL, s, bus.StreamConfig, bus.Auth, zap.NewNop().Sugar(), nil)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := js.Connect(context.Background(), "release", "push",
		[]eventbuscommon.Dependency{{Name: "push", EventSourceName: "shop", EventName: "gcr"}}, false)
	if err != nil {
		t.Fatalf("sensor %s cannot connect: %v", s.Name, err)
	}
	defer conn.Close()
	fired := make(chan string, 16)
	closeCh := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- conn.Subscribe(context.Background(), closeCh, make(chan struct{}), time.Time{},
			func(_ string, e cloudevents.Event) (*cloudevents.Event, error) { return &e, nil },
			func(string, cloudevents.Event) bool { return true },
			func(events map[string]cloudevents.Event) { fired <- events["push"].ID() },
			nil)
	}()
	var got []string
	timeout := time.After(20 * time.Second)
	for len(got) < want {
		select {
		case id := <-fired:
			got = append(got, id)
		case err := <-done:
			t.Fatalf("sensor %s subscription ended: %v", s.Name, err)
		case <-timeout:
			close(closeCh)
			return got
		}
	}
	close(closeCh)
	<-done
	return got
}

// TestRepairBus restarts a real JetStream server under upstream Sensor
// code: with its store kept, nothing needs repair; with its store wiped,
// the running Sensor can never reconnect and the EventSource cannot
// publish, until RepairBus recreates what the Sensor's start creates.
func TestRepairBus(t *testing.T) {
	b := startBus(t)
	shop, extra := testSensor("shop"), testSensor("shop-2")
	sensors := []*eventsv1.Sensor{shop, extra}
	for _, s := range sensors {
		sensorStarts(t, b.bus(), s)
	}
	var log strings.Builder
	repair := func() []string {
		t.Helper()
		log.Reset()
		repaired, err := RepairBus(b.bus(), sensors, &log)
		if err != nil {
			t.Fatalf("RepairBus: %v", err)
		}
		return repaired
	}
	if got := repair(); len(got) != 0 {
		t.Fatalf("repaired %v on a healthy bus", got)
	}

	b.restart(false)
	if got := repair(); len(got) != 0 {
		t.Fatalf("repaired %v after a restart that kept the store", got)
	}
	if err := sensorReconnects(b.bus(), shop); err != nil {
		t.Fatalf("the sensor does not reconnect to a bus that kept its store: %v", err)
	}

	b.restart(true)
	if err := sensorReconnects(b.bus(), shop); err == nil || !strings.Contains(err.Error(), "K/V store") {
		t.Fatalf("reconnecting to the wiped bus: %v; want the upstream failure on the missing bucket", err)
	}
	if err := eventSourcePublishes(b.bus(), "lost"); err == nil {
		t.Fatal("the EventSource published to the wiped bus; want a failure (it then leaves the push in Pub/Sub)")
	}
	if got := repair(); !slices.Equal(got, []string{"shop", "shop-2"}) {
		t.Fatalf("repaired %v, want both Sensors", got)
	}
	if !strings.Contains(log.String(), "sensor shop: the stream default and its key-value bucket gone") ||
		!strings.Contains(log.String(), "sensor shop-2: its key-value bucket gone") {
		t.Errorf("log:\n%s", log.String())
	}
	for _, s := range sensors {
		if err := sensorReconnects(b.bus(), s); err != nil {
			t.Errorf("sensor %s does not reconnect after the repair: %v", s.Name, err)
		}
	}
	// Pub/Sub redelivers a push before the Sensor is back: it waits in
	// the consumer the repair created, and the Sensor gets it.
	if err := eventSourcePublishes(b.bus(), "redelivered"); err != nil {
		t.Fatalf("the EventSource cannot publish after the repair: %v", err)
	}
	if got := sensorReceives(t, b.bus(), shop, 1); !slices.Equal(got, []string{"redelivered"}) {
		t.Errorf("the Sensor fired on %v, want the push published between the repair and its return", got)
	}
	if err := eventSourcePublishes(b.bus(), "next"); err != nil {
		t.Fatal(err)
	}
	if got := sensorReceives(t, b.bus(), shop, 1); !slices.Equal(got, []string{"next"}) {
		t.Errorf("the Sensor fired on %v, want the next push only", got)
	}
	if got := repair(); len(got) != 0 {
		t.Errorf("repaired %v again", got)
	}
	// The Sensors bound to the consumers the repair made: one each.
	if n := b.consumers(); n != len(sensors) {
		t.Errorf("%d consumers on the stream, want %d (one per Sensor)", n, len(sensors))
	}
}

func TestRepairBusUnreachable(t *testing.T) {
	b := startBus(t)
	bad := b.bus()
	bad.Auth = &eventbuscommon.Auth{Strategy: eventsv1.AuthStrategyBasic, Credential: &eventbuscommon.AuthCredential{Username: b.user, Password: "wrong"}}
	if _, err := RepairBus(bad, []*eventsv1.Sensor{testSensor("shop")}, &strings.Builder{}); err == nil || !strings.Contains(err.Error(), "Authorization Violation") {
		t.Errorf("wrong password: %v", err)
	}
	b.srv.Shutdown()
	b.srv.WaitForShutdown()
	if _, err := RepairBus(b.bus(), []*eventsv1.Sensor{testSensor("shop")}, &strings.Builder{}); err == nil {
		t.Error("no error from a stopped bus")
	}
}

// TestLoadBusAuth reads credentials files as the controller writes them
// and as a person might, hex that YAML would read as a number included.
func TestLoadBusAuth(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, text string
		want       *eventbuscommon.Auth
		err        string
	}{
		{"basic", "username: argo\npassword: s3cret\n", &eventbuscommon.Auth{Strategy: eventsv1.AuthStrategyBasic, Credential: &eventbuscommon.AuthCredential{Username: "argo", Password: "s3cret"}}, ""},
		{"quoted hex", "username: \"1234e567\"\npassword: \"00012345\"\n", &eventbuscommon.Auth{Strategy: eventsv1.AuthStrategyBasic, Credential: &eventbuscommon.AuthCredential{Username: "1234e567", Password: "00012345"}}, ""},
		{"token", "token: abc\n", &eventbuscommon.Auth{Strategy: eventsv1.AuthStrategyToken, Credential: &eventbuscommon.AuthCredential{Token: "abc"}}, ""},
		{"empty", "", nil, "neither a username nor a token"},
		{"not yaml", "username: [\n", nil, "bus credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".yaml")
			if err := os.WriteFile(path, []byte(tt.text), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := LoadBusAuth(path)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Strategy != tt.want.Strategy || *got.Credential != *tt.want.Credential {
				t.Errorf("got %+v %+v, want %+v %+v", got, got.Credential, tt.want, tt.want.Credential)
			}
		})
	}
	if _, err := LoadBusAuth(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("no error for a missing file")
	}
}

// TestCreateConsumersReadsConditions: a dependency named with "-" and
// spelled with "_" in the conditions, twice, gets its one consumer, on its
// event's subject.
func TestCreateConsumersReadsConditions(t *testing.T) {
	b := startBus(t)
	s := testSensor("shop")
	s.Spec.Dependencies[0].Name = "image-push"
	s.Spec.Triggers[0].Template.Conditions = "image_push || (image-push)"
	sensorStarts(t, b.bus(), s)
	probe, err := jetstreambase.NewJetstream(b.bus().URL, "", b.bus().Auth, zap.NewNop().Sugar(), nil)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := probe.MakeConnection()
	if err != nil {
		t.Fatal(err)
	}
	if err := createConsumers(conn.JSContext, s); err != nil {
		t.Fatal(err)
	}
	conn.NATSConn.Close()
	if n := b.consumers(); n != 1 {
		t.Fatalf("%d consumers, want 1", n)
	}
	conn, err = probe.MakeConnection()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.NATSConn.Close()
	for info := range conn.JSContext.Consumers(eventsv1.JetStreamStreamName) {
		if info.Config.FilterSubject != "default.shop.gcr" || info.Config.DeliverPolicy != nats.DeliverNewPolicy {
			t.Errorf("consumer %s: subject %q, deliver %v", info.Name, info.Config.FilterSubject, info.Config.DeliverPolicy)
		}
	}
}
