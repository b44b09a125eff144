package testenv

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Etcd is a running etcd server.
type Etcd struct {
	URL  string
	Proc *Proc
}

// StartEtcd starts the Debian etcd on free loopback ports with its data in
// a temporary directory.
func (e *Env) StartEtcd(ctx context.Context) (*Etcd, error) {
	bin, err := lookPath("etcd")
	if err != nil {
		return nil, err
	}
	client, err := FreePort()
	if err != nil {
		return nil, err
	}
	peer, err := FreePort()
	if err != nil {
		return nil, err
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", client)
	p, err := e.Start("etcd", nil, bin,
		"--name", "argodeploy-e2e",
		"--data-dir", e.Path("etcd", "data"),
		"--listen-client-urls", url,
		"--advertise-client-urls", url,
		"--listen-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", peer),
		"--initial-advertise-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", peer),
		"--initial-cluster", fmt.Sprintf("argodeploy-e2e=http://127.0.0.1:%d", peer),
		// Room for the full Argo Workflows CRDs.
		"--max-request-bytes", "10485760",
		"--quota-backend-bytes", "4294967296",
	)
	if err != nil {
		return nil, err
	}
	err = WaitFor(ctx, "etcd", 60*time.Second, p, func(ctx context.Context) error {
		return httpOK(ctx, http.DefaultClient, url+"/health", "")
	})
	if err != nil {
		return nil, err
	}
	return &Etcd{URL: url, Proc: p}, nil
}

// APIServer is a running kube-apiserver with RBAC on, a static admin token
// and service-account token issuing.
type APIServer struct {
	URL        string
	Port       int
	AdminToken string
	// Kubeconfig is the admin kubeconfig file.
	Kubeconfig string
	// HostIP is the address it advertises (the kubernetes Service's
	// endpoint): the host's address on its default route, which a node in
	// its own network namespace (StartNode) reaches; 127.0.0.1 on a host
	// without one. It listens on every address, so URL (loopback) works too.
	HostIP string
	Proc   *Proc
	env    *Env
	argv   []string // how it was started, for Restart
}

// ServiceAccountIssuer is the issuer and audience of the tokens the
// apiserver signs.
const ServiceAccountIssuer = "https://kubernetes.default.svc.cluster.local"

// StartAPIServer starts kube-apiserver against etcd on a free loopback port,
// waits for /readyz and writes an admin kubeconfig.
func (e *Env) StartAPIServer(ctx context.Context, etcd *Etcd) (*APIServer, error) {
	bin, err := Binary("kube-apiserver-" + KubernetesVersion)
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	dir := e.Path("apiserver", "x")
	dir = filepath.Dir(dir)
	token := randomHex(16)
	tokens := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(token+`,admin,admin-uid,"system:masters"`+"\n"), 0o600); err != nil {
		return nil, err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	keyFile := filepath.Join(dir, "sa.key")
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return nil, err
	}
	hostIP := defaultRouteIP()
	argv := []string{bin,
		"--etcd-servers", etcd.URL,
		"--etcd-prefix", "/registry",
		"--bind-address", "0.0.0.0",
		"--advertise-address", hostIP,
		"--secure-port", fmt.Sprint(port),
		"--cert-dir", filepath.Join(dir, "certs"),
		"--token-auth-file", tokens,
		"--authorization-mode", "RBAC",
		"--service-account-issuer", ServiceAccountIssuer,
		"--api-audiences", ServiceAccountIssuer,
		"--service-account-key-file", keyFile,
		"--service-account-signing-key-file", keyFile,
		"--service-cluster-ip-range", "10.0.0.0/24",
		"--allow-privileged=true",
		// A node's name is no DNS name here: reach the kubelet (logs,
		// exec) on its address.
		"--kubelet-preferred-address-types", "InternalIP,Hostname",
		"--enable-priority-and-fairness=false",
		"--profiling=false",
		"--v=1",
	}
	s := &APIServer{URL: fmt.Sprintf("https://127.0.0.1:%d", port), Port: port, AdminToken: token, HostIP: hostIP, env: e, argv: argv}
	if err := s.start(ctx); err != nil {
		return nil, err
	}
	s.Kubeconfig = e.Path("kubeconfig", "admin")
	if err := s.WriteKubeconfig(s.Kubeconfig, token); err != nil {
		return nil, err
	}
	return s, nil
}

