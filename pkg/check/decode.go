package check

import (
	"encoding/json"
	"fmt"
	"runtime"

	"github.com/argodeploy/argodeploy/pkg/kinds"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	sigsjson "sigs.k8s.io/json"
)

// inputs are the objects of one check, decoded once for every layer.
type inputs struct {
	// objs are the objects, typed where they decode; an object that does
	// not decode is there as its stand-in, when it has one (standIn), so
	// that the other objects are checked against it, else unstructured.
	objs []kruntime.Object
	// errs are the decode errors, per object: the later layers report
	// nothing of an object that has one.
	errs []error
	// broken are the objects without a stand-in, by kind/namespace/name:
	// they exist, so they are not reported missing, but their content is
	// unknown.
	broken map[string]bool
}

// decodeInputs decodes objs for the layers, reporting unknown fields if
// strict.
func decodeInputs(objs []kruntime.Object, strict bool) *inputs {
	in := &inputs{broken: map[string]bool{}}
	in.objs, in.errs = decodeAllWith(objs, strict)
	for i, err := range in.errs {
		if err == nil {
			continue
		}
		u := in.objs[i].(*unstructured.Unstructured)
		if obj := standIn(u); obj != nil {
			in.objs[i] = obj
		} else {
			in.broken[u.GetKind()+"/"+u.GetNamespace()+"/"+u.GetName()] = true
		}
	}
	return in
}

// skipped reports whether the later layers leave object i out: it did
// not decode.
func (in *inputs) skipped(i int) bool { return in.errs[i] != nil }

// standIn is u, which does not decode strictly, as its controller reads
// it: unknown fields ignored. It is nil when u does not decode even so (a
// wrong apiVersion, a value of the wrong type): its controller cannot
// read it either.
func standIn(u *unstructured.Unstructured) kruntime.Object {
	if obj, err := Decode(u, false); err == nil {
		if _, still := obj.(*unstructured.Unstructured); !still {
			return obj
		}
	}
	return nil
}

// decodeAllWith decodes the unstructured objects among objs, on every
// CPU; strict reports unknown fields.
func decodeAllWith(objs []kruntime.Object, strict bool) ([]kruntime.Object, []error) {
	decoded := make([]kruntime.Object, len(objs))
	errs := make([]error, len(objs))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i := range objs {
		g.Go(func() error {
			decoded[i] = objs[i]
			if u, ok := objs[i].(*unstructured.Unstructured); ok {
				decoded[i], errs[i] = Decode(u, strict)
			}
			return nil // each object's error is its own
		})
	}
	g.Wait()
	return decoded, errs
}

// Decode converts an unstructured object of a kind in kinds.ByGroupKind to its
// type, reporting unknown fields if strict. It returns other objects, and
// objects it cannot convert, as they are. All takes the objects it returns
// as they are: the caller may decode each as it is read and let go of u.
//
// The verdict and the object are apimachinery's
// FromUnstructuredWithValidation's. An object that decodes cleanly is
// decoded through JSON (but for dataKinds, which the converter decodes),
// case-sensitively as the API server does, which
// gives the same object (TestFastDecodeMatchesConverter) without the
// converter's field cache: it copies itself whole for each new struct
// field it learns, which costs some 45 ms of CPU in a fresh process for
// the Argo types. Anything the JSON decoder rejects goes to the converter,
// so errors are the converter's own.
func Decode(u *unstructured.Unstructured, strict bool) (kruntime.Object, error) {
	return decodeData(u, nil, strict)
}

// decodeData is Decode for u whose JSON is data, or nil to marshal u.
func decodeData(u *unstructured.Unstructured, data []byte, strict bool) (kruntime.Object, error) {
	gvk := u.GroupVersionKind()
	typed, ok := kinds.ByGroupKind[gvk.GroupKind()]
	if !ok {
		if want, known := groupVersions[gvk.Kind]; known {
			// A kind of the pipeline under another API would pass by
			// being checked by nothing.
			return u, fmt.Errorf("apiVersion %q: want %q", u.GetAPIVersion(), want)
		}
		return u, nil
	}
	if gvk.Version != typed.Version {
		return u, fmt.Errorf("apiVersion %q: want %q", gvk.GroupVersion(), gvk.GroupKind().WithVersion(typed.Version).GroupVersion())
	}
	if !dataKinds[gvk.Kind] {
		if obj := typed.New(); decodeJSON(u.Object, data, obj, strict) == nil {
			return obj, nil
		}
	}
	obj := typed.New()
	if err := kruntime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, obj, strict); err != nil {
		return u, err
	}
	return obj, nil
}

// dataKinds hold mostly strings, which JSON would escape and unescape: the
// converter copies them. A 10,000-service pipeline's cache ConfigMaps
// (4 MB of entries) decode in 4 ms of CPU instead of 65 ms, and the
// converter learns these small types at little cost.
var dataKinds = map[string]bool{"ConfigMap": true, "Secret": true}

// groupVersions are the apiVersions of the kinds in kinds.ByGroupKind, by
// kind.
var groupVersions = func() map[string]string {
	out := map[string]string{}
	for gk, typed := range kinds.ByGroupKind {
		out[gk.Kind] = gk.WithVersion(typed.Version).GroupVersion().String()
	}
	return out
}()

// decodeJSON decodes from into obj through JSON, data if it is not nil,
// case-sensitively and keeping integers as int64; strict fails on unknown
// fields.
func decodeJSON(from map[string]any, data []byte, obj any, strict bool) error {
	if data == nil {
		var err error
		if data, err = json.Marshal(from); err != nil {
			return err
		}
	}
	if !strict {
		return sigsjson.UnmarshalCaseSensitivePreserveInts(data, obj)
	}
	strictErrs, err := sigsjson.UnmarshalStrict(data, obj)
	if err == nil && len(strictErrs) > 0 {
		err = strictErrs[0]
	}
	return err
}
