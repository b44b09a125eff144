package testenv

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// The node's fixed names and networks. Each node has its own network
// namespace, so every node on the host can use the same pod and Service
// ranges and node-local ports.
const (
	// NodeName is the name the kubelet registers.
	NodeName = "argodeploy-node"
	// PodCIDR is the range the bridge CNI plugin takes pod addresses from.
	PodCIDR = "10.244.0.0/24"
	// PauseImage is the sandbox image, kubelet 1.33's default.
	PauseImage = "registry.k8s.io/pause:3.10"
	// pauseBinary is the cached program .ci/e2e-install builds from
	// build/pause/linux/pause.c of the Kubernetes module.
	pauseBinary = "pause-3.10.1"
	// cniBinDir is where Debian's containernetworking-plugins puts them.
	cniBinDir = "/usr/lib/cni"
	// nodeRegistry holds one file per running node (its directory, network
	// namespace and cgroup), so that a later run tears down what a killed
	// test left.
	nodeRegistry = "/run/argodeploy-e2e-nodes"
)

// Node is a single-node cluster's node, built from parts: containerd
// (private root, state and socket) with the CRI plugin and the bridge CNI
// plugin, the kubelet and kube-proxy, all three in the node's own network
// namespace; and, beside the control plane on the host, kube-scheduler and
// a kube-controller-manager with the controllers a node needs
// (serviceaccount, root-ca-cert-publisher, nodelifecycle, endpointslice,
// statefulset, persistentvolume-binder); CoreDNS as the cluster DNS, in
// the node's namespace on the node's address (the kubelet's clusterDNS).
// Pods really run, under runc. Env.Stop tears it all down: containers,
// shims, mounts, cgroups and the namespace.
type Node struct {
	Name string
	// IP is the node's InternalIP, its address in its namespace; the host
	// reaches it (the apiserver's kubectl logs and exec go there).
	IP string
	// Netns is the name of its network namespace (ip netns).
	Netns string
	// Dir holds its files: containerd's root and state, the kubelet's root
	// directory, pod logs, configurations.
	Dir string
	// Socket is containerd's socket.
	Socket string
	// CgroupRoot is the kubelet's cgroup root (cgroupfs driver): every pod
	// runs below it.
	CgroupRoot string

	Containerd, Kubelet, Proxy, Scheduler, Controllers, DNS *Proc

	api *APIServer
	env *Env
}

var nodeSeq atomic.Int64

// StartNode starts a node for api's cluster and waits until it is Ready,
// untainted, kube-proxy routes the kubernetes Service and the default
// namespace has its ServiceAccount: a pod created then can run. The pause
// image is imported; import others with ImportImage under the references
// the pods name (with imagePullPolicy IfNotPresent or Never: no registry
// is reached). It needs root, and an apiserver whose HostIP is not
// loopback.
func (e *Env) StartNode(ctx context.Context, api *APIServer) (*Node, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("the node needs root (containerd, kubelet, network namespaces)")
	}
	if ip := net.ParseIP(api.HostIP); ip == nil || ip.IsLoopback() {
		return nil, fmt.Errorf("the apiserver advertises %s: the node's pods could not reach it (this host has no route out, so no address but loopback)", api.HostIP)
	}
	bins := map[string]string{}
	for _, name := range []string{"kubelet", "kube-proxy", "kube-scheduler", "kube-controller-manager"} {
		p, err := Binary(name + "-" + KubernetesVersion)
		if err != nil {
			return nil, err
		}
		bins[name] = p
	}
	coredns, err := Binary("coredns-" + CoreDNSVersion)
	if err != nil {
		return nil, err
	}
	pause, err := Binary(pauseBinary)
	if err != nil {
		return nil, err
	}
	for _, name := range []string{"containerd", "containerd-shim-runc-v2", "runc", "ctr", "nsenter", "iptables", "ip"} {
		p, err := lookPath(name)
		if err != nil {
			return nil, err
		}
		bins[name] = p
	}
	for _, plugin := range []string{"bridge", "host-local", "loopback", "portmap"} {
		if _, err := os.Stat(filepath.Join(cniBinDir, plugin)); err != nil {
			return nil, fmt.Errorf("CNI plugin %s missing in %s: %s", plugin, cniBinDir, installHint)
		}
	}
	removeStaleNodes()

	seq := nodeSeq.Add(1)
	n := &Node{
		Name:       NodeName,
		Netns:      fmt.Sprintf("%s%d-node%d", netnsPrefix, os.Getpid(), seq),
		Dir:        filepath.Dir(e.Path("node", "x")),
		CgroupRoot: fmt.Sprintf("/%s%d-node%d", netnsPrefix, os.Getpid(), seq),
		api:        api,
		env:        e,
	}
	n.Socket = filepath.Join(n.Dir, "containerd.sock")
	if err := n.register(); err != nil {
		return nil, err
	}
	e.OnStop(n.teardown)
	if err := n.setupNetwork(seq); err != nil {
		return nil, err
	}
	if err := makeCgroup(n.CgroupRoot); err != nil {
		return nil, err
	}
	if err := n.startContainerd(ctx, bins); err != nil {
		return nil, err
	}
	if err := n.importPause(ctx, pause); err != nil {
		return nil, err
	}

	// The node's programs reach the apiserver on its advertised address,
	// as the pods do, with the admin token.
	kubeconfig := filepath.Join(n.Dir, "kubeconfig")
	if err := writeKubeconfig(kubeconfig, fmt.Sprintf("https://%s:%d", api.HostIP, api.Port), api.AdminToken); err != nil {
		return nil, err
	}
	if err := n.startControlPlaneParts(ctx, bins); err != nil {
		return nil, err
	}
	if err := n.startDNS(ctx, coredns, kubeconfig); err != nil {
		return nil, err
	}
	if err := n.startKubelet(bins["kubelet"], kubeconfig); err != nil {
		return nil, err
	}
	if err := n.startProxy(bins["kube-proxy"], kubeconfig); err != nil {
		return nil, err
	}
	return n, n.waitReady(ctx)
}