// start runs the apiserver and waits for /readyz.
func (s *APIServer) start(ctx context.Context) error {
	p, err := s.env.Start("kube-apiserver", nil, s.argv...)
	if err != nil {
		return err
	}
	s.Proc = p
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	return WaitFor(ctx, "kube-apiserver", 120*time.Second, p, func(ctx context.Context) error {
		return httpOK(ctx, client, s.URL+"/readyz", s.AdminToken)
	})
}

// Kill ends the apiserver at once, as a crash or a control-plane upgrade
// does; etcd keeps the data.
func (s *APIServer) Kill() {
	_ = syscall.Kill(-s.Proc.Cmd.Process.Pid, syscall.SIGKILL)
	<-s.Proc.done
}

// Restart starts the apiserver again as it was first started: the same
// port, certificates, tokens and service-account key, so clients and
// tokens made before still work.
func (s *APIServer) Restart(ctx context.Context) error { return s.start(ctx) }

// StartControllerManager starts kube-controller-manager with only the
// deployment and replicaset controllers, so Deployments get ReplicaSets and
// an observed generation. No kubelet runs: pods are never scheduled, so only
// a Deployment with replicas: 0 can finish a rollout.
func (e *Env) StartControllerManager(ctx context.Context, api *APIServer) (*Proc, error) {
	bin, err := Binary("kube-controller-manager-" + KubernetesVersion)
	if err != nil {
		return nil, err
	}
	p, err := e.Start("kube-controller-manager", nil, bin,
		"--kubeconfig", api.Kubeconfig,
		"--controllers", "deployment,replicaset",
		"--leader-elect=false",
		"--secure-port=0",
		"--v=1",
	)
	if err != nil {
		return nil, err
	}
	return p, WaitForLog(ctx, p, `"Started controller" controller="deployment-controller"`, 60*time.Second)
}

// defaultRouteIP is this host's source address towards the outside (no
// packet is sent), or 127.0.0.1 when it has no route there.
func defaultRouteIP() string {
	c, err := net.Dial("udp4", "203.0.113.1:9")
	if err != nil {
		return "127.0.0.1"
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).IP.String()
}

// WriteKubeconfig writes a kubeconfig that reaches the apiserver with a
// bearer token.
func (s *APIServer) WriteKubeconfig(path, token string) error {
	return writeKubeconfig(path, s.URL, token)
}

