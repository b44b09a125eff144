package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp/syntax"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/argodeploy/argodeploy/pkg/yamlnode"
	"github.com/argodeploy/argodeploy/schemas"
)

var update = flag.Bool("update", false, "rewrite the expected .err files of testdata/mappings/bad")

// repo is the repository root seen from this package; files are named
// relative to it in errors.
const repo = "../../"

func readCorpus(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repo, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestParseGood(t *testing.T) {
	limit := func(n int32) *int32 { return &n }
	prodEU := &Cluster{Name: "prod-eu", KubeconfigSecret: SecretKeyRef{Name: "prod-eu-kubeconfig", Key: "config"}}
	version := `v[0-9]+\.[0-9]+\.[0-9]+`
	tests := []struct {
		file string
		want ServiceMapping
	}{
		{
			file: "testdata/mappings/good/minimal.yaml",
			want: ServiceMapping{
				APIVersion: APIVersion,
				Kind:       Kind,
				Metadata:   Metadata{Name: "shop"},
				Spec: Spec{
					Namespace: DefaultNamespace,
					GCP:       GCP{Project: "my-project", Topic: DefaultTopic, Subscription: "argodeploy-shop"},
					EventBus: EventBus{
						Name:      DefaultEventBusName,
						JetStream: JetStream{Version: DefaultJetStreamVersion, Replicas: DefaultJetStreamReplica, Storage: JetStreamStorage{Size: DefaultJetStreamStorage}},
					},
					Sensor:    defaultSensor(),
					Reconcile: Reconcile{Schedule: DefaultReconcileSchedule, DeadLetters: DeadLetters{Keep: DefaultDeadLetterKeep, MaxAge: DefaultDeadLetterMaxAge}},
					Workflow: Workflow{
						Image: DefaultImage,
						Retry: Retry{
							Limit:   limit(DefaultRetryLimit),
							Backoff: Backoff{Duration: DefaultRetryDuration, Factor: DefaultRetryFactor, MaxDuration: DefaultRetryMaxDuration},
						},
						Resources: Resources{
							Requests: ResourceList{CPU: DefaultCPURequest, Memory: DefaultMemoryRequest},
							Limits:   ResourceList{CPU: DefaultCPULimit, Memory: DefaultMemoryLimit},
						},
						TTL:             DefaultTTL,
						RolloutTimeout:  DefaultRolloutTimeout,
						ApprovalTimeout: DefaultApprovalTimeout,
					},
					Services: []Service{{
						Name:  "api",
						Image: "us-east1-docker.pkg.dev/my-project/apps/api",
						Targets: []Target{{
							Name:       "api",
							Namespace:  "shop",
							Deployment: "api",
							Container:  "api",
							Strategy:   StrategyRestart,
							TagPattern: DefaultTagPattern,
							Policy:     PolicyPublishTime,
						}},
					}},
				},
			},
		},
		{
			file: "testdata/mappings/good/full.yaml",
			want: ServiceMapping{
				APIVersion: APIVersion,
				Kind:       Kind,
				Metadata:   Metadata{Name: "shop"},
				Spec: Spec{
					Namespace: "ci",
					GCP: GCP{
						Project:          "my-project",
						Topic:            "gcr",
						TopicProject:     "registry-project",
						Subscription:     "shop-deploys",
						CredentialSecret: &SecretKeyRef{Name: "gcp-credentials", Key: "key.json"},
						ServiceAccount:   "argodeploy@my-project.iam.gserviceaccount.com",
					},
					EventBus:  EventBus{Name: "shop-bus", JetStream: JetStream{Version: "2.10.29", Replicas: 1, Storage: JetStreamStorage{Size: "2Gi", StorageClassName: "premium-rwo"}}},
					Sensor:    Sensor{Retry: TriggerRetry{Steps: 12, Duration: "5s", Factor: 3, Jitter: ptrTo(0.0)}},
					Reconcile: Reconcile{Schedule: "*/10 * * * *", Suspend: true, DeadLetters: DeadLetters{Keep: 20, MaxAge: "72h"}},
					Workflow: Workflow{
						Image: "ghcr.io/argodeploy/argodeploy:v0.1.9@sha256:5b0c3b4f6d7e8a9b0c1d2e3f405162738495a6b7c8d9eaf0b1c2d3e4f5061728",
						Retry: Retry{Limit: limit(0), Backoff: Backoff{Duration: "5s", Factor: 3, MaxDuration: "10m"}},
						Resources: Resources{
							Requests: ResourceList{CPU: "100m", Memory: "128Mi"},
							Limits:   ResourceList{CPU: "1", Memory: "512Mi"},
						},
						TTL:             "1h30m",
						RolloutTimeout:  "10m",
						ApprovalTimeout: DefaultApprovalTimeout,
					},
					Services: []Service{
						{
							Name:  "api",
							Image: "us-east1-docker.pkg.dev/registry-project/apps/api",
							Targets: []Target{{
								Name:       "api",
								Namespace:  "shop",
								Deployment: "api-server",
								Container:  "server",
								Cluster:    prodEU,
								Strategy:   StrategySetImage,
								TagPattern: `v[0-9]+\.[0-9]+\.[0-9]+`,
								Policy:     PolicyPublishTime,
							}},
							Metadata: map[string]string{
								"slack.channel": "#deploys",
								"post-hook":     "curl -fsS https://hooks.example.com/api",
							},
						},
						{
							Name:  "web",
							Image: "localhost:5000/shop/web",
							Targets: []Target{{
								Name:       "web",
								Namespace:  "shop",
								Deployment: "api-server",
								Container:  "web",
								Cluster:    prodEU,
								Strategy:   StrategyRestart,
								TagPattern: DefaultTagPattern,
								Policy:     PolicyPublishTime,
							}},
						},
					},
				},
			},
		},
		{
			file: "testdata/mappings/good/targets.yaml",
			want: ServiceMapping{
				APIVersion: APIVersion,
				Kind:       Kind,
				Metadata:   Metadata{Name: "shop"},
				Spec: Spec{
					Namespace: DefaultNamespace,
					GCP:       GCP{Project: "my-project", Topic: DefaultTopic, Subscription: "argodeploy-shop"},
					EventBus: EventBus{
						Name:      DefaultEventBusName,
						JetStream: JetStream{Version: DefaultJetStreamVersion, Replicas: DefaultJetStreamReplica, Storage: JetStreamStorage{Size: DefaultJetStreamStorage}},
					},
					Sensor:    defaultSensor(),
					Reconcile: Reconcile{Schedule: DefaultReconcileSchedule, DeadLetters: DeadLetters{Keep: DefaultDeadLetterKeep, MaxAge: DefaultDeadLetterMaxAge}},
					Workflow: Workflow{
						Image: "ghcr.io/argodeploy/argodeploy:v0.2.0",
						Retry: Retry{
							Limit:   limit(DefaultRetryLimit),
							Backoff: Backoff{Duration: DefaultRetryDuration, Factor: DefaultRetryFactor, MaxDuration: "1h15m"},
						},
						Resources: Resources{
							Requests: ResourceList{CPU: DefaultCPURequest, Memory: DefaultMemoryRequest},
							Limits:   ResourceList{CPU: DefaultCPULimit, Memory: DefaultMemoryLimit},
						},
						TTL:             DefaultTTL,
						RolloutTimeout:  "10m",
						ApprovalTimeout: DefaultApprovalTimeout,
					},
					Services: []Service{
						{
							Name:  "api",
							Image: "us-east1-docker.pkg.dev/my-project/apps/api",
							Targets: []Target{
								{
									Name:       "api-staging",
									Namespace:  "staging",
									Deployment: "api-server",
									Container:  "api-server",
									Strategy:   StrategySetImage,
									TagPattern: `main-[0-9a-f]{7,40}|` + version,
									Policy:     PolicyPublishTime,
								},
								{
									Name:        "api-prod",
									Namespace:   "prod",
									Deployment:  "api-server",
									Container:   "api-server",
									Strategy:    StrategySetImage,
									TagPattern:  version,
									Policy:      PolicySemver,
									SemverRange: "^1.2",
									After:       "api-staging",
									Soak:        "15m",
								},
								{
									Name:        "api-eu",
									Namespace:   "prod",
									Deployment:  "api-server",
									Container:   "api-server",
									Cluster:     prodEU,
									Strategy:    StrategyRestart,
									TagPattern:  version,
									Policy:      PolicySemver,
									SemverRange: "^1.2",
									After:       "api-prod",
									Soak:        "30m",
								},
							},
						},
						{
							Name:  "worker",
							Image: "us-east1-docker.pkg.dev/my-project/apps/worker",
							Targets: []Target{{
								Name:        "api-worker",
								Namespace:   "staging",
								Deployment:  "api-server",
								Container:   "worker",
								Strategy:    StrategyRestart,
								TagPattern:  DefaultTagPattern,
								Policy:      PolicySemver,
								SemverRange: ">=2.0.0 <3.0.0",
							}},
						},
						{
							Name:  "web",
							Image: "us-east1-docker.pkg.dev/my-project/apps/web",
							Targets: []Target{{
								Name:       "web",
								Namespace:  "shop",
								Deployment: "web",
								Container:  "web",
								Strategy:   StrategyRestart,
								TagPattern: "v[0-9]+",
								Policy:     PolicyPublishTime,
							}},
							Metadata: map[string]string{"notify": "#web"},
						},
					},
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			got, err := Parse(tt.file, readCorpus(t, tt.file))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got.Warnings = nil // TestParseWarnings
			if !reflect.DeepEqual(*got, tt.want) {
				g, _ := json.MarshalIndent(got, "", "  ")
				w, _ := json.MarshalIndent(tt.want, "", "  ")
				t.Errorf("Parse mismatch\ngot:  %s\nwant: %s", g, w)
			}
		})
	}
}

// TestParseBad parses each testdata/mappings/bad/X.yaml and compares the
// error with X.err; -update rewrites X.err.
func TestParseBad(t *testing.T) {
	dir := "testdata/mappings/bad"
	files, err := filepath.Glob(filepath.Join(repo, dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus in %s: %v", dir, err)
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run(name, func(t *testing.T) {
			file := dir + "/" + name + ".yaml"
			m, err := Parse(file, readCorpus(t, file))
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("Parse = %+v, %v; want an ErrorList", m, err)
			}
			got := err.Error() + "\n"
			errFile := strings.TrimSuffix(path, ".yaml") + ".err"
			if *update {
				if err := os.WriteFile(errFile, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(errFile)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Errorf("errors differ (run go test -update)\ngot:\n%s\nwant:\n%s", got, want)
			}
		})
	}
	errFiles, _ := filepath.Glob(filepath.Join(repo, dir, "*.err"))
	for _, f := range errFiles {
		if _, err := os.Stat(strings.TrimSuffix(f, ".err") + ".yaml"); err != nil {
			t.Errorf("%s has no .yaml", f)
		}
	}
}

// TestParseWarnings: each mapping of testdata/mappings/warn is accepted
// with exactly the warnings of its .warn file, and every good mapping
// without any unless it has a .warn file too.
func TestParseWarnings(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repo, "testdata/mappings/*/*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, path := range files {
		dir := filepath.Base(filepath.Dir(path))
		if dir == "bad" {
			continue
		}
		file := "testdata/mappings/" + dir + "/" + filepath.Base(path)
		t.Run(dir+"/"+filepath.Base(path), func(t *testing.T) {
			m, err := Parse(file, readCorpus(t, file))
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if len(m.Warnings) > 0 {
				got = m.Warnings.Error() + "\n"
			}
			warnFile := strings.TrimSuffix(path, ".yaml") + ".warn"
			if *update && dir == "warn" {
				if err := os.WriteFile(warnFile, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(warnFile)
			switch {
			case dir == "warn" && err != nil:
				t.Fatalf("%v (run go test -update)", err)
			case dir == "warn" && got == "":
				t.Fatal("no warning")
			case dir != "warn" && got != "":
				if string(want) != got {
					t.Errorf("a good mapping warns:\n%s", got)
				}
			case got != string(want):
				t.Errorf("warnings differ (run go test -update)\ngot:\n%s\nwant:\n%s", got, want)
			}
			seen++
		})
	}
	if seen == 0 {
		t.Fatal("no mapping read")
	}
}

func TestSyntaxErrorLine(t *testing.T) {
	tests := []struct {
		data string
		want string
	}{
		{"a: b: c\n", "f:1: invalid YAML: mapping values are not allowed in this context"},
		{"x: 1\na: b: c\n", "f:2: invalid YAML: mapping values are not allowed in this context"},
		{"\tx: 1\n", "f:1: invalid YAML: found character that cannot start any token"},
		{"x: 1\ny: [\n", "f:2: invalid YAML: did not find expected node content"},
		{"x: 1\ny: [a, b\nz: 1\n", "f:2: invalid YAML: did not find expected ',' or ']'"},
		{"x: 1\ny:\n  - b\n c: 1\n", "f:4: invalid YAML: did not find expected key"},
		{"x: 1\ny: 'abc\nz: 1\n", "f:2: invalid YAML: found unexpected end of stream"},
		{"x: 1\ny: *nope\n", "f:2: invalid YAML: unknown anchor 'nope' referenced"},
		{"a:\n  b: 1\n c: 2\n", "f:3: invalid YAML: did not find expected key"},
		{"a: 1\n---\nb: [\n", "f:3: invalid YAML: did not find expected node content"},
		{"a: \x01\n", "f:1:4: control character U+0001 is not allowed"},
	}
	for _, tt := range tests {
		_, err := Parse("f", []byte(tt.data))
		if err == nil || err.Error() != tt.want {
			t.Errorf("Parse(%q) = %v, want %s", tt.data, err, tt.want)
		}
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(repo, "testdata/mappings/good/minimal.yaml")
	m, err := Load(path)
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	if m.Spec.Services[0].Name != "api" {
		t.Errorf("Load(%s): service %q, want api", path, m.Spec.Services[0].Name)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want ErrNotExist", err)
	}
	path = filepath.Join(repo, "testdata/mappings/bad/wrong_kind.yaml")
	if _, err := Load(path); err == nil || !strings.HasPrefix(err.Error(), path+":") {
		t.Errorf("Load(%s) = %v, want an error naming the file", path, err)
	}
}

func TestFieldError(t *testing.T) {
	tests := []struct {
		err  FieldError
		want string
	}{
		{FieldError{"f.yaml", 3, 5, "spec.gcp", "boom"}, "f.yaml:3:5: spec.gcp: boom"},
		{FieldError{"f.yaml", 3, 0, "", "boom"}, "f.yaml:3: boom"},
		{FieldError{"f.yaml", 0, 0, "", "file is empty"}, "f.yaml: file is empty"},
		{FieldError{"", 3, 5, "kind", "boom"}, "3:5: kind: boom"},
		{FieldError{"", 0, 0, "", "boom"}, "boom"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("%#v.Error() = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestErrorList(t *testing.T) {
	l := ErrorList{
		{File: "f", Line: 9, Column: 1, Field: "b", Message: "x"},
		{File: "f", Line: 2, Column: 7, Field: "a", Message: "y"},
		{File: "f", Line: 9, Column: 1, Field: "a", Message: "x"},
		{File: "f", Line: 2, Column: 7, Field: "a", Message: "y"},
	}
	want := "f:2:7: a: y\nf:9:1: a: x\nf:9:1: b: x"
	if got := l.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestSchemaMatchesTypes checks that the schema describes exactly the
// fields of the types, and every property has a description.
func TestSchemaMatchesTypes(t *testing.T) {
	var s map[string]any
	if err := json.Unmarshal(schemas.ServiceMapping, &s); err != nil {
		t.Fatal(err)
	}
	defs, _ := s["definitions"].(map[string]any)
	resolve := func(n map[string]any) map[string]any {
		for {
			ref, ok := n["$ref"].(string)
			if !ok {
				return n
			}
			n = defs[strings.TrimPrefix(ref, "#/definitions/")].(map[string]any)
		}
	}
	var walk func(path string, n map[string]any, typ reflect.Type)
	walk = func(path string, n map[string]any, typ reflect.Type) {
		for typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		n = resolve(n)
		switch typ.Kind() {
		case reflect.Struct:
			props, _ := n["properties"].(map[string]any)
			if n["additionalProperties"] != false {
				t.Errorf("%s: additionalProperties is not false", path)
			}
			var fields []string
			for f := range typ.Fields() {
				name := jsonName(f)
				if name == "-" || f.Tag.Get("mapping") == "cache" {
					continue // not in the file
				}
				fields = append(fields, name)
				p, ok := props[name].(map[string]any)
				if !ok {
					t.Errorf("%s: no property %q", path, name)
					continue
				}
				if d, _ := p["description"].(string); d == "" {
					t.Errorf("%s.%s: no description", path, name)
				}
				walk(path+"."+name, p, f.Type)
			}
			var names []string
			for name := range props {
				names = append(names, name)
			}
			sort.Strings(fields)
			sort.Strings(names)
			if !reflect.DeepEqual(fields, names) {
				t.Errorf("%s: schema properties %v, type fields %v", path, names, fields)
			}
		case reflect.Slice:
			walk(path+"[]", n["items"].(map[string]any), typ.Elem())
		case reflect.Map:
			walk(path+"[*]", n["additionalProperties"].(map[string]any), typ.Elem())
		}
	}
	walk("(root)", s, reflect.TypeFor[ServiceMapping]())
}

// TestSchemaPatternsExplained checks that every pattern of the schema has
// a message in patternHelp.
func TestSchemaPatternsExplained(t *testing.T) {
	var s any
	if err := json.Unmarshal(schemas.ServiceMapping, &s); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				if p, ok := c.(string); ok && k == "pattern" {
					if _, ok := patternHelp[p]; !ok {
						t.Errorf("pattern %s has no patternHelp", p)
					}
				}
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(s)
}

// FuzzParse checks that Parse never panics and always explains a failure
// with an ErrorList positioned in the file.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"testdata/mappings/good/*.yaml", "testdata/mappings/bad/*.yaml"} {
		files, _ := filepath.Glob(filepath.Join(repo, pattern))
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse("fuzz.yaml", data)
		if err == nil {
			if m == nil {
				t.Fatal("Parse returned neither a mapping nor an error")
			}
			// What Parse accepts decodes as encoding/json decodes it.
			var root yaml.Node
			if err := yaml.Unmarshal(bytes.TrimPrefix(data, []byte("\uFEFF")), &root); err != nil {
				t.Fatal(err)
			}
			want, err := decodeJSON(yamlnode.Plain(root.Content[0]))
			if err != nil {
				t.Fatalf("accepted, but encoding/json refuses it: %v", err)
			}
			want.Default()
			want.Warnings = m.Warnings
			if !reflect.DeepEqual(m, want) {
				t.Errorf("decoded\n%#v\nencoding/json decodes\n%#v", m, want)
			}
			return
		}
		var list ErrorList
		if !errors.As(err, &list) || len(list) == 0 {
			t.Fatalf("Parse error %T %v, want a non-empty ErrorList", err, err)
		}
		for _, e := range list {
			if e.Line < 1 && !noDocument(data) {
				t.Errorf("error without a line: %v", e)
			}
		}
	})
}

// noDocument reports whether data holds no YAML document.
func noDocument(data []byte) bool {
	var n yaml.Node
	err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&n)
	return errors.Is(err, io.EOF)
}

// TestParseRejectsOversizedFile: a file over MaxFileBytes is refused
// before it is parsed.
func TestParseRejectsOversizedFile(t *testing.T) {
	data := append([]byte("apiVersion: argodeploy.dev/v1alpha1\n# "), bytes.Repeat([]byte("x"), MaxFileBytes)...)
	_, err := Parse("big.yaml", data)
	if err == nil || err.Error() != fmt.Sprintf("big.yaml:1:1: the file is %d bytes, more than the %d a mapping may have", len(data), MaxFileBytes) {
		t.Fatalf("got %v", err)
	}
}

func TestShortDuration(t *testing.T) {
	tests := map[time.Duration]string{
		90 * time.Second:                         "1m30s",
		20 * time.Minute:                         "20m",
		time.Hour:                                "1h",
		time.Hour + 10*time.Minute:               "1h10m",
		2*time.Hour + 5*time.Second:              "2h0m5s",
		1500 * time.Millisecond:                  "1.5s",
		time.Hour + 30*time.Minute + time.Second: "1h30m1s",
	}
	for d, want := range tests {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestParseTargets checks the target rules on small mappings: what each
// accepts, and the one error each reports otherwise.
// TestDefaultMaxDuration: an unwritten retry.backoff.maxDuration is what
// the longest rollout step may take, and never less than 5m: the
// rolloutTimeout, plus a rollout and a soak per stage its target waits
// for (pkg/rollout's stage wait).
func TestDefaultMaxDuration(t *testing.T) {
	for _, c := range []struct{ workflow, targets, want string }{
		{"", "- {name: a, namespace: a}", "5m"},
		{"rolloutTimeout: 10m", "- {name: a, namespace: a}", "10m"},
		{"", "- {name: a, namespace: a}\n        - {name: b, namespace: b, after: a, soak: 15m}", "25m"},
		{"rolloutTimeout: 2m", "- {name: c, namespace: c, after: b, soak: 1h}\n        - {name: b, namespace: b, after: a, soak: 30s}\n        - {name: a, namespace: a}", "1h6m30s"},
	} {
		workflow := ""
		if c.workflow != "" {
			workflow = "  workflow:\n    " + c.workflow + "\n"
		}
		doc := "apiVersion: argodeploy.dev/v1alpha1\nkind: ServiceMapping\nmetadata:\n  name: shop\nspec:\n  gcp:\n    project: my-project\n" + workflow +
			"  services:\n    - name: api\n      image: us-east1-docker.pkg.dev/my-project/apps/api\n      targets:\n        " + c.targets + "\n"
		m, err := Parse("f", []byte(doc))
		if err != nil {
			t.Fatalf("%s / %s: %v", c.workflow, c.targets, err)
		}
		if got := m.Spec.Workflow.Retry.Backoff.MaxDuration; got != c.want {
			t.Errorf("%s / %s: maxDuration %s, want %s", c.workflow, c.targets, got, c.want)
		}
	}
}

func TestParseTargets(t *testing.T) {
	const head = "apiVersion: argodeploy.dev/v1alpha1\nkind: ServiceMapping\nmetadata:\n  name: shop\nspec:\n  gcp:\n    project: my-project\n"
	tests := []struct {
		name, spec string
		want       string // the error, "" for none
	}{
		{
			name: "two containers of one Deployment",
			spec: `  services:
    - name: api
      image: us-east1-docker.pkg.dev/my-project/apps/api
      namespace: shop
      deployment: shop
      container: api
    - name: sidecar
      image: us-east1-docker.pkg.dev/my-project/apps/sidecar
      targets:
        - namespace: shop
          deployment: shop
`,
		},
		{
			name: "one container in two clusters",
			spec: `  services:
    - name: api
      image: us-east1-docker.pkg.dev/my-project/apps/api
      targets:
        - name: api-us
          namespace: shop
        - name: api-eu
          namespace: shop
          after: api-us
          cluster: {name: eu, kubeconfigSecret: {name: eu, key: config}}
`,
		},
		{
			name: "semverRange inherited with policy semver",
			spec: `  services:
    - name: api
      image: us-east1-docker.pkg.dev/my-project/apps/api
      semverRange: ^1.2
      targets:
        - name: api-staging
          namespace: staging
          policy: semver
        - name: api-prod
          namespace: prod
          policy: semver
          semverRange: ^1.4
`,
		},
		{
			name: "a chain of stages is no cycle",
			spec: `  workflow:
    retry: {backoff: {maxDuration: 30m}}
  services:
    - name: api
      image: us-east1-docker.pkg.dev/my-project/apps/api
      targets:
        - {name: c, namespace: c, after: b, soak: 15m}
        - {name: b, namespace: b, after: a}
        - {name: a, namespace: a}
        - {name: d, namespace: d, after: a, soak: 1m}
`,
		},
		{
			name: "maxDuration exactly two rollouts plus the soak",
			spec: `  workflow:
    rolloutTimeout: 90s
    retry: {backoff: {maxDuration: 18m}}
  services:
    - name: api
      image: us-east1-docker.pkg.dev/my-project/apps/api
      targets:
        - {name: a, namespace: a}
        - {name: b, namespace: b, after: a, soak: 15m}
`,
		},
		{
			name: "maxDuration a second short",
			spec: `  workflow:
    rolloutTimeout: 90s
    retry: {backoff: {maxDuration: 17m59s}}
  services:
    - name: api
      image: us-east1-docker.pkg.dev/my-project/apps/api
      targets:
        - {name: a, namespace: a}
        - {name: b, namespace: b, after: a, soak: 15m}
`,
			want: "f:10:36: spec.workflow.retry.backoff.maxDuration: 17m59s is shorter than what a rollout step may take: rolloutTimeout 90s, and the target whose after is on line 16 first waits for 1 stage(s) to roll out (up to 1m30s each) and soak (15m in all): " + deadlineReason + "; use at least 18m, or leave maxDuration out to get that",
		},
		{
			name: "a single target is named after its service",
			spec: `  services:
    - name: api
      image: us-east1-docker.pkg.dev/my-project/apps/api
      targets:
        - namespace: shop
    - name: web
      image: us-east1-docker.pkg.dev/my-project/apps/web
      targets:
        - {name: api, namespace: web}
`,
			want: `f:16:18: spec.services[1].targets[0].name: duplicate target name "api" (first used on line 12, by the one target of service "api", named after it)`,
		},
		{
			name: "image pinned by a digest",
			spec: `  workflow:
    image: ghcr.io/argodeploy/argodeploy@sha256:5b0c3b4f6d7e8a9b0c1d2e3f405162738495a6b7c8d9eaf0b1c2d3e4f5061728
  services:
    - name: api
      image: us-east1-docker.pkg.dev/my-project/apps/api
      namespace: shop
`,
		},
		{
			name: "image latest",
			spec: `  workflow:
    image: localhost:5000/argodeploy:latest
  services:
    - name: api
      image: us-east1-docker.pkg.dev/my-project/apps/api
      namespace: shop
`,
			want: `f:9:12: spec.workflow.image: "localhost:5000/argodeploy:latest" uses the tag latest, which moves: pin a version or a digest`,
		},
		{
			name: "image on a registry with a port, without a tag",
			spec: `  workflow:
    image: localhost:5000/argodeploy
  services:
    - name: api
      image: us-east1-docker.pkg.dev/my-project/apps/api
      namespace: shop
`,
			want: `f:9:12: spec.workflow.image: "localhost:5000/argodeploy" has no tag or digest, so it runs whatever is pushed next: pin a version or a digest, e.g. ` + DefaultImage,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("f", []byte(head+tt.spec))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Parse:\ngot:  %s\nwant: %s", got, tt.want)
			}
		})
	}
}

// defaultSensor is the Sensor settings of a mapping that gives none.
func defaultSensor() Sensor {
	return Sensor{Retry: TriggerRetry{Steps: DefaultTriggerSteps, Duration: DefaultTriggerDuration, Factor: DefaultTriggerFactor, Jitter: ptrTo(DefaultTriggerJitter)}}
}

func ptrTo[T any](v T) *T { return &v }

// TestTrailingDocumentSeparator: a "---" (or several) with nothing after it
// ends the one document, as kubectl reads it; a second document with
// content is still refused, at its line.
func TestTrailingDocumentSeparator(t *testing.T) {
	base := string(readCorpus(t, "testdata/mappings/good/minimal.yaml"))
	for _, tail := range []string{"---\n", "---\n---\n", "---\n# nothing more\n", "...\n"} {
		if _, err := Parse("m.yaml", []byte(base+tail)); err != nil {
			t.Errorf("tail %q: %v", tail, err)
		}
	}
	lines := strings.Count(base, "\n")
	_, err := Parse("m.yaml", []byte(base+"---\n---\nkind: Other\n"))
	if want := fmt.Sprintf("m.yaml:%d:1: a second YAML document starts here", lines+2); err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("second document: %v, want %q", err, want)
	}
}

// TestNeverATag: what a tag pattern needs is read from its syntax tree.
func TestNeverATag(t *testing.T) {
	for pattern, never := range map[string]bool{
		`v[0-9]+`:               false,
		`^v1$|^stable$`:         false,
		`v[^/]`:                 false, // the class holds tag characters
		`(?i)STABLE`:            false,
		`v[\x{100}-\x{10FFFF}]`: true, // a wide class with no tag character
		`release [0-9]+`:        true,
		`v1^`:                   true,
		`(feature/)+x`:          true,
		`(feature/)*x`:          false, // may be left out
		`x{0,1}/?y`:             false,
		`a(b|c/)`:               false, // one branch is a tag
	} {
		re, err := syntax.Parse(pattern, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		if got := neverATag(re) != ""; got != never {
			t.Errorf("%s: never a tag %v (%q), want %v", pattern, got, neverATag(re), never)
		}
	}
}