// register writes the node's entry in nodeRegistry.
func (n *Node) register() error {
	if err := os.MkdirAll(nodeRegistry, 0o755); err != nil {
		return err
	}
	entry, _ := json.Marshal(nodeEntry{Dir: n.Dir, Netns: n.Netns, CgroupRoot: n.CgroupRoot, Socket: n.Socket})
	return os.WriteFile(n.registryPath(), entry, 0o644)
}

func (n *Node) registryPath() string {
	return filepath.Join(nodeRegistry, strings.TrimPrefix(n.CgroupRoot, "/"))
}

// nodeEntry is what teardown needs to know of a node.
type nodeEntry struct {
	Dir, Netns, CgroupRoot, Socket string
}

// teardown ends what the node left once its processes are gone.
func (n *Node) teardown() {
	nodeEntry{Dir: n.Dir, Netns: n.Netns, CgroupRoot: n.CgroupRoot, Socket: n.Socket}.teardown()
	_ = os.Remove(n.registryPath())
}

// removeStaleNodes tears down the nodes of test processes that were killed
// before their cleanup ran: their containers outlive them.
func removeStaleNodes() {
	entries, _ := os.ReadDir(nodeRegistry)
	for _, ent := range entries {
		if !ownerGone(ent.Name()) {
			continue
		}
		path := filepath.Join(nodeRegistry, ent.Name())
		data, err := os.ReadFile(path)
		var entry nodeEntry
		if err == nil && json.Unmarshal(data, &entry) == nil {
			entry.teardown()
		}
		_ = os.Remove(path)
	}
}

