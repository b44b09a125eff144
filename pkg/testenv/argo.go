package testenv

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// eventBusAuthDir is where the Argo Events programs read the EventBus
// credentials (v1alpha1.EventBusAuthFileMountPath); the path is fixed in
// their code.
const eventBusAuthDir = "/etc/eventbus/auth"

// ArgoProgram is an Argo Events eventsource or sensor program running
// outside a cluster, with the environment its controller would give its pod.
type ArgoProgram struct {
	Proc *Proc
	// Env is the environment the program got, EVENTSOURCE_OBJECT /
	// SENSOR_OBJECT and EVENTBUS_CONFIG decoded for reading.
	Env map[string]string
}

// Pipeline is the set of servers the Argo Events programs talk to.
type Pipeline struct {
	API    *APIServer
	NATS   *NATS
	PubSub *PubSub
}

// StartEventSource runs `argo-events eventsource-service` for the
// EventSource NAMESPACE/NAME as read from the apiserver, acting as the
// ServiceAccount of its template.
func (e *Env) StartEventSource(ctx context.Context, p Pipeline, namespace, name string) (*ArgoProgram, error) {
	return e.startArgo(ctx, p, "eventsource", namespace, name)
}

// StartSensor runs `argo-events sensor-service` for the Sensor
// NAMESPACE/NAME as read from the apiserver, acting as the ServiceAccount of
// its template.
func (e *Env) StartSensor(ctx context.Context, p Pipeline, namespace, name string) (*ArgoProgram, error) {
	return e.startArgo(ctx, p, "sensor", namespace, name)
}

// startArgo builds the environment of pkg/reconciler/{eventsource,sensor}
// resource.go and runs the program in its own network and mount namespace:
// both programs listen on :7777 for metrics and write /tmp/graft.log, and
// read the EventBus credentials from /etc/eventbus/auth/auth.yaml, as in
// their pods. The apiserver, NATS and Pub/Sub ports are forwarded into the
// namespace on the same loopback ports.
func (e *Env) startArgo(ctx context.Context, p Pipeline, kind, namespace, name string) (*ArgoProgram, error) {
	bin, err := Binary("argo-events-" + ArgoEventsVersion)
	if err != nil {
		return nil, err
	}
	if _, err := lookPath("ip"); err != nil {
		return nil, err
	}
	out, err := p.API.Kubectl(ctx, "", "get", kind, name, "-n", namespace, "-o", "json")
	if err != nil {
		return nil, err
	}
	var obj struct {
		Metadata struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
		Spec map[string]any `json:"spec"`
	}
	if err := json.Unmarshal([]byte(out), &obj); err != nil {
		return nil, err
	}
	// The controller hands over only name, namespace and spec.
	object, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"name": name, "namespace": namespace, "creationTimestamp": nil},
		"spec":     obj.Spec,
	})
	if err != nil {
		return nil, err
	}
	bus, _ := obj.Spec["eventBusName"].(string)
	if bus == "" {
		bus = "default"
	}
	busConfig, err := p.NATS.BusConfig(bus)
	if err != nil {
		return nil, err
	}
	sa := "default"
	var podAutomount *bool
	if tmpl, ok := obj.Spec["template"].(map[string]any); ok {
		if s, ok := tmpl["serviceAccountName"].(string); ok && s != "" {
			sa = s
		}
		if b, ok := tmpl["automountServiceAccountToken"].(bool); ok {
			podAutomount = &b
		}
	}
	// A pod gets a token unless its spec, or else its ServiceAccount, says
	// automountServiceAccountToken: false.
	automount := true
	if podAutomount != nil {
		automount = *podAutomount
	} else {
		v, err := p.API.Kubectl(ctx, "", "get", "serviceaccount", sa, "-n", namespace, "-o", "jsonpath={.automountServiceAccountToken}")
		if err != nil {
			return nil, err
		}
		automount = strings.TrimSpace(v) != "false"
	}

	id := fmt.Sprintf("%s-%s-%s", kind, namespace, name)
	root := filepath.Dir(e.Path(id, "x"))
	tmp, auth := filepath.Join(root, "tmp"), filepath.Join(root, "auth")
	for _, d := range []string{tmp, auth} {
		if err := os.MkdirAll(d, 0o777); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(auth, "auth.yaml"), []byte(p.NATS.AuthYAML()), 0o600); err != nil {
		return nil, err
	}
	if automount {
		token, err := p.API.CreateToken(ctx, namespace, sa)
		if err != nil {
			return nil, fmt.Errorf("token for %s/%s: %w", namespace, sa, err)
		}
		if err := p.API.WriteKubeconfig(filepath.Join(tmp, "kubeconfig"), token); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(eventBusAuthDir, 0o755); err != nil {
		return nil, fmt.Errorf("the programs read %s, which must exist as a mount point: %w", eventBusAuthDir, err)
	}

	objectVar := "SENSOR_OBJECT"
	sub := "sensor-service"
	if kind == "eventsource" {
		objectVar, sub = "EVENTSOURCE_OBJECT", "eventsource-service"
	}
	env := map[string]string{
		objectVar:          base64.StdEncoding.EncodeToString(object),
		"EVENTBUS_SUBJECT": "eventbus-" + namespace,
		"POD_NAME":         fmt.Sprintf("%s-%s-%s", name, kind, randomHex(3)),
		"LEADER_ELECTION":  obj.Metadata.Annotations["events.argoproj.io/leader-election"],
		"EVENTBUS_CONFIG":  base64.StdEncoding.EncodeToString(busConfig),
	}
	if automount {
		env["KUBECONFIG"] = "/tmp/kubeconfig"
	}
	ports := []int{p.API.Port, p.NATS.Port}
	if kind == "eventsource" && p.PubSub != nil {
		env["PUBSUB_EMULATOR_HOST"] = p.PubSub.Host
		ports = append(ports, p.PubSub.Port)
	}
	ns, err := e.newNetns(ports)
	if err != nil {
		return nil, err
	}
	var envList []string
	for k, v := range env {
		envList = append(envList, k+"="+v)
	}
	// auth first: the test's directory may be under /tmp.
	script := `mount --bind "$2" ` + eventBusAuthDir + ` && mount --bind "$1" /tmp && shift 2 && exec "$@"`
	proc, err := e.Start(id, envList, "ip", "netns", "exec", ns, "sh", "-c", script, "sh", tmp, auth, bin, sub)
	if err != nil {
		return nil, err
	}
	shown := map[string]string{}
	for k, v := range env {
		shown[k] = v
	}
	shown[objectVar] = string(object)
	shown["EVENTBUS_CONFIG"] = string(busConfig)
	return &ArgoProgram{Proc: proc, Env: shown}, nil
}

