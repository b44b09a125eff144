// Package testenv starts the real components of the redeploy pipeline on
// loopback for end-to-end tests: the Pub/Sub emulator, etcd, kube-apiserver,
// a NATS JetStream server, and the Argo Events eventsource and sensor
// programs. It is used only by tests built with the e2e tag; the binaries
// come from .ci/e2e-install.
package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Versions of the components the harness builds and runs. .ci/e2e-install
// and testdata/e2e/tools pin the same ones.
const (
	KubernetesVersion    = "v1.33.4"
	NATSServerVersion    = "v2.11.15"
	ArgoEventsVersion    = "v1.9.11"
	ArgoWorkflowsVersion = "v3.7.9"
	CoreDNSVersion       = "v1.12.0"
)

// installHint ends every error about a missing prerequisite.
const installHint = "run .ci/e2e-install (or make e2e) first"

// CacheDir is where .ci/e2e-install puts the binaries it builds.
func CacheDir() string {
	if d := os.Getenv("ARGODEPLOY_E2E_CACHE"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = os.TempDir()
	}
	return filepath.Join(home, ".cache", "argodeploy-e2e")
}

// Binary returns the path of a cached binary such as
// "kube-apiserver-v1.33.4", or an error naming the install script.
func Binary(name string) (string, error) {
	p := filepath.Join(CacheDir(), "bin", name)
	if st, err := os.Stat(p); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%s is missing: %s", p, installHint)
	}
	return p, nil
}

// lookPath finds a program on PATH, or explains how to install it.
func lookPath(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s not found on PATH: %s", name, installHint)
	}
	return p, nil
}

// Env is one test's set of components. Each component writes its log to a
// file under Dir/logs; Logs prints them.
type Env struct {
	t   testing.TB
	Dir string

	mu      sync.Mutex
	stopped bool
	procs   []*Proc
	logs    []string
	stops   []func()
}

// New makes an empty environment in a fresh temporary directory. Stop runs
// at test cleanup; if the test failed, every log is printed first.
func New(t testing.TB) *Env {
	t.Helper()
	dir, err := os.MkdirTemp("", "argodeploy-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	e := &Env{t: t, Dir: dir}
	t.Cleanup(func() {
		if t.Failed() {
			e.PrintLogs()
		}
		e.Stop()
		if !t.Failed() && os.Getenv("ARGODEPLOY_E2E_KEEP") == "" {
			os.RemoveAll(dir)
		} else {
			t.Logf("testenv: files kept in %s", dir)
		}
	})
	return e
}

// Path returns a path under the environment's directory, creating its parent.
func (e *Env) Path(elem ...string) string {
	p := filepath.Join(append([]string{e.Dir}, elem...)...)
	_ = os.MkdirAll(filepath.Dir(p), 0o755)
	return p
}

// Proc is a started component process.
type Proc struct {
	Name    string
	Cmd     *exec.Cmd
	LogPath string
	done    chan struct{}
	err     error
}

// Exited reports whether the process has ended, and its error.
func (p *Proc) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Start runs a component in its own process group with its output in
// logs/NAME.log.
func (e *Env) Start(name string, env []string, argv ...string) (*Proc, error) {
	logPath := e.Path("logs", name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = f
	cmd.Stderr = f
	cmd.Dir = e.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	fmt.Fprintf(f, "### %s\n", strings.Join(argv, " "))
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{Name: name, Cmd: cmd, LogPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	e.mu.Lock()
	e.logs = append(e.logs, logPath)
	if e.stopped {
		// Started from another goroutine after Stop: end it at once.
		e.mu.Unlock()
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		return nil, fmt.Errorf("start %s: environment already stopped", name)
	}
	e.procs = append(e.procs, p)
	e.mu.Unlock()
	return p, nil
}

// OnStop registers a function Stop runs before it ends the processes.
func (e *Env) OnStop(f func()) {
	e.mu.Lock()
	e.stops = append(e.stops, f)
	e.mu.Unlock()
}

// Stop ends every process, newest first: SIGTERM to its process group, then,
// once the process has exited or after five seconds, SIGKILL to what is left
// of the group.
func (e *Env) Stop() {
	e.mu.Lock()
	procs, stops := e.procs, e.stops
	e.procs, e.stops, e.stopped = nil, nil, true
	e.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		p := procs[i]
		if done, _ := p.Exited(); done {
			continue
		}
		_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
		// Children left in the group (the emulator's JVM under gcloud).
		_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
	}
	for i := len(stops) - 1; i >= 0; i-- {
		stops[i]()
	}
}

// PrintLogs writes the last 200 lines of every component log to the test log.
func (e *Env) PrintLogs() {
	e.mu.Lock()
	logs := append([]string(nil), e.logs...)
	e.mu.Unlock()
	for _, p := range logs {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > 200 {
			lines = append([]string{fmt.Sprintf("... %d lines before", len(lines)-200)}, lines[len(lines)-200:]...)
		}
		e.t.Logf("===== %s =====\n%s", p, strings.Join(lines, "\n"))
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// WaitFor polls check every 200ms until it returns nil, the process ends,
// or the timeout passes.
func WaitFor(ctx context.Context, what string, timeout time.Duration, p *Proc, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		if p != nil {
			if done, err := p.Exited(); done {
				return fmt.Errorf("%s: process exited (%v) before it was ready; see %s", what, err, p.LogPath)
			}
		}
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		last = check(cctx)
		ccancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s: %v", what, timeout, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// WaitForLog waits until the process log contains substr.
func WaitForLog(ctx context.Context, p *Proc, substr string, timeout time.Duration) error {
	return WaitForLogCount(ctx, p, substr, 1, timeout)
}

// WaitForLogCount waits until the process log contains substr n times.
func WaitForLogCount(ctx context.Context, p *Proc, substr string, n int, timeout time.Duration) error {
	return WaitFor(ctx, fmt.Sprintf("%s log line %q (x%d)", p.Name, substr, n), timeout, p, func(context.Context) error {
		data, err := os.ReadFile(p.LogPath)
		if err != nil {
			return err
		}
		if got := bytes.Count(data, []byte(substr)); got < n {
			return fmt.Errorf("seen %d times", got)
		}
		return nil
	})
}
