package mapping

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp/syntax"
	"sync"
	"time"

	"github.com/Masterminds/semver/v3"
	sigsjson "sigs.k8s.io/json"
)

// EncodeEntry is the cache ConfigMap value of a defaulted service: its JSON,
// indented so that the ConfigMap reads well, which the rollout step reads
// back with DecodeEntry. It holds everything the step may act on, so nothing
// it rolls comes from event text.
func EncodeEntry(s Service) (string, error) {
	data, err := json.MarshalIndent(s, "", "  ")
	return string(data) + "\n", err
}

// DecodeEntry reads a cache entry written by EncodeEntry as the API server
// reads JSON: field names match exactly, and an unknown or repeated field
// is an error.
func DecodeEntry(data []byte) (Service, error) {
	var s Service
	strict, err := sigsjson.UnmarshalStrict(data, &s)
	if err == nil {
		err = errors.Join(strict...)
	}
	if err != nil {
		return Service{}, fmt.Errorf("cache entry: %w", err)
	}
	if len(s.Targets) == 0 {
		return Service{}, fmt.Errorf("cache entry of service %q lists no targets", s.Name)
	}
	return s, nil
}

// CheckEntry reports what makes s, a decoded cache entry, other than what
// EncodeEntry writes for a defaulted service the loader accepts. It
// restates, per target, the loader's rules the steps depend on rather than
// loading the entry as a mapping: Parse takes about 0.5 ms per service,
// which would more than double validate's time at 1,000 services. Every
// target named, once, with its namespace, Deployment and container, a known
// strategy and policy, a tagPattern that compiles, after naming another of
// its targets with a soak that is a duration, and no two targets rolling
// one container.
func CheckEntry(s Service) error {
	var errs []error
	if s.Name == "" || s.Image == "" {
		errs = append(errs, fmt.Errorf("the entry names no service or image"))
	}
	names := map[string]bool{}
	containers := map[string]string{}
	for i, t := range s.Targets {
		what := func() string { return fmt.Sprintf("target %d (%q)", i, t.Name) } // only on a finding
		switch {
		case t.Name == "":
			errs = append(errs, fmt.Errorf("%s has no name: the route step could name no target to roll", what()))
		case names[t.Name]:
			errs = append(errs, fmt.Errorf("%s is listed twice: each push would roll it twice", what()))
		}
		names[t.Name] = true
		if t.Namespace == "" || t.Deployment == "" || t.Container == "" {
			errs = append(errs, fmt.Errorf("%s lacks its namespace, deployment or container", what()))
		}
		if t.Strategy != StrategyRestart && t.Strategy != StrategySetImage {
			errs = append(errs, fmt.Errorf("%s: strategy %q is neither %s nor %s", what(), t.Strategy, StrategyRestart, StrategySetImage))
		}
		if t.Policy != PolicyPublishTime && t.Policy != PolicySemver {
			errs = append(errs, fmt.Errorf("%s: policy %q is neither %s nor %s", what(), t.Policy, PolicyPublishTime, PolicySemver))
		}
		if _, err := semver.NewConstraint(t.SemverRange); t.SemverRange != "" && err != nil {
			errs = append(errs, fmt.Errorf("%s: semverRange %q is not a semver range", what(), t.SemverRange))
		}
		if !tagPatternParses(t.TagPattern) {
			errs = append(errs, fmt.Errorf("%s: tagPattern %q is not a regular expression", what(), t.TagPattern))
		}
		if c := t.ClusterName() + "/" + t.Namespace + "/" + t.Deployment + "/" + t.Container; containers[c] != "" {
			errs = append(errs, fmt.Errorf("%s rolls the container target %q rolls", what(), containers[c]))
		} else {
			containers[c] = t.Name
		}
	}
	for i, t := range s.Targets {
		if t.After != "" && (t.After == t.Name || s.Target(t.After) == nil) {
			errs = append(errs, fmt.Errorf("target %d (%q): after %q names no other target of the service", i, t.Name, t.After))
		}
		if t.Soak != "" {
			if d, err := time.ParseDuration(t.Soak); err != nil || d <= 0 || t.After == "" {
				errs = append(errs, fmt.Errorf("target %d (%q): soak %q is not a positive duration after another target: the step could not tell when to roll", i, t.Name, t.Soak))
			}
		}
	}
	return errors.Join(errs...)
}

// parsedPatterns remembers which tag patterns parse: entries repeat them.
var parsedPatterns sync.Map

// tagPatternParses reports whether p is a regular expression, matched
// whole.
func tagPatternParses(p string) bool {
	if ok, seen := parsedPatterns.Load(p); seen {
		return ok.(bool)
	}
	_, err := syntax.Parse("^(?:"+p+")$", syntax.Perl)
	ok := err == nil && p != ""
	parsedPatterns.Store(p, ok)
	return ok
}