// waitReady waits until pods can run: the node Ready and without taints
// (the node lifecycle controller lifts the not-ready taint the apiserver
// gives a new node), the kubernetes Service in kube-proxy's rules, and the
// default ServiceAccount made.
func (n *Node) waitReady(ctx context.Context) error {
	err := WaitFor(ctx, "node "+n.Name+" Ready without taints", 120*time.Second, n.Kubelet, func(ctx context.Context) error {
		out, err := n.api.Kubectl(ctx, "", "get", "node", n.Name, "-o",
			`jsonpath={.status.conditions[?(@.type=="Ready")].status} {.spec.taints}`)
		if err != nil {
			return err
		}
		if out != "True " {
			return fmt.Errorf("Ready and taints: %q", out)
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = WaitFor(ctx, "kube-proxy's rule for the kubernetes Service", 60*time.Second, n.Proxy, func(ctx context.Context) error {
		out, err := n.Exec(ctx, "iptables", "-t", "nat", "-S", "KUBE-SERVICES")
		if err != nil {
			return err
		}
		if !strings.Contains(out, "default/kubernetes:https cluster IP") {
			return fmt.Errorf("KUBE-SERVICES:\n%s", out)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return WaitFor(ctx, "ServiceAccount default/default", 60*time.Second, n.Controllers, func(ctx context.Context) error {
		_, err := n.api.Kubectl(ctx, "", "get", "serviceaccount", "default", "-n", "default")
		return err
	})
}

// Exec runs a program in the node's network namespace (iptables, ip) and
// returns its output.
func (n *Node) Exec(ctx context.Context, argv ...string) (string, error) {
	out, err := exec.CommandContext(ctx, "nsenter", append([]string{"--net=/run/netns/" + n.Netns, "--"}, argv...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s in %s: %v: %s", strings.Join(argv, " "), n.Netns, err, out)
	}
	return string(out), nil
}

// ImportImage imports a docker-archive or OCI tarball (ociimage.WriteTarball
// writes one) into containerd's k8s.io namespace, where the kubelet finds
// it under the tarball's references.
func (n *Node) ImportImage(ctx context.Context, tarPath string) error {
	_, err := n.Ctr(ctx, "images", "import", tarPath)
	return err
}

// Ctr runs ctr against the node's containerd in the k8s.io namespace.
func (n *Node) Ctr(ctx context.Context, args ...string) (string, error) {
	argv := append([]string{"--address", n.Socket, "--namespace", "k8s.io"}, args...)
	out, err := exec.CommandContext(ctx, "ctr", argv...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ctr %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// startControlPlaneParts starts, on the host beside the apiserver,
// kube-scheduler and a kube-controller-manager with the controllers the
// node needs and StartControllerManager leaves out.
func (n *Node) startControlPlaneParts(ctx context.Context, bins map[string]string) error {
	ca, err := n.writeServingCA()
	if err != nil {
		return err
	}
	n.Controllers, err = n.env.Start("kube-controller-manager-node", nil, bins["kube-controller-manager"],
		"--kubeconfig", n.api.Kubeconfig,
		"--controllers", "serviceaccount,root-ca-cert-publisher,nodelifecycle,endpointslice,statefulset,persistentvolume-binder",
		"--root-ca-file", ca,
		"--leader-elect=false",
		"--secure-port=0",
		"--v=1",
	)
	if err != nil {
		return err
	}
	n.Scheduler, err = n.env.Start("kube-scheduler", nil, bins["kube-scheduler"],
		"--kubeconfig", n.api.Kubeconfig,
		"--authentication-kubeconfig", n.api.Kubeconfig,
		"--authorization-kubeconfig", n.api.Kubeconfig,
		"--leader-elect=false",
		"--secure-port=0",
		"--v=1",
	)
	if err != nil {
		return err
	}
	return WaitForLog(ctx, n.Controllers, `"Started controller" controller="root-ca-certificate-publisher-controller"`, 60*time.Second)
}

// writeServingCA writes the CA of the apiserver's self-signed serving
// certificate: the kube-root-ca.crt every pod's token volume holds, so that
// in-cluster clients verify the apiserver.
func (n *Node) writeServingCA() (string, error) {
	data, err := os.ReadFile(filepath.Join(n.env.Dir, "apiserver", "certs", "apiserver.crt"))
	if err != nil {
		return "", err
	}
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return "", err
		}
		if cert.IsCA {
			path := filepath.Join(n.Dir, "ca.crt")
			return path, os.WriteFile(path, pem.EncodeToMemory(block), 0o644)
		}
	}
	return "", fmt.Errorf("no CA certificate in the apiserver's serving certificate")
}

// inNetns is argv run by nsenter in the node's network namespace only: the
// mount namespace stays the host's, so the kubelet's volume mounts and
// containerd's root filesystems are the same for both.
func (n *Node) inNetns(argv ...string) []string {
	return append([]string{"nsenter", "--net=/run/netns/" + n.Netns, "--"}, argv...)
}

func (n *Node) startKubelet(bin, kubeconfig string) error {
	config := fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://%[1]s
cgroupDriver: cgroupfs
cgroupRoot: %[2]s
failCgroupV1: false
failSwapOn: false
podLogsDir: %[3]s
resolvConf: %[4]s
authentication:
  anonymous:
    enabled: true
  webhook:
    enabled: false
authorization:
  mode: AlwaysAllow
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
clusterDomain: cluster.local
clusterDNS: [%[5]s]
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 50Mi
  nodefs.available: 1%%
  nodefs.inodesFree: 1%%
  imagefs.available: 1%%
`, n.Socket, n.CgroupRoot, filepath.Join(n.Dir, "pod-logs"), filepath.Join(n.Dir, "resolv.conf"), n.IP)
	configPath := filepath.Join(n.Dir, "kubelet.yaml")
	if err := os.WriteFile(configPath, []byte(config), 0o644); err != nil {
		return err
	}
	// The node's own resolv.conf, which pods of dnsPolicy Default get: no
	// DNS beyond the cluster's is reached.
	if err := os.WriteFile(filepath.Join(n.Dir, "resolv.conf"), []byte("nameserver 127.0.0.1\n"), 0o644); err != nil {
		return err
	}
	var err error
	n.Kubelet, err = n.env.Start("kubelet", nil, n.inNetns(bin,
		"--config", configPath,
		"--kubeconfig", kubeconfig,
		"--root-dir", filepath.Join(n.Dir, "kubelet"),
		"--hostname-override", n.Name,
		"--node-ip", n.IP,
		"--v=2",
	)...)
	return err
}

// startDNS starts CoreDNS in the node's namespace on the node's address,
// port 53, serving cluster.local from the apiserver (its kubernetes plugin,
// with the admin kubeconfig), as the cluster DNS the kubelet gives pods.
// Names outside the cluster get NXDOMAIN: this host resolves nothing
// else. It returns when CoreDNS answers for the kubernetes Service.
func (n *Node) startDNS(ctx context.Context, bin, kubeconfig string) error {
	corefile := fmt.Sprintf(`cluster.local:53 in-addr.arpa:53 ip6.arpa:53 {
    bind %[1]s
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig %[2]s
        pods insecure
    }
}
.:53 {
    bind %[1]s
    errors
    template ANY ANY {
        rcode NXDOMAIN
    }
}
`, n.IP, kubeconfig)
	path := filepath.Join(n.Dir, "Corefile")
	if err := os.WriteFile(path, []byte(corefile), 0o644); err != nil {
		return err
	}
	var err error
	if n.DNS, err = n.env.Start("coredns", nil, n.inNetns(bin, "-conf", path)...); err != nil {
		return err
	}
	return WaitFor(ctx, "CoreDNS answering for kubernetes.default.svc.cluster.local", 60*time.Second, n.DNS, func(ctx context.Context) error {
		out, err := n.Exec(ctx, busyboxPath, "nslookup", "kubernetes.default.svc.cluster.local", n.IP)
		if err != nil {
			return err
		}
		if !strings.Contains(out, "Address") || strings.Contains(out, "NXDOMAIN") {
			return fmt.Errorf("nslookup: %s", out)
		}
		return nil
	})
}

func (n *Node) startProxy(bin, kubeconfig string) error {
	config := fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: %s
mode: iptables
clusterCIDR: %s
hostnameOverride: %s
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`, kubeconfig, PodCIDR, n.Name)
	configPath := filepath.Join(n.Dir, "kube-proxy.yaml")
	if err := os.WriteFile(configPath, []byte(config), 0o644); err != nil {
		return err
	}
	var err error
	n.Proxy, err = n.env.Start("kube-proxy", nil, n.inNetns(bin, "--config", configPath, "--v=1")...)
	return err
}

// startContainerd writes containerd's configuration (everything under
// n.Dir, runc's state too, and the pods' network namespaces under its
// state directory) and the CNI network, and starts it.
func (n *Node) startContainerd(ctx context.Context, bins map[string]string) error {
	cniConf := filepath.Join(n.Dir, "cni", "net.d")
	if err := os.MkdirAll(cniConf, 0o755); err != nil {
		return err
	}
	// The pods' network: a bridge in the node's namespace, addresses from
	// PodCIDR, masqueraded when they leave it. containerd's CRI plugin adds
	// the loopback interface itself (with the loopback plugin).
	network := fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": "argodeploy-e2e",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": %q}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": %q
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
`, PodCIDR, filepath.Join(n.Dir, "cni", "ipam"))
	if err := os.WriteFile(filepath.Join(cniConf, "10-bridge.conflist"), []byte(network), 0o644); err != nil {
		return err
	}
	cd := filepath.Join(n.Dir, "containerd")
	config := fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = %[3]q

[plugins."io.containerd.internal.v1.opt"]
  path = %[4]q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[5]q
  netns_mounts_under_state_dir = true
  disable_apparmor = true
  restrict_oom_score_adj = %[9]t
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = %[6]q
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %[7]q
    conf_dir = %[8]q
`, filepath.Join(cd, "root"), filepath.Join(cd, "state"), n.Socket, filepath.Join(cd, "opt"),
		PauseImage, filepath.Join(cd, "runc"), cniBinDir, cniConf, !hasCapability(unix.CAP_SYS_RESOURCE))
	configPath := filepath.Join(n.Dir, "containerd.toml")
	if err := os.WriteFile(configPath, []byte(config), 0o644); err != nil {
		return err
	}
	var err error
	n.Containerd, err = n.env.Start("containerd", nil, n.inNetns(bins["containerd"], "--config", configPath)...)
	if err != nil {
		return err
	}
	return WaitFor(ctx, "containerd", 60*time.Second, n.Containerd, func(ctx context.Context) error {
		_, err := n.Ctr(ctx, "version")
		return err
	})
}

// hasCapability reports whether this process has capability c in effect.
// Without CAP_SYS_RESOURCE (some sandboxes drop it from the bounding set)
// no process may lower its oom_score_adj, and runc fails to start a pod's
// container whose spec asks for a lower one than containerd's ("nsexec:
// failed to update /proc/self/oom_score_adj: Permission denied"); then
// containerd's restrict_oom_score_adj keeps each at or above its own.
func hasCapability(c int) bool {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if hex, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			return err == nil && caps&(1<<c) != 0
		}
	}
	return false
}

// setupNetwork makes the node's network namespace and a veth pair to the
// host: the host end gets 10.213.X.1/24, the node's end (eth0) 10.213.X.2,
// with its default route through the host, on the first /24 no interface
// of the host uses. The namespace's deletion (teardown) removes the pair.
func (n *Node) setupNetwork(seq int64) error {
	unlock, err := lockFile(filepath.Join(nodeRegistry, ".lock"))
	if err != nil {
		return err
	}
	defer unlock()
	subnet, err := freeSubnet()
	if err != nil {
		return err
	}
	hostIP, nodeIP := subnet+".1", subnet+".2"
	n.IP = nodeIP
	hostVeth := fmt.Sprintf("adn%d-%d", os.Getpid(), seq)
	for _, argv := range [][]string{
		{"ip", "netns", "add", n.Netns},
		{"ip", "link", "add", hostVeth, "type", "veth", "peer", "name", "eth0", "netns", n.Netns},
		{"ip", "addr", "add", hostIP + "/24", "dev", hostVeth},
		{"ip", "link", "set", hostVeth, "up"},
		{"ip", "-n", n.Netns, "link", "set", "lo", "up"},
		{"ip", "-n", n.Netns, "addr", "add", nodeIP + "/24", "dev", "eth0"},
		{"ip", "-n", n.Netns, "link", "set", "eth0", "up"},
		{"ip", "-n", n.Netns, "route", "add", "default", "via", hostIP},
		{"ip", "netns", "exec", n.Netns, "sysctl", "-qw", "net.ipv4.ip_forward=1"},
	} {
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, out)
		}
	}
	return nil
}

