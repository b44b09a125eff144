package testenv

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// NATS is a running nats-server with JetStream, set up like the one the
// Argo Events controller deploys for a JetStream EventBus: TLS on the
// client port (the clients skip verification), a "js" account with
// JetStream and one user/password, and a system account.
type NATS struct {
	URL      string
	Port     int
	User     string
	Password string
	// StreamReplicas is the replicas setting of the stream config handed to
	// the programs; 1, since this is a single server.
	StreamReplicas int
	Proc           *Proc
	monitor        int
	env            *Env
	conf, store    string
}

// StartNATS starts the cached nats-server on free loopback ports.
func (e *Env) StartNATS(ctx context.Context) (*NATS, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	monitor, err := FreePort()
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(e.Path("nats", "x"))
	certFile, keyFile := filepath.Join(dir, "server-cert.pem"), filepath.Join(dir, "server-key.pem")
	if err := writeSelfSigned(certFile, keyFile); err != nil {
		return nil, err
	}
	n := &NATS{URL: fmt.Sprintf("nats://127.0.0.1:%d", port), Port: port,
		User: randomHex(4), Password: randomHex(8), StreamReplicas: 1}
	conf := fmt.Sprintf(`host: 127.0.0.1
port: %d
http: 127.0.0.1:%d
server_name: argodeploy-e2e
max_payload: 1MB
jetstream {
  store_dir: %q
  max_memory_store: 256MB
  max_file_store: 1GB
}
system_account: sys
accounts: {
  "js": {
    "jetstream": true,
    "users": [{"user": %q, "pass": %q}]
  },
  "sys": {
    "users": [{"user": "sys", "pass": %q}]
  }
}
tls {
  cert_file: %q
  key_file: %q
}
`, port, monitor, filepath.Join(dir, "store"), n.User, n.Password, randomHex(12), certFile, keyFile)
	confFile := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	n.monitor, n.env, n.conf, n.store = monitor, e, confFile, filepath.Join(dir, "store")
	return n, n.start(ctx)
}

func (n *NATS) start(ctx context.Context) error {
	bin, err := Binary("nats-server-" + NATSServerVersion)
	if err != nil {
		return err
	}
	p, err := n.env.Start("nats-server", nil, bin, "-c", n.conf)
	if err != nil {
		return err
	}
	n.Proc = p
	return WaitFor(ctx, "nats-server", 60*time.Second, p, func(ctx context.Context) error {
		return httpOK(ctx, http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/healthz?js-enabled-only=true", n.monitor), "")
	})
}

// Kill ends the server at once, as a node failure or an OOM kill does.
func (n *NATS) Kill() {
	_ = syscall.Kill(-n.Proc.Cmd.Process.Pid, syscall.SIGKILL)
	<-n.Proc.done
}

// Restart starts the killed server again on the same ports and
// credentials: with the store it had (a pod back on its volume claim), or,
// with wipe, an empty one (an emptyDir after a reschedule, a lost volume).
func (n *NATS) Restart(ctx context.Context, wipe bool) error {
	if wipe {
		if err := os.RemoveAll(n.store); err != nil {
			return err
		}
	}
	return n.start(ctx)
}

// Consumers returns the names of the JetStream consumers of a stream, from
// the monitoring endpoint /jsz.
func (n *NATS) Consumers(ctx context.Context, stream string) ([]string, error) {
	url := fmt.Sprintf("http://127.0.0.1:%d/jsz?accounts=true&streams=true&consumers=true", n.monitor)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var jsz struct {
		Accounts []struct {
			Streams []struct {
				Name      string `json:"name"`
				Consumers []struct {
					Name string `json:"name"`
				} `json:"consumer_detail"`
			} `json:"stream_detail"`
		} `json:"account_details"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&jsz); err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	var names []string
	for _, a := range jsz.Accounts {
		for _, s := range a.Streams {
			if s.Name != stream {
				continue
			}
			for _, c := range s.Consumers {
				names = append(names, c.Name)
			}
		}
	}
	return names, nil
}

// WaitForConsumers waits until stream has at least n consumers. A sensor
// subscribes with DeliverNew, so an event published before its consumer
// exists is never delivered to it.
func (n *NATS) WaitForConsumers(ctx context.Context, stream string, count int, timeout time.Duration) error {
	return WaitFor(ctx, fmt.Sprintf("%d consumers of stream %s", count, stream), timeout, n.Proc, func(ctx context.Context) error {
		names, err := n.Consumers(ctx, stream)
		if err != nil {
			return err
		}
		if len(names) < count {
			return fmt.Errorf("consumers: %v", names)
		}
		return nil
	})
}

// AuthYAML is the client credential file the controller mounts at
// /etc/eventbus/auth/auth.yaml (secret eventbus-NAME-js-client-auth).
func (n *NATS) AuthYAML() string {
	// Quoted: random hex such as 1234e567 or 00012345 is a number to YAML.
	return fmt.Sprintf("username: %q\npassword: %q\n", n.User, n.Password)
}

// BusConfig is the EventBus status.config the controller would write for a
// JetStream EventBus named busName, as JSON: the value, base64-encoded, of
// EVENTBUS_CONFIG. The stream settings are the controller's defaults
// (argo-events controller-config) with replicas set to StreamReplicas.
func (n *NATS) BusConfig(busName string) ([]byte, error) {
	stream := fmt.Sprintf("discard: 0\nduplicates: 300s\nmaxage: 168h\nmaxbytes: -1\nmaxmsgs: 50000\nreplicas: %d\nretention: 0\n", n.StreamReplicas)
	return json.Marshal(map[string]any{
		"jetstream": map[string]any{
			"url": n.URL,
			"accessSecret": map[string]any{
				"name": fmt.Sprintf("eventbus-%s-js-client-auth", busName),
				"key":  "client-auth",
			},
			"streamConfig": stream,
		},
	})
}

// EncodedBusConfig is BusConfig base64-encoded.
func (n *NATS) EncodedBusConfig(busName string) (string, error) {
	b, err := n.BusConfig(busName)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// writeSelfSigned writes a self-signed certificate for 127.0.0.1.
func writeSelfSigned(certFile, keyFile string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "argodeploy-e2e"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
}
