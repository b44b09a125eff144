// Command gen writes schemas/kinds: one standalone, strict JSON Schema
// (draft-07) per Kubernetes kind that argodeploy validates, derived from the
// upstream schemas of the module versions go.mod pins, with the upstream
// defects listed in schemas/README.md fixed. `make schemas` runs it from the
// repository root; rerunning it writes byte-identical files.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// Modules whose schemas are read, and the module whose version pins the
// Kubernetes release (k8s.io/api v0.X.Y belongs to Kubernetes v1.X.Y).
const (
	argoEventsModule    = "github.com/argoproj/argo-events"
	argoWorkflowsModule = "github.com/argoproj/argo-workflows/v3"
	kubernetesModule    = "k8s.io/kubernetes"
	kubernetesAPIModule = "k8s.io/api"
)

// source is one upstream schema file: a module at a version and the file's
// path inside it.
type source struct {
	module  string
	version string
	file    string
	// pinnedBy says which go.mod requirement the version comes from when
	// the module itself is not in go.mod.
	pinnedBy string
}

// kindSpec is one kind to write: the upstream definition it comes from.
type kindSpec struct {
	module     string
	definition string
	apiVersion string
	kind       string
}

var kindSpecs = []kindSpec{
	{argoEventsModule, "io.argoproj.events.v1alpha1.EventBus", "argoproj.io/v1alpha1", "EventBus"},
	{argoEventsModule, "io.argoproj.events.v1alpha1.EventSource", "argoproj.io/v1alpha1", "EventSource"},
	{argoEventsModule, "io.argoproj.events.v1alpha1.Sensor", "argoproj.io/v1alpha1", "Sensor"},
	{argoWorkflowsModule, "io.argoproj.workflow.v1alpha1.ClusterWorkflowTemplate", "argoproj.io/v1alpha1", "ClusterWorkflowTemplate"},
	{argoWorkflowsModule, "io.argoproj.workflow.v1alpha1.CronWorkflow", "argoproj.io/v1alpha1", "CronWorkflow"},
	{argoWorkflowsModule, "io.argoproj.workflow.v1alpha1.Workflow", "argoproj.io/v1alpha1", "Workflow"},
	{argoWorkflowsModule, "io.argoproj.workflow.v1alpha1.WorkflowTemplate", "argoproj.io/v1alpha1", "WorkflowTemplate"},
	{kubernetesModule, "io.k8s.api.core.v1.ConfigMap", "v1", "ConfigMap"},
	{kubernetesModule, "io.k8s.api.core.v1.Namespace", "v1", "Namespace"},
	{kubernetesModule, "io.k8s.api.core.v1.Secret", "v1", "Secret"},
	{kubernetesModule, "io.k8s.api.core.v1.ServiceAccount", "v1", "ServiceAccount"},
	{kubernetesModule, "io.k8s.api.rbac.v1.ClusterRole", "rbac.authorization.k8s.io/v1", "ClusterRole"},
	{kubernetesModule, "io.k8s.api.rbac.v1.ClusterRoleBinding", "rbac.authorization.k8s.io/v1", "ClusterRoleBinding"},
	{kubernetesModule, "io.k8s.api.rbac.v1.Role", "rbac.authorization.k8s.io/v1", "Role"},
	{kubernetesModule, "io.k8s.api.rbac.v1.RoleBinding", "rbac.authorization.k8s.io/v1", "RoleBinding"},
}

// versionsName is the name of the file in the output directory that records
// the upstream module versions the schemas come from.
const versionsName = "VERSIONS"

