package check

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// Decode is decode, for the tests of package check_test.
var Decode = decode

// ConvertSlow decodes u, of a kind in typedKinds, with apimachinery's
// converter alone: the verdict and object Decode must reproduce.
func ConvertSlow(u *unstructured.Unstructured, strict bool) (runtime.Object, error) {
	obj := typedKinds[u.GroupVersionKind().GroupKind()].newObj()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, obj, strict); err != nil {
		return u, err
	}
	return obj, nil
}

// TypedObjects returns a new object of each kind in typedKinds.
func TypedObjects() []runtime.Object {
	var objs []runtime.Object
	for _, k := range typedKinds {
		objs = append(objs, k.newObj())
	}
	return objs
}

// IsTyped reports whether u is of a kind in typedKinds at its version.
func IsTyped(u *unstructured.Unstructured) bool {
	k, ok := typedKinds[u.GroupVersionKind().GroupKind()]
	return ok && k.version == u.GroupVersionKind().Version
}
