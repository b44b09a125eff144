package rollout

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/argodeploy/argodeploy/pkg/mapping"
)

// maxEntryBytes bounds a cache entry: a ConfigMap holds at most 1 MiB.
const maxEntryBytes = 1 << 20

// LoadService reads the cache entry of service name: the file
// <cacheDir>/<name>, the JSON of the defaulted mapping.Service. Decoding
// is strict: unknown fields, trailing data and a name other than name are
// errors, and name must be a DNS label before it names a file.
func LoadService(cacheDir, name string) (mapping.Service, error) {
	var svc mapping.Service
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		return svc, fmt.Errorf("service name %q is not a DNS label: %s", name, strings.Join(errs, "; "))
	}
	path := filepath.Join(cacheDir, name)
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return svc, fmt.Errorf("service %s has no entry in the cache (%s)", name, path)
		}
		return svc, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxEntryBytes+1))
	if err != nil {
		return svc, err
	}
	if len(data) > maxEntryBytes {
		return svc, fmt.Errorf("cache entry %s is larger than %d bytes", path, maxEntryBytes)
	}
	svc, err = mapping.DecodeEntry(data)
	if err != nil {
		return mapping.Service{}, fmt.Errorf("%s: %v", path, err)
	}
	switch {
	case svc.Name != name:
		return mapping.Service{}, fmt.Errorf("cache entry %s is service %q, not %q", path, svc.Name, name)
	case svc.Image == "":
		return mapping.Service{}, fmt.Errorf("cache entry %s: service %s has no image", path, name)
	}
	return svc, nil
}