func main() {
	out := flag.String("out", "schemas/kinds", "directory to write the schemas to")
	flag.Parse()
	if err := generate(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// generate writes every kind's schema and the versions file into dir,
// removing the .json files of kinds no longer generated.
func generate(dir string) error {
	sources, err := pinnedSources()
	if err != nil {
		return err
	}
	files := map[string][]byte{}
	for _, src := range sources {
		defs, err := loadDefinitions(src)
		if err != nil {
			return err
		}
		if err := fixDefects(src.module, defs); err != nil {
			return fmt.Errorf("%s@%s: %w", src.module, src.version, err)
		}
		for _, k := range kindSpecs {
			if k.module != src.module {
				continue
			}
			schema, err := standalone(defs, k)
			if err != nil {
				return fmt.Errorf("%s@%s: %w", src.module, src.version, err)
			}
			files[fileName(k.apiVersion, k.kind)] = schema
		}
	}
	files[versionsName] = versionsFile(sources)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	stale, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return err
	}
	for _, path := range stale {
		if _, ok := files[filepath.Base(path)]; !ok {
			if err := os.Remove(path); err != nil {
				return err
			}
		}
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// fileName is where kubeconform looks for a kind's schema with
// -schema-location '{{ .ResourceKind }}-{{ .ResourceAPIVersion }}.json':
// the lower-cased kind and the version without its group.
func fileName(apiVersion, kind string) string {
	version := apiVersion[strings.LastIndex(apiVersion, "/")+1:]
	return strings.ToLower(kind) + "-" + version + ".json"
}

// pinnedSources reads the versions go.mod requires for the upstream modules.
func pinnedSources() ([]source, error) {
	required, err := goModRequirements()
	if err != nil {
		return nil, err
	}
	version := func(module string) (string, error) {
		v, ok := required[module]
		if !ok {
			return "", fmt.Errorf("go.mod does not require %s", module)
		}
		return v, nil
	}
	events, err := version(argoEventsModule)
	if err != nil {
		return nil, err
	}
	workflows, err := version(argoWorkflowsModule)
	if err != nil {
		return nil, err
	}
	api, err := version(kubernetesAPIModule)
	if err != nil {
		return nil, err
	}
	kubernetes, err := kubernetesVersion(api)
	if err != nil {
		return nil, err
	}
	return []source{
		{module: argoEventsModule, version: events, file: "api/jsonschema/schema.json"},
		{module: argoWorkflowsModule, version: workflows, file: "api/jsonschema/schema.json"},
		{module: kubernetesModule, version: kubernetes, file: "api/openapi-spec/swagger.json", pinnedBy: kubernetesAPIModule + " " + api},
	}, nil
}

// kubernetesVersion is the Kubernetes release a k8s.io/api version belongs
// to: v0.X.Y is published from Kubernetes v1.X.Y.
func kubernetesVersion(apiVersion string) (string, error) {
	rest, ok := strings.CutPrefix(apiVersion, "v0.")
	if !ok || strings.ContainsAny(rest, "-+") {
		return "", fmt.Errorf("cannot derive the Kubernetes release from %s %s", kubernetesAPIModule, apiVersion)
	}
	return "v1." + rest, nil
}

// goModRequirements maps each module go.mod requires to its version.
func goModRequirements() (map[string]string, error) {
	gomod, err := goCommand("", "env", "GOMOD")
	if err != nil {
		return nil, err
	}
	path := strings.TrimSpace(string(gomod))
	if path == "" || path == os.DevNull {
		return nil, errors.New("not inside the argodeploy module")
	}
	out, err := goCommand("", "mod", "edit", "-json", path)
	if err != nil {
		return nil, err
	}
	var mod struct {
		Require []struct{ Path, Version string }
	}
	if err := json.Unmarshal(out, &mod); err != nil {
		return nil, fmt.Errorf("go mod edit -json: %w", err)
	}
	required := map[string]string{}
	for _, r := range mod.Require {
		required[r.Path] = r.Version
	}
	return required, nil
}

// moduleDir downloads module@version into the module cache, if it is not
// there yet, and returns its directory. It runs outside the main module so
// that go.mod and go.sum stay untouched.
func moduleDir(module, version string) (string, error) {
	out, err := goCommand(os.TempDir(), "mod", "download", "-json", module+"@"+version)
	if err != nil {
		return "", err
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		return "", fmt.Errorf("go mod download %s@%s: %w", module, version, err)
	}
	if info.Error != "" || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: %s", module, version, info.Error)
	}
	return info.Dir, nil
}

func goCommand(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// loadDefinitions reads the "definitions" object of a source's schema file,
// keeping numbers as written.
func loadDefinitions(src source) (map[string]any, error) {
	dir, err := moduleDir(src.module, src.version)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(dir, src.file))
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc struct {
		Definitions map[string]any `json:"definitions"`
	}
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s@%s/%s: %w", src.module, src.version, src.file, err)
	}
	if len(doc.Definitions) == 0 {
		return nil, fmt.Errorf("%s@%s/%s: no definitions", src.module, src.version, src.file)
	}
	return doc.Definitions, nil
}

// versionsFile records where the schemas come from.
func versionsFile(sources []source) []byte {
	var b strings.Builder
	b.WriteString("# Upstream schemas of schemas/kinds/*.json. Generated by `make schemas`; do not edit.\n")
	b.WriteString("# module version file [pinned by]\n")
	for _, s := range sources {
		fmt.Fprintf(&b, "%s %s %s", s.module, s.version, s.file)
		if s.pinnedBy != "" {
			fmt.Fprintf(&b, " %s", s.pinnedBy)
		}
		b.WriteString("\n")
	}
	return []byte(b.String())
}

const definitionsPrefix = "#/definitions/"

// standalone builds the schema of one kind: the kind's definition at the
// top, apiVersion and kind required and fixed to their values, the
// definitions it reaches below it, every object that lists its properties
// closed to other properties, and documentation keywords dropped.
func standalone(defs map[string]any, k kindSpec) ([]byte, error) {
	rootDef, ok := defs[k.definition].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("no definition %s", k.definition)
	}
	root := deepCopy(rootDef).(map[string]any)
	props, ok := root["properties"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("definition %s has no properties", k.definition)
	}
	props["apiVersion"] = map[string]any{"type": "string", "const": k.apiVersion}
	props["kind"] = map[string]any{"type": "string", "const": k.kind}
	root["required"] = withRequired(root["required"], "apiVersion", "kind")

	reached := map[string]any{}
	if err := collectRefs(root, defs, reached); err != nil {
		return nil, fmt.Errorf("%s: %w", k.definition, err)
	}
	for name, def := range reached {
		reached[name] = deepCopy(def)
	}
	if len(reached) > 0 {
		root["definitions"] = reached
	}
	root["$schema"] = "http://json-schema.org/draft-07/schema#"
	tidy(root)

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(root); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// withRequired adds names to a "required" list, keeping it sorted.
func withRequired(required any, names ...string) []any {
	set := map[string]bool{}
	list, _ := required.([]any)
	for _, r := range list {
		set[r.(string)] = true
	}
	for _, n := range names {
		set[n] = true
	}
	out := make([]any, 0, len(set))
	for _, n := range slices.Sorted(maps.Keys(set)) {
		out = append(out, n)
	}
	return out
}

// collectRefs adds to reached every definition that node refers to,
// directly or through other definitions.
func collectRefs(node any, defs, reached map[string]any) error {
	switch n := node.(type) {
	case map[string]any:
		for key, v := range n {
			if key != "$ref" {
				if err := collectRefs(v, defs, reached); err != nil {
					return err
				}
				continue
			}
			ref, _ := v.(string)
			name, ok := strings.CutPrefix(ref, definitionsPrefix)
			if !ok {
				return fmt.Errorf("non-local $ref %q", ref)
			}
			if _, done := reached[name]; done {
				continue
			}
			def, ok := defs[name]
			if !ok {
				return fmt.Errorf("dangling $ref %q", ref)
			}
			reached[name] = def
			if err := collectRefs(def, defs, reached); err != nil {
				return err
			}
		}
	case []any:
		for _, v := range n {
			if err := collectRefs(v, defs, reached); err != nil {
				return err
			}
		}
	}
	return nil
}

// tidy walks a schema and its subschemas: it drops the keywords that only
// document (description, title, x-kubernetes-* other than
// x-kubernetes-preserve-unknown-fields) and closes every object schema that
// lists properties with additionalProperties: false, unless it says
// otherwise itself.
func tidy(schema map[string]any) {
	for key := range schema {
		switch {
		case key == "description", key == "title",
			strings.HasPrefix(key, "x-kubernetes-") && key != "x-kubernetes-preserve-unknown-fields":
			delete(schema, key)
		}
	}
	_, listsProperties := schema["properties"]
	_, hasAdditional := schema["additionalProperties"]
	preserve, _ := schema["x-kubernetes-preserve-unknown-fields"].(bool)
	if listsProperties && !hasAdditional && !preserve {
		schema["additionalProperties"] = false
	}
	for _, key := range []string{"properties", "definitions"} {
		if m, ok := schema[key].(map[string]any); ok {
			for _, sub := range m {
				tidySub(sub)
			}
		}
	}
	for _, key := range []string{"items", "additionalProperties", "not", "if", "then", "else"} {
		tidySub(schema[key])
	}
	for _, key := range []string{"allOf", "anyOf", "oneOf"} {
		if list, ok := schema[key].([]any); ok {
			for _, sub := range list {
				tidySub(sub)
			}
		}
	}
}

func tidySub(sub any) {
	if m, ok := sub.(map[string]any); ok {
		tidy(m)
	}
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		c := make(map[string]any, len(v))
		for k, e := range v {
			c[k] = deepCopy(e)
		}
		return c
	case []any:
		c := make([]any, len(v))
		for i, e := range v {
			c[i] = deepCopy(e)
		}
		return c
	default:
		return v
	}
}