// freeSubnet is the first 10.213.X (X from 0) no address of the host is in.
func freeSubnet() (string, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", err
	}
	used := map[string]bool{}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
			ip := ipn.IP.To4()
			used[fmt.Sprintf("%d.%d.%d", ip[0], ip[1], ip[2])] = true
		}
	}
	for x := 0; x < 256; x++ {
		if s := fmt.Sprintf("10.213.%d", x); !used[s] {
			return s, nil
		}
	}
	return "", fmt.Errorf("every 10.213.X.0/24 is in use on this host")
}

// lockFile takes an exclusive lock on path; the returned function frees it.
func lockFile(path string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// CreateVolumes creates a PersistentVolume of size for each name, of no
// storage class (what a claim that names none binds to when the cluster
// has no default class), each a directory of the node's that any user may
// write (a hostPath volume gets no fsGroup). The controller-manager's
// persistentvolume-binder binds them to claims.
func (n *Node) CreateVolumes(ctx context.Context, size string, names ...string) error {
	for _, name := range names {
		dir := filepath.Join(n.Dir, "volumes", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := os.Chmod(dir, 0o777); err != nil {
			return err
		}
		pv := corev1.PersistentVolume{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolume"},
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:    corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)},
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				PersistentVolumeSource: corev1.PersistentVolumeSource{
					HostPath: &corev1.HostPathVolumeSource{Path: dir, Type: ptr.To(corev1.HostPathDirectory)},
				},
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			},
		}
		data, err := json.Marshal(pv)
		if err != nil {
			return err
		}
		if _, err := n.api.Kubectl(ctx, string(data), "create", "-f", "-"); err != nil {
			return err
		}
	}
	return nil
}
