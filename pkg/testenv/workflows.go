package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/argodeploy/argodeploy/pkg/ociimage"
)

// WorkflowsNamespace is where the Argo Workflows install puts its
// controller (the release's install.yaml is applied with -n argo).
const WorkflowsNamespace = "argo"

// WorkflowsControllerAccount is the controller's ServiceAccount in the
// upstream install.
const WorkflowsControllerAccount = "argo"

// WorkflowsConfigMap is the controller's configuration ConfigMap.
const WorkflowsConfigMap = "workflow-controller-configmap"

// ExecutorImage is the executor image a controller built at
// ArgoWorkflowsVersion puts in every pod when the ConfigMap names none:
// quay.io/argoproj/argoexec:VERSION.
const ExecutorImage = "quay.io/argoproj/argoexec:" + ArgoWorkflowsVersion

// WorkflowController is a running Argo Workflows workflow-controller.
type WorkflowController struct {
	Proc *Proc
	// Kubeconfig acts as the controller's ServiceAccount.
	Kubeconfig string
	// Config is the data of the ConfigMap it was started with.
	Config map[string]string
}

// WorkflowControllerOption changes how StartWorkflowController sets the
// controller up.
type WorkflowControllerOption func(*workflowControllerSetup)

type workflowControllerSetup struct {
	config map[string]string
	env    []string
}

// WithRequeueTime sets how soon the controller looks at a Workflow again
// after it changed (DEFAULT_REQUEUE_TIME, 10s by default; Argo's own
// development setup uses 1s): less waiting between one step's end and the
// next step's pod, nothing else.
func WithRequeueTime(d time.Duration) WorkflowControllerOption {
	return func(s *workflowControllerSetup) { s.env = append(s.env, "DEFAULT_REQUEUE_TIME="+d.String()) }
}

// WithControllerConfig sets one key of workflow-controller-configmap (a
// YAML value, as the ConfigMap holds it, e.g. "executor" or
// "namespaceParallelism").
func WithControllerConfig(key, value string) WorkflowControllerOption {
	return func(s *workflowControllerSetup) { s.config[key] = value }
}

// StartWorkflowController installs Argo Workflows' controller as the
// upstream cluster install does, less its Deployment, and runs the pinned
// workflow-controller in its place:
//
//   - namespace argo, and from the module cache's
//     manifests/cluster-install-no-crds (rendered with kubectl kustomize)
//     the controller's objects: ServiceAccount argo, ClusterRole
//     argo-cluster-role and ClusterRoleBinding argo-binding (pods,
//     workflows, templates... cluster-wide), Role and RoleBinding
//     argo-role (leases and secrets in argo), the aggregated roles, and the
//     ConfigMap workflow-controller-configmap, which the install ships
//     empty: the executor image is then the default, ExecutorImage. The
//     Argo Server's objects are left out;
//   - the process, as the Deployment's container would run it:
//     workflow-controller with its default flags, leader election on
//     (LEADER_ELECTION_IDENTITY the would-be pod's name) and a kubeconfig
//     with a token of ServiceAccount argo and namespace argo, so what it
//     may do is what the install's RBAC grants. It runs in its own network
//     namespace (it serves on the fixed ports 6060 and 9090), with the
//     apiserver's port forwarded in.
//
// It waits until the controller has been elected and started its
// workers' informers (it logs "Starting Workflow Controller").
func (e *Env) StartWorkflowController(ctx context.Context, api *APIServer, opts ...WorkflowControllerOption) (*WorkflowController, error) {
	bin, err := Binary("workflow-controller-" + ArgoWorkflowsVersion)
	if err != nil {
		return nil, err
	}
	setup := &workflowControllerSetup{config: map[string]string{}}
	for _, o := range opts {
		o(setup)
	}
	install, err := WorkflowsInstall(ctx, api)
	if err != nil {
		return nil, err
	}
	var config map[string]string
	var manifests bytes.Buffer
	manifests.WriteString("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + WorkflowsNamespace + "\n")
	for _, o := range install {
		if o.GetKind() == "ConfigMap" && o.GetName() == WorkflowsConfigMap {
			config, _, err = unstructured.NestedStringMap(o.Object, "data")
			if err != nil {
				return nil, err
			}
			if config == nil {
				config = map[string]string{}
			}
			for k, v := range setup.config {
				config[k] = v
			}
			if err := unstructured.SetNestedStringMap(o.Object, config, "data"); err != nil {
				return nil, err
			}
		}
		b, err := yaml.Marshal(o.Object)
		if err != nil {
			return nil, err
		}
		manifests.WriteString("---\n")
		manifests.Write(b)
	}
	if config == nil {
		return nil, fmt.Errorf("the upstream install has no ConfigMap %s", WorkflowsConfigMap)
	}
	if _, err := api.Kubectl(ctx, manifests.String(), "apply", "-f", "-"); err != nil {
		return nil, fmt.Errorf("applying the Argo Workflows install: %w", err)
	}

	token, err := api.CreateToken(ctx, WorkflowsNamespace, WorkflowsControllerAccount)
	if err != nil {
		return nil, err
	}
	kubeconfig := e.Path("workflow-controller", "kubeconfig")
	if err := api.writeKubeconfigNamespace(kubeconfig, token, WorkflowsNamespace); err != nil {
		return nil, err
	}
	ns, err := e.newNetns([]int{api.Port})
	if err != nil {
		return nil, err
	}
	pod := "workflow-controller-" + randomHex(5)
	p, err := e.Start("workflow-controller", append([]string{"LEADER_ELECTION_IDENTITY=" + pod}, setup.env...), "ip", "netns", "exec", ns, bin, "--kubeconfig", kubeconfig)
	if err != nil {
		return nil, err
	}
	if err := WaitForLog(ctx, p, "Starting Workflow Controller", 90*time.Second); err != nil {
		return nil, err
	}
	return &WorkflowController{Proc: p, Kubeconfig: kubeconfig, Config: config}, nil
}

// WorkflowsInstall is the controller's part of Argo Workflows' cluster
// install at ArgoWorkflowsVersion, from the module cache
// (manifests/cluster-install-no-crds, rendered by kubectl kustomize, which
// puts it in namespace argo): every object but the Argo Server's and the
// controller's Deployment and PriorityClass, which a process replaces here.
func WorkflowsInstall(ctx context.Context, api *APIServer) ([]*unstructured.Unstructured, error) {
	dir, err := moduleDir("github.com/argoproj/argo-workflows/v3", ArgoWorkflowsVersion)
	if err != nil {
		return nil, err
	}
	out, err := api.Kubectl(ctx, "", "kustomize", filepath.Join(dir, "manifests", "cluster-install-no-crds"))
	if err != nil {
		return nil, err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(out), 4096)
	var keep []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("decoding the Argo Workflows install: %w", err)
		}
		if m == nil {
			continue
		}
		o := &unstructured.Unstructured{Object: m}
		switch {
		case strings.HasPrefix(o.GetName(), "argo-server"):
		case o.GetKind() == "Deployment", o.GetKind() == "Service", o.GetKind() == "PriorityClass":
		default:
			keep = append(keep, o)
		}
	}
	return keep, nil
}