// Definitions the defect fixes touch.
const (
	intOrStringDef = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
	quantityDef    = "io.k8s.apimachinery.pkg.api.resource.Quantity"
	eventsPrefix   = "io.argoproj.events.v1alpha1."
	workflowPrefix = "io.argoproj.workflow.v1alpha1."
)

// quantityPattern is the grammar of a resource.Quantity string, as
// Kubernetes writes it into the OpenAPI schemas of CRDs.
const quantityPattern = `^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$`

// fixDefects corrects, in a source's definitions, what its schema gets
// wrong about what the Go types, the API server and the controllers
// accept. Each fix names its defect; schemas/README.md lists them. A fix
// that no longer finds what it corrects is an error, so that an upstream
// change is noticed.
func fixDefects(module string, defs map[string]any) error {
	var errs []error
	check := func(err error) { errs = append(errs, err) }

	// Defect: IntOrString is typed string only (argo-workflows), so
	// retryStrategy.limit: 3, activeDeadlineSeconds: 300 or a probe's
	// port: 8080 are rejected; intstr.IntOrString takes both.
	check(replaceDefinition(defs, intOrStringDef, map[string]any{"type": []any{"integer", "string"}}))

	// Defect: Quantity is typed string only, so memory: 1 or cpu: 0.5 are
	// rejected; resource.Quantity takes a number too. Strings must follow
	// its grammar.
	check(replaceDefinition(defs, quantityDef, map[string]any{"type": []any{"string", "number"}, "pattern": quantityPattern}))

	switch module {
	case argoEventsModule:
		// Defect: required fields that the Go type does not mark
		// omitempty but the controllers treat as optional.
		for _, f := range []struct{ def, field string }{
			// Only event sources that register webhooks (GitHub,
			// GitLab, ...) use url; the webhook validation skips it.
			{"WebhookContext", "url"},
			{"WebhookEventSource", "url"},
			// Either queueName or topicName with subscriptionName;
			// the upstream validation enforces the pairing.
			{"AzureServiceBusEventSource", "queueName"},
			{"AzureServiceBusEventSource", "topicName"},
			{"AzureServiceBusEventSource", "subscriptionName"},
			{"AzureServiceBusTrigger", "queueName"},
			{"AzureServiceBusTrigger", "topicName"},
			{"AzureServiceBusTrigger", "subscriptionName"},
			// A context filter compares only the attributes it sets.
			{"EventContext", "id"},
			{"EventContext", "source"},
			{"EventContext", "specversion"},
			{"EventContext", "type"},
			{"EventContext", "datacontenttype"},
			{"EventContext", "subject"},
			{"EventContext", "time"},
			// The HTTP and custom triggers send an empty body
			// without payload; secure defaults to false.
			{"HTTPTrigger", "payload"},
			{"CustomTrigger", "payload"},
			{"CustomTrigger", "secure"},
			// errorOnBackoffTimeout defaults to false.
			{"K8SResourcePolicy", "errorOnBackoffTimeout"},
			// The minio source filters on prefix, suffix or both.
			{"S3Filter", "prefix"},
			{"S3Filter", "suffix"},
		} {
			check(makeOptional(defs, eventsPrefix+f.def, f.field))
		}
	case argoWorkflowsModule:
		// Defect: required fields the controller treats as optional.
		for _, f := range []struct{ def, field string }{
			// The image may come from spec.templateDefaults; the
			// workflow validation checks that one of them is set.
			{"io.k8s.api.core.v1.Container", "image"},
			{workflowPrefix + "ScriptTemplate", "image"},
			// realtime defaults to false.
			{workflowPrefix + "Gauge", "realtime"},
			// An empty maxAge means cache entries never expire.
			{workflowPrefix + "Memoize", "maxAge"},
		} {
			check(makeOptional(defs, f.def, f.field))
		}
		// Defect: memoize.cache.configMap is a ConfigMapKeySelector,
		// whose key is required, but the cache uses only the name.
		check(memoizeCacheConfigMap(defs))
		// Defect: AnyString (a parameter's value, default, enum and
		// description, valueFrom.default) is typed string only, but
		// it takes a number or a boolean too (value: 1, default: true).
		for _, f := range []struct{ def, field string }{
			{"Parameter", "value"},
			{"Parameter", "default"},
			{"Parameter", "description"},
			{"ValueFrom", "default"},
		} {
			check(replaceProperty(defs, workflowPrefix+f.def, f.field, anyString()))
		}
		check(replaceProperty(defs, workflowPrefix+"Parameter", "enum", map[string]any{"type": "array", "items": anyString()}))
	}

	// Defect: no optional field accepts null, but Kubernetes and the Go
	// types read null as unset, and the upstream Go types write it for
	// fields without omitempty (kubectl's creationTimestamp: null, a
	// Sensor's loggingFields: null).
	for _, name := range slices.Sorted(maps.Keys(defs)) {
		if def, ok := defs[name].(map[string]any); ok {
			acceptNullWhenOptional(def)
		}
	}
	return errors.Join(errs...)
}

