package rollout

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/argodeploy/argodeploy/pkg/mapping"
)

// Route is one rollout a push starts: a target of the service whose image
// was pushed, and the lock of the Deployment it rolls. The release's first
// step prints a push's routes; a rollout step runs for each.
type Route struct {
	Service string `json:"service"`
	Target  string `json:"target"`
	Lock    string `json:"lock"`
	// Approval says the release waits for argodeploy approve before it
	// rolls the target.
	Approval bool `json:"approval"`
}

// Lookup finds the service of an image in the cache.
type Lookup func(image string) (mapping.Service, error)

// Routes looks up the service whose image the push's digest names, and
// returns the targets of it that take the push (Admit), in mapping order;
// the others are logged to log with the reason. The image is only a
// lookup key: which Deployments roll comes from the entry. An image with
// no entry, or a push that is not a well-formed push of that image, is an
// error.
func Routes(lookup Lookup, p Push, log io.Writer) ([]Route, error) {
	svc, err := serviceOf(lookup, p)
	if err != nil {
		return nil, err
	}
	routes := []Route{}
	for i := range svc.Targets {
		t := &svc.Targets[i]
		switch d := Admit(&svc, t, p); d.Action {
		case Refuse:
			return nil, fmt.Errorf("service %s: %s", svc.Name, d.Reason)
		case Skip:
			fmt.Fprintf(log, "%s/%s: skip: %s\n", svc.Name, t.Name, d.Reason)
		default:
			routes = append(routes, Route{Service: svc.Name, Target: t.Name, Lock: t.Lock(), Approval: t.Approval})
		}
	}
	return routes, nil
}

// serviceOf looks up the service of the image p's digest names.
func serviceOf(lookup Lookup, p Push) (mapping.Service, error) {
	image, _, ok := strings.Cut(p.Digest, "@")
	if !ok {
		return mapping.Service{}, fmt.Errorf("digest %q names no image: want <image>@sha256:<hex>", p.Digest)
	}
	return lookup(image)
}

// RollbackRoute is Routes for a rollback of target: the one route of it,
// when it is a target of the service whose image the push's digest names
// and its strategy can pin the digest (CheckRollback). A rollback does not
// wait for approval: whoever may create it has decided.
func RollbackRoute(lookup Lookup, p Push, target string) ([]Route, error) {
	svc, err := serviceOf(lookup, p)
	if err != nil {
		return nil, err
	}
	t := svc.Target(target)
	if t == nil {
		return nil, fmt.Errorf("rollback: service %s (image %s) has no target %q", svc.Name, svc.Image, target)
	}
	if err := CheckRollback(&svc, t, p); err != nil {
		return nil, fmt.Errorf("rollback of %s: %v", target, err)
	}
	return []Route{{Service: svc.Name, Target: t.Name, Lock: t.Lock()}}, nil
}

// DirLookup looks images up in the cache entries in cacheDir: the files a
// ConfigMap volume shows, its dot-files left out.
func DirLookup(cacheDir string) Lookup {
	return func(image string) (mapping.Service, error) { return serviceIn(cacheDir, image) }
}

func serviceIn(cacheDir, image string) (mapping.Service, error) {
	services, err := LoadServices(cacheDir)
	if err != nil {
		return mapping.Service{}, err
	}
	for _, svc := range services {
		if svc.Image == image {
			return svc, nil
		}
	}
	return mapping.Service{}, UnknownImage(image, cacheDir, len(services))
}

// LoadServices reads every cache entry in cacheDir (LoadService), by name:
// the files a ConfigMap volume shows, its dot-files left out.
func LoadServices(cacheDir string) ([]mapping.Service, error) {
	entries, err := os.ReadDir(cacheDir)
	if err != nil {
		return nil, fmt.Errorf("cache: %v", err)
	}
	var names []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	services := make([]mapping.Service, 0, len(names))
	for _, name := range names {
		svc, err := LoadService(cacheDir, name)
		if err != nil {
			return nil, err
		}
		services = append(services, svc)
	}
	return services, nil
}

// UnknownImage is the error of an image the cache has no service of.
func UnknownImage(image, cache string, entries int) error {
	return fmt.Errorf("image %s has no service in the cache (%s, %d entries): the Sensor's filter and the cache disagree; regenerate and apply both", image, cache, entries)
}