// writeKubeconfigNamespace is WriteKubeconfig with a namespace in the
// context, as a pod's in-cluster configuration has its own namespace.
func (s *APIServer) writeKubeconfigNamespace(path, token, namespace string) error {
	if err := s.WriteKubeconfig(path, token); err != nil {
		return err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	b = bytes.Replace(b, []byte("    cluster: e2e\n    user: e2e\n"), []byte("    cluster: e2e\n    user: e2e\n    namespace: "+namespace+"\n"), 1)
	return os.WriteFile(path, b, 0o600)
}

// WriteExecutorImage writes ExecutorImage as an image tarball at path, for
// a node to import: the pinned argoexec (static) as Argo Workflows'
// Dockerfile target argoexec lays it out on distroless/static, less that
// base: /bin/argoexec, the entrypoint, run as root (the image names no
// user; the pods' securityContext decides), /etc/nsswitch.conf and
// /etc/ssh/ssh_known_hosts from the module's hack/ directory, and
// /etc/mime.types (the Dockerfile copies the build stage's, from Alpine's
// mailcap; this is the host's, Debian's media-types).
func WriteExecutorImage(path string) error {
	bin, err := Binary("argoexec-" + ArgoWorkflowsVersion)
	if err != nil {
		return err
	}
	dir, err := moduleDir("github.com/argoproj/argo-workflows/v3", ArgoWorkflowsVersion)
	if err != nil {
		return err
	}
	files := []ociimage.File{
		{Path: "/bin/argoexec", Source: bin, Mode: 0o755},
		{Path: "/etc/nsswitch.conf", Source: filepath.Join(dir, "hack", "nsswitch.conf")},
		{Path: "/etc/ssh/ssh_known_hosts", Source: filepath.Join(dir, "hack", "ssh_known_hosts")},
	}
	if _, err := os.Stat("/etc/mime.types"); err == nil {
		files = append(files, ociimage.File{Path: "/etc/mime.types", Source: "/etc/mime.types"})
	}
	img, err := ociimage.Build(files, ociimage.Config{
		Entrypoint: []string{"argoexec"},
		Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
	})
	if err != nil {
		return err
	}
	return ociimage.WriteTarball(path, ExecutorImage, img)
}
