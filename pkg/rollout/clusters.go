package rollout

import (
	"context"
	"errors"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/argodeploy/argodeploy/pkg/mapping"
)

// Clusters returns the client of the cluster a target's Deployment lives in.
type Clusters func(ctx context.Context, t *mapping.Target) (appsv1client.DeploymentsGetter, error)

// Local is the client of the cluster the step runs in, as far as the step
// uses it: a kubernetes.Interface is one. Asking for no more keeps the
// typed clients of every other API group out of the binary.
type Local interface {
	AppsV1() appsv1client.AppsV1Interface
	CoreV1() corev1client.CoreV1Interface
}

// NewClusters returns the Clusters of the pipeline: local for targets
// without a cluster; for the others a client built from the kubeconfig in
// key t.Cluster.KubeconfigSecret.Key of Secret
// t.Cluster.KubeconfigSecret.Name in namespace, read through local. It
// builds one client per cluster name.
func NewClusters(local Local, namespace string) Clusters {
	var (
		mu      sync.Mutex
		clients = map[string]appsv1client.DeploymentsGetter{}
	)
	return func(ctx context.Context, t *mapping.Target) (appsv1client.DeploymentsGetter, error) {
		if t.Cluster == nil {
			return local.AppsV1(), nil
		}
		mu.Lock()
		defer mu.Unlock()
		if c, ok := clients[t.Cluster.Name]; ok {
			return c, nil
		}
		ref := t.Cluster.KubeconfigSecret
		if namespace == "" {
			return nil, permanent(fmt.Errorf("cluster %s: no namespace to read kubeconfig Secret %s from (set POD_NAMESPACE)", t.Cluster.Name, ref.Name))
		}
		secret, err := local.CoreV1().Secrets(namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("cluster %s: reading kubeconfig Secret %s/%s: %w", t.Cluster.Name, namespace, ref.Name, err)
		}
		data, ok := secret.Data[ref.Key]
		if !ok {
			return nil, permanent(fmt.Errorf("cluster %s: Secret %s/%s has no key %q", t.Cluster.Name, namespace, ref.Name, ref.Key))
		}
		config, err := clientcmd.RESTConfigFromKubeConfig(data)
		if err != nil {
			return nil, permanent(fmt.Errorf("cluster %s: kubeconfig in Secret %s/%s key %s: %v", t.Cluster.Name, namespace, ref.Name, ref.Key, err))
		}
		client, err := appsv1client.NewForConfig(config)
		if err != nil {
			return nil, permanent(fmt.Errorf("cluster %s: %v", t.Cluster.Name, err))
		}
		clients[t.Cluster.Name] = client
		return client, nil
	}
}

// permanentError is an error that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// permanent marks err as one that retrying cannot fix.
func permanent(err error) error { return &permanentError{err} }

// IsPermanent reports whether retrying cannot fix err: the API answered
// NotFound, Forbidden or Invalid, or the step's own input is wrong.
// Everything else (timeouts, connection errors, conflicts, throttling) is
// transient.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p) || apierrors.IsNotFound(err) || apierrors.IsForbidden(err) || apierrors.IsInvalid(err)
}