// anyString is the schema of argo-workflows' AnyString: a string, number
// or boolean, read as a string.
func anyString() map[string]any {
	return map[string]any{"type": []any{"string", "number", "boolean"}}
}

// replaceDefinition sets the schema of a definition.
func replaceDefinition(defs map[string]any, name string, schema map[string]any) error {
	if _, ok := defs[name]; !ok {
		return fmt.Errorf("no definition %s to fix", name)
	}
	defs[name] = schema
	return nil
}

// property returns a definition's properties and the schema of one.
func property(defs map[string]any, def, field string) (map[string]any, map[string]any, error) {
	d, _ := defs[def].(map[string]any)
	props, _ := d["properties"].(map[string]any)
	p, ok := props[field].(map[string]any)
	if !ok {
		return nil, nil, fmt.Errorf("no property %s in %s to fix", field, def)
	}
	return props, p, nil
}

// replaceProperty sets the schema of a definition's property.
func replaceProperty(defs map[string]any, def, field string, schema map[string]any) error {
	props, _, err := property(defs, def, field)
	if err != nil {
		return err
	}
	props[field] = schema
	return nil
}

// makeOptional removes a field from a definition's required list.
func makeOptional(defs map[string]any, def, field string) error {
	d, _ := defs[def].(map[string]any)
	required, _ := d["required"].([]any)
	for i, r := range required {
		if r == field {
			required = append(required[:i:i], required[i+1:]...)
			if len(required) == 0 {
				delete(d, "required")
			} else {
				d["required"] = required
			}
			return nil
		}
	}
	return fmt.Errorf("%s is not required in %s; drop its fix", field, def)
}

