package check

import (
	"github.com/argodeploy/argodeploy/pkg/kinds"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// ConvertSlow decodes u, of a kind in kinds.ByGroupKind, with apimachinery's
// converter alone: the verdict and object Decode must reproduce.
func ConvertSlow(u *unstructured.Unstructured, strict bool) (runtime.Object, error) {
	obj := kinds.ByGroupKind[u.GroupVersionKind().GroupKind()].New()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, obj, strict); err != nil {
		return u, err
	}
	return obj, nil
}

// TypedObjects returns a new object of each kind in kinds.ByGroupKind.
func TypedObjects() []runtime.Object {
	var objs []runtime.Object
	for _, k := range kinds.ByGroupKind {
		objs = append(objs, k.New())
	}
	return objs
}

// IsTyped reports whether u is of a kind in kinds.ByGroupKind at its version.
func IsTyped(u *unstructured.Unstructured) bool {
	k, ok := kinds.ByGroupKind[u.GroupVersionKind().GroupKind()]
	return ok && k.Version == u.GroupVersionKind().Version
}

// NewTyped returns a new object of u's kind.
func NewTyped(u *unstructured.Unstructured) runtime.Object {
	return kinds.ByGroupKind[u.GroupVersionKind().GroupKind()].New()
}
