package rollout

import (
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
	k8stesting "k8s.io/client-go/testing"

	"github.com/argodeploy/argodeploy/pkg/mapping"
)

const kubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: east
  cluster:
    server: https://east.example:6443
users:
- name: argodeploy
  user:
    token: secret-token
contexts:
- name: east
  context:
    cluster: east
    user: argodeploy
current-context: east
`

func kubeconfigSecret(name, key, data string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "argo-events", Name: name}, Data: map[string][]byte{key: []byte(data)}}
}

func remote(cluster, secret, key string) *mapping.Target {
	t := setImage("prod", "prod")
	t.Cluster = &mapping.Cluster{Name: cluster, KubeconfigSecret: mapping.SecretKeyRef{Name: secret, Key: key}}
	return &t
}

// TestNewClustersLocal: a target without a cluster is reached through the
// local client.
func TestNewClustersLocal(t *testing.T) {
	local := fake.NewClientset(deployment("prod", "web", ctr("web", img+":v1")))
	local.ClearActions()
	target := setImage("prod", "prod")
	c, err := NewClusters(local, "argo-events")(context.Background(), &target)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Deployments("prod").Get(context.Background(), "web", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := len(local.Actions()); n != 1 {
		t.Errorf("%d actions on the local client, want the one get", n)
	}
}

// TestNewClustersRemote: a remote target's client is built from the
// kubeconfig in its Secret, read in the pipeline's namespace, once per
// cluster name.
func TestNewClustersRemote(t *testing.T) {
	local := fake.NewClientset(kubeconfigSecret("east-kubeconfig", "config", kubeconfig))
	clusters := NewClusters(local, "argo-events")
	for range 2 {
		c, err := clusters(context.Background(), remote("east", "east-kubeconfig", "config"))
		if err != nil {
			t.Fatal(err)
		}
		u := c.(*appsv1client.AppsV1Client).RESTClient().Get().Namespace("prod").Resource("deployments").Name("web").URL()
		if u.Host != "east.example:6443" || u.Path != "/apis/apps/v1/namespaces/prod/deployments/web" {
			t.Errorf("the client reaches %s", u)
		}
	}
	var gets []string
	for _, a := range local.Actions() {
		gets = append(gets, a.GetVerb()+" "+a.GetResource().Resource+" "+a.GetNamespace()+"/"+a.(k8stesting.GetAction).GetName())
	}
	if len(gets) != 1 || gets[0] != "get secrets argo-events/east-kubeconfig" {
		t.Errorf("actions %q, want the Secret read once", gets)
	}
}

// TestNewClustersErrors: a missing Secret, key or namespace and a bad
// kubeconfig are permanent; a failed read of the Secret is transient and
// retried on the next call.
func TestNewClustersErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		secrets   []runtime.Object
		namespace string
		permanent bool
	}{
		{"no secret", nil, "argo-events", true},
		{"no key", []runtime.Object{kubeconfigSecret("east-kubeconfig", "kubeconfig", kubeconfig)}, "argo-events", true},
		{"bad kubeconfig", []runtime.Object{kubeconfigSecret("east-kubeconfig", "config", "clusters: [")}, "argo-events", true},
		{"no namespace", []runtime.Object{kubeconfigSecret("east-kubeconfig", "config", kubeconfig)}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewClusters(fake.NewClientset(tc.secrets...), tc.namespace)(context.Background(), remote("east", "east-kubeconfig", "config"))
			if err == nil || IsPermanent(err) != tc.permanent {
				t.Errorf("error %v, permanent %v; want permanent %v", err, IsPermanent(err), tc.permanent)
			}
		})
	}
	t.Run("read fails", func(t *testing.T) {
		local := fake.NewClientset(kubeconfigSecret("east-kubeconfig", "config", kubeconfig))
		fail := true
		local.PrependReactor("get", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
			if fail {
				return true, nil, apierrors.NewServiceUnavailable("etcd")
			}
			return false, nil, nil
		})
		clusters := NewClusters(local, "argo-events")
		if _, err := clusters(context.Background(), remote("east", "east-kubeconfig", "config")); err == nil || IsPermanent(err) {
			t.Errorf("error %v, want a transient one", err)
		}
		fail = false
		if _, err := clusters(context.Background(), remote("east", "east-kubeconfig", "config")); err != nil {
			t.Errorf("second call: %v", err)
		}
	})
}

// TestIsPermanent pins which errors a retry cannot fix.
func TestIsPermanent(t *testing.T) {
	for err, want := range map[error]bool{
		apierrors.NewNotFound(deploymentsGR, "web"):                                           true,
		apierrors.NewForbidden(deploymentsGR, "web", errors.New("rbac")):                      true,
		apierrors.NewInvalid(schema.GroupKind{Group: "apps", Kind: "Deployment"}, "web", nil): true,
		permanent(errors.New("bad input")):                                                    true,
		apierrors.NewConflict(deploymentsGR, "web", errors.New("modified")):                   false,
		apierrors.NewServiceUnavailable("down"):                                               false,
		apierrors.NewTooManyRequests("slow", 1):                                               false,
		apierrors.NewUnauthorized("expired token"):                                            false,
		errors.New("watch closed"):                                                            false,
		context.DeadlineExceeded:                                                              false,
	} {
		if got := IsPermanent(err); got != want {
			t.Errorf("IsPermanent(%v) = %v, want %v", err, got, want)
		}
	}
}