var netnsSeq atomic.Int64

// netnsPrefix starts the name of every namespace newNetns makes; the test
// process's pid follows.
const netnsPrefix = "argodeploy-e2e-"

// removeStaleNetns deletes the namespaces left by test processes that were
// killed before their cleanup ran.
func removeStaleNetns() {
	entries, _ := os.ReadDir("/run/netns")
	for _, ent := range entries {
		if ownerGone(ent.Name()) {
			_ = exec.Command("ip", "netns", "delete", ent.Name()).Run()
		}
	}
}

// ownerGone reports whether name is netnsPrefix, a pid and "-..." and that
// process has ended.
func ownerGone(name string) bool {
	rest, ok := strings.CutPrefix(name, netnsPrefix)
	if !ok {
		return false
	}
	pid, _, _ := strings.Cut(rest, "-")
	_, err := os.Stat("/proc/" + pid)
	return err != nil
}

// newNetns makes a network namespace with lo up and, for each port, a
// listener on 127.0.0.1:PORT inside it that forwards to 127.0.0.1:PORT of
// the test's own namespace. Stop deletes it.
func (e *Env) newNetns(ports []int) (string, error) {
	removeStaleNetns()
	name := fmt.Sprintf("%s%d-%d", netnsPrefix, os.Getpid(), netnsSeq.Add(1))
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		return "", fmt.Errorf("ip netns add %s: %v: %s", name, err, out)
	}
	var listeners []net.Listener
	var wg sync.WaitGroup
	e.OnStop(func() {
		for _, l := range listeners {
			l.Close()
		}
		wg.Wait()
		_ = exec.Command("ip", "netns", "delete", name).Run()
	})
	if out, err := exec.Command("ip", "netns", "exec", name, "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		return "", fmt.Errorf("lo up in %s: %v: %s", name, err, out)
	}
	for _, port := range ports {
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		l, err := listenInNetns("/run/netns/"+name, addr)
		if err != nil {
			return "", err
		}
		listeners = append(listeners, l)
		wg.Add(1)
		go func() {
			defer wg.Done()
			forward(l, addr)
		}()
	}
	return name, nil
}

// listenInNetns opens a TCP listener inside the network namespace at
// nsPath. The socket stays in that namespace; accepting and dialing happen
// in the test's namespace.
func listenInNetns(nsPath, addr string) (net.Listener, error) {
	type result struct {
		l   net.Listener
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		// Unlocked only once the thread is back in its own namespace;
		// otherwise the thread ends with this goroutine.
		orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", syscall.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		defer orig.Close()
		target, err := os.Open(nsPath)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		defer target.Close()
		if err := setns(target); err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("setns %s: %w", nsPath, err)}
			return
		}
		l, lerr := net.Listen("tcp", addr)
		if err := setns(orig); err != nil {
			if l != nil {
				l.Close()
			}
			ch <- result{err: fmt.Errorf("setns back: %w", err)}
			return
		}
		runtime.UnlockOSThread()
		ch <- result{l: l, err: lerr}
	}()
	r := <-ch
	return r.l, r.err
}

func setns(f *os.File) error {
	return unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
}

// forward copies each accepted connection to and from a new connection to
// addr until the listener is closed.
func forward(l net.Listener, addr string) {
	for {
		c, err := l.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return
		}
		go func() {
			defer c.Close()
			d, err := net.Dial("tcp", addr)
			if err != nil {
				return
			}
			defer d.Close()
			// When one side ends, both do, as when a pod dies: the kernel
			// closes its connections and the server ends their streams at
			// once. A half-close towards the server would leave an HTTP/2
			// server (the Pub/Sub emulator) streaming messages into a dead
			// client until a write failed, which a real pod's death does not.
			done := make(chan struct{}, 2)
			go func() { _, _ = io.Copy(d, c); done <- struct{}{} }()
			go func() { _, _ = io.Copy(c, d); done <- struct{}{} }()
			<-done
			c.Close()
			d.Close()
			<-done
		}()
	}
}

// DecodedEnv formats the program's environment for a test log.
func (a *ArgoProgram) DecodedEnv() string {
	var b strings.Builder
	for _, k := range []string{"EVENTSOURCE_OBJECT", "SENSOR_OBJECT", "EVENTBUS_CONFIG", "EVENTBUS_SUBJECT", "POD_NAME", "LEADER_ELECTION", "KUBECONFIG", "PUBSUB_EMULATOR_HOST"} {
		if v, ok := a.Env[k]; ok {
			fmt.Fprintf(&b, "%s=%s\n", k, v)
		}
	}
	return b.String()
}