// memoizeCacheConfigMap points memoize.cache.configMap at a copy of
// ConfigMapKeySelector in which key is optional.
func memoizeCacheConfigMap(defs map[string]any) error {
	const selector = "io.k8s.api.core.v1.ConfigMapKeySelector"
	const cacheSelector = workflowPrefix + "Cache.configMap"
	_, p, err := property(defs, workflowPrefix+"Cache", "configMap")
	if err != nil {
		return err
	}
	if p["$ref"] != definitionsPrefix+selector {
		return fmt.Errorf("%sCache.configMap is not a %s; drop its fix", workflowPrefix, selector)
	}
	defs[cacheSelector] = deepCopy(defs[selector])
	p["$ref"] = definitionsPrefix + cacheSelector
	return makeOptional(defs, cacheSelector, "key")
}

// acceptNullWhenOptional lets every property of schema and its subschemas
// that is not required be null as well.
func acceptNullWhenOptional(schema map[string]any) {
	props, _ := schema["properties"].(map[string]any)
	required := map[string]bool{}
	list, _ := schema["required"].([]any)
	for _, r := range list {
		required[r.(string)] = true
	}
	for name, p := range props {
		sub, ok := p.(map[string]any)
		if !ok {
			continue
		}
		acceptNullWhenOptional(sub)
		if !required[name] {
			props[name] = nullable(sub)
		}
	}
	for _, key := range []string{"items", "additionalProperties"} {
		if sub, ok := schema[key].(map[string]any); ok {
			acceptNullWhenOptional(sub)
		}
	}
}

// nullable returns a schema that accepts null and what schema accepts.
// A $ref cannot take a type beside it, so it goes in an if/else.
func nullable(schema map[string]any) map[string]any {
	if _, ok := schema["$ref"]; ok {
		return map[string]any{"if": map[string]any{"type": "null"}, "else": schema}
	}
	switch t := schema["type"].(type) {
	case string:
		schema["type"] = []any{t, "null"}
	case []any:
		if !slices.Contains(t, any("null")) {
			schema["type"] = append(t, "null")
		}
	}
	return schema
}