// writeKubeconfig writes a kubeconfig for server with a bearer token.
func writeKubeconfig(path, server, token string) error {
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: %s
    insecure-skip-tls-verify: true
users:
- name: e2e
  user:
    token: %q
contexts:
- name: e2e
  context:
    cluster: e2e
    user: e2e
current-context: e2e
`, server, token)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(cfg), 0o600)
}

// Kubectl runs kubectl with the admin kubeconfig and returns its stdout; on
// failure the error holds stderr.
func (s *APIServer) Kubectl(ctx context.Context, stdin string, args ...string) (string, error) {
	return s.KubectlAs(ctx, s.Kubeconfig, stdin, args...)
}

// KubectlAs runs kubectl with the given kubeconfig.
func (s *APIServer) KubectlAs(ctx context.Context, kubeconfig, stdin string, args ...string) (string, error) {
	bin, err := lookPath("kubectl")
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, bin, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr strings.Builder
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// CreateToken returns a token for a ServiceAccount, made with
// `kubectl create token`.
func (s *APIServer) CreateToken(ctx context.Context, namespace, serviceAccount string) (string, error) {
	out, err := s.Kubectl(ctx, "", "create", "token", serviceAccount, "-n", namespace, "--duration", "1h")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(out), nil
}

// ServiceAccountKubeconfig writes a kubeconfig that acts as the
// ServiceAccount, with a token from CreateToken, and returns its path.
func (s *APIServer) ServiceAccountKubeconfig(ctx context.Context, namespace, serviceAccount string) (string, error) {
	token, err := s.CreateToken(ctx, namespace, serviceAccount)
	if err != nil {
		return "", err
	}
	path := s.env.Path("kubeconfig", namespace+"."+serviceAccount)
	return path, s.WriteKubeconfig(path, token)
}

// ApplyCRDs applies the Argo Events and Argo Workflows CRDs from the
// pinned modules with server-side apply and waits until they are served.
// full picks Argo Workflows' full-schema CRDs over the minimal ones.
func (s *APIServer) ApplyCRDs(ctx context.Context, full bool) error {
	events, err := moduleDir("github.com/argoproj/argo-events", ArgoEventsVersion)
	if err != nil {
		return err
	}
	workflows, err := moduleDir("github.com/argoproj/argo-workflows/v3", ArgoWorkflowsVersion)
	if err != nil {
		return err
	}
	flavour := "minimal"
	if full {
		flavour = "full"
	}
	dirs := []string{
		filepath.Join(events, "manifests", "base", "crds"),
		filepath.Join(workflows, "manifests", "base", "crds", flavour),
	}
	args := []string{"apply", "--server-side", "--field-manager", "argodeploy-e2e"}
	for _, d := range dirs {
		files, err := filepath.Glob(filepath.Join(d, "argoproj.io_*.yaml"))
		if err != nil || len(files) == 0 {
			return fmt.Errorf("no CRDs in %s: %s", d, installHint)
		}
		for _, f := range files {
			args = append(args, "-f", f)
		}
	}
	if _, err := s.Kubectl(ctx, "", args...); err != nil {
		return err
	}
	_, err = s.Kubectl(ctx, "", "wait", "--for", "condition=Established", "--timeout", "60s", "crd", "--all")
	return err
}

// moduleDir is the directory of a module version in the module cache.
func moduleDir(path, version string) (string, error) {
	cache := os.Getenv("GOMODCACHE")
	if cache == "" {
		out, err := exec.Command("go", "env", "GOMODCACHE").Output()
		if err != nil {
			return "", fmt.Errorf("go env GOMODCACHE: %w", err)
		}
		cache = strings.TrimSpace(string(out))
	}
	dir := filepath.Join(cache, escapeModulePath(path)+"@"+version)
	if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("module %s@%s is not in the module cache: %s", path, version, installHint)
	}
	return dir, nil
}

// escapeModulePath applies the module cache's case encoding.
func escapeModulePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('!')
			b.WriteRune(r + ('a' - 'A'))
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// httpOK succeeds when GET url answers 200.
func httpOK(ctx context.Context, c *http.Client, url, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// WatchEvent is one event of a kubectl watch, stamped with the time the
// test process read it.
type WatchEvent struct {
	Type   string          `json:"type"`
	Object json.RawMessage `json:"object"`
	Seen   time.Time       `json:"-"`
}

var watchSeq atomic.Int64

// Watch runs `kubectl get ARGS --watch --output-watch-events -o json` with
// the admin kubeconfig and sends each event on the returned channel as soon
// as it is read. Existing objects come first, as ADDED. The channel is
// closed when kubectl ends: when ctx is done, or on an error, which its log
// (logs/kubectl-watch-N.log, printed when the test fails) holds.
func (s *APIServer) Watch(ctx context.Context, args ...string) (<-chan WatchEvent, error) {
	bin, err := lookPath("kubectl")
	if err != nil {
		return nil, err
	}
	argv := append([]string{"--kubeconfig", s.Kubeconfig, "get"}, args...)
	argv = append(argv, "--watch", "--output-watch-events", "-o", "json")
	logPath := s.env.Path("logs", fmt.Sprintf("kubectl-watch-%d.log", watchSeq.Add(1)))
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(logFile, "### kubectl %s\n", strings.Join(argv, " "))
	cmd := exec.CommandContext(ctx, bin, argv...)
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	s.env.mu.Lock()
	s.env.logs = append(s.env.logs, logPath)
	s.env.mu.Unlock()
	ch := make(chan WatchEvent, 1024)
	go func() {
		defer close(ch)
		defer logFile.Close()
		dec := json.NewDecoder(stdout)
		for {
			var ev WatchEvent
			if err := dec.Decode(&ev); err != nil {
				if !errors.Is(err, io.EOF) && ctx.Err() == nil {
					fmt.Fprintf(logFile, "decoding the watch: %v\n", err)
				}
				break
			}
			ev.Seen = time.Now()
			select {
			case ch <- ev:
			case <-ctx.Done():
			}
		}
		if err := cmd.Wait(); err != nil && ctx.Err() == nil {
			fmt.Fprintf(logFile, "kubectl ended: %v\n", err)
		}
	}()
	return ch, nil
}
