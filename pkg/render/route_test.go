package render_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	eventsv1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	"github.com/argoproj/argo-events/pkg/sensors/dependencies"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"

	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/render"
)

const registry = "europe-west1-docker.pkg.dev/acme/services/"

// prefixSharingMapping maps images whose names are prefixes of each other.
func prefixSharingMapping() *mapping.ServiceMapping {
	m := &mapping.ServiceMapping{
		APIVersion: mapping.APIVersion,
		Kind:       mapping.Kind,
		Metadata:   mapping.Metadata{Name: "platform"},
		Spec: mapping.Spec{
			GCP: mapping.GCP{Project: "acme-platform"},
			Services: []mapping.Service{
				{Name: "api", Image: registry + "api", TagPattern: `v[0-9]+\.[0-9]+\.[0-9]+`, Namespace: "prod", Strategy: mapping.StrategySetImage},
				{Name: "api-worker", Image: registry + "api-worker", TagPattern: `v[0-9]+\.[0-9]+\.[0-9]+`, Namespace: "prod", Deployment: "worker"},
				{Name: "api-staging", Image: "europe-west1-docker.pkg.dev/acme/staging/api", TagPattern: `staging-.+`, Namespace: "staging", Deployment: "api"},
				{Name: "docs", Image: registry + "docs", Namespace: "web"},
				{Name: "remote", Image: registry + "remote", Namespace: "edge", Cluster: &mapping.Cluster{
					Name: "eu", KubeconfigSecret: mapping.SecretKeyRef{Name: "kubeconfig-eu", Key: "config"}}},
			},
		},
	}
	m.Default()
	return m
}

// garMessage is what Artifact Registry publishes; tag is omitted when empty.
func garMessage(action, digest, tag string) string {
	msg := map[string]string{"action": action, "digest": digest}
	if tag != "" {
		msg["tag"] = tag
	}
	raw, _ := json.Marshal(msg)
	return string(raw)
}

func digestOf(image string) string { return image + "@sha256:" + strings.Repeat("ab", 32) }

var published = time.Date(2026, 11, 28, 15, 4, 5, 123456789, time.UTC)

func TestSensorRoutesRegistryMessages(t *testing.T) {
	objs, err := render.Render(prefixSharingMapping(), render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sensor := onlySensor(t, objs)
	api, worker, docs := registry+"api", registry+"api-worker", registry+"docs"
	cases := []struct {
		name    string
		message string
		want    string // service whose trigger fires, "" for none
	}{
		{"release tag rolls its service", garMessage("INSERT", digestOf(api), api+":v1.4.2"), "api"},
		{"prefix-sharing image rolls only itself", garMessage("INSERT", digestOf(worker), worker+":v1.4.2"), "api-worker"},
		{"same repository name in another path", garMessage("INSERT", digestOf("europe-west1-docker.pkg.dev/acme/staging/api"), "europe-west1-docker.pkg.dev/acme/staging/api:staging-42"), "api-staging"},
		{"default pattern takes any valid tag", garMessage("INSERT", digestOf(docs), docs+":latest"), "docs"},
		{"service in another cluster", garMessage("INSERT", digestOf(registry+"remote"), registry+"remote:1"), "remote"},
		{"tag outside the pattern", garMessage("INSERT", digestOf(api), api+":latest"), ""},
		{"tag pattern is anchored at the end", garMessage("INSERT", digestOf(api), api+":v1.4.2-rc1"), ""},
		{"untagged push", garMessage("INSERT", digestOf(api), ""), ""},
		{"delete", garMessage("DELETE", digestOf(api), api+":v1.4.2"), ""},
		{"action is anchored", garMessage("XINSERTX", digestOf(api), api+":v1.4.2"), ""},
		{"unmapped image", garMessage("INSERT", digestOf(registry+"billing"), registry+"billing:v1.0.0"), ""},
		{"image in another registry host", garMessage("INSERT", digestOf("us-docker.pkg.dev/acme/services/api"), "us-docker.pkg.dev/acme/services/api:v1.4.2"), ""},
		{"digest of another image", garMessage("INSERT", digestOf(worker), api+":v1.4.2"), ""},
		{"bare digest as in the article", garMessage("INSERT", "sha256:"+strings.Repeat("ab", 32), api+":v1.4.2"), ""},
		{"short digest", garMessage("INSERT", api+"@sha256:abc", api+":v1.4.2"), ""},
		{"invalid docker tag", garMessage("INSERT", digestOf(docs), docs+":.hidden"), ""},
		{"article's field names", `{"action":"INSERT","name":"api","serviceName":"api"}`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			event := registryEvent(t, tc.message)
			var fired []string
			for _, dep := range sensor.Spec.Dependencies {
				ok, err := dependencies.Filter(event, dep.Filters, dep.FiltersLogicalOperator)
				if ok && err == nil {
					fired = append(fired, dep.Name)
				}
			}
			want := []string{}
			if tc.want != "" {
				want = []string{tc.want}
			}
			if strings.Join(fired, ",") != strings.Join(want, ",") {
				t.Fatalf("dependencies satisfied = %v, want %v", fired, want)
			}
			if tc.want == "" {
				return
			}
			wf := triggeredWorkflow(t, sensor, tc.want, event)
			var msg map[string]string
			_ = json.Unmarshal([]byte(tc.message), &msg)
			args := workflowArguments(wf)
			wantArgs := map[string]string{
				render.ParamService:     tc.want,
				render.ParamDigest:      msg["digest"],
				render.ParamTag:         msg["tag"],
				render.ParamPublishedAt: strconv.FormatInt(published.UnixNano(), 10),
			}
			for k, v := range wantArgs {
				if args[k] != v {
					t.Errorf("argument %s = %q, want %q", k, args[k], v)
				}
			}
		})
	}
}

// TestEventTextNeverNamesTheTarget feeds an event whose text names another
// service and Deployment; what rolls still comes from the mapping.
func TestEventTextNeverNamesTheTarget(t *testing.T) {
	objs, err := render.Render(prefixSharingMapping(), render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sensor := onlySensor(t, objs)
	api := registry + "api"
	message := `{"action":"INSERT","digest":"` + digestOf(api) + `","tag":"` + api + `:v1.0.0","service":"docs","deployment":"kube-system/coredns","namespace":"kube-system"}`
	args := workflowArguments(triggeredWorkflow(t, sensor, "api", registryEvent(t, message)))
	if args[render.ParamService] != "api" || args[render.ParamTargets] != `[{"name":"api","lock":"local.prod.api"}]` || args[render.ParamCache] != "platform-cache" {
		t.Fatalf("constant arguments changed by event text: %v", args)
	}
	for _, trig := range sensor.Spec.Triggers {
		for _, p := range trig.Template.K8s.Parameters {
			switch p.Src.DataKey {
			case "body.digest", "body.tag", "":
			default:
				t.Errorf("trigger %s copies event field %q into %s", trig.Template.Name, p.Src.DataKey, p.Dest)
			}
		}
	}
}

func onlySensor(t *testing.T, objs []render.Object) *eventsv1.Sensor {
	t.Helper()
	var found *eventsv1.Sensor
	for _, o := range objs {
		if s, ok := o.(*eventsv1.Sensor); ok {
			if found != nil {
				t.Fatal("more than one Sensor")
			}
			found = s
		}
	}
	if found == nil {
		t.Fatal("no Sensor rendered")
	}
	return found
}

// triggeredWorkflow applies the service trigger's parameters to its Workflow
// with the Sensor's own code, as the k8s trigger does before creating it.
func triggeredWorkflow(t *testing.T, sensor *eventsv1.Sensor, service string, event *eventsv1.Event) *wfv1.Workflow {
	t.Helper()
	for _, trig := range sensor.Spec.Triggers {
		if trig.Template.Name != service {
			continue
		}
		if trig.Template.Conditions != service {
			t.Fatalf("trigger %s fires on %q, want only its own dependency", service, trig.Template.Conditions)
		}
		wf := &wfv1.Workflow{}
		applyTo(t, trig.Template.K8s, map[string]*eventsv1.Event{service: event}, wf)
		return wf
	}
	t.Fatalf("no trigger for %s", service)
	return nil
}

func workflowArguments(wf *wfv1.Workflow) map[string]string {
	args := map[string]string{}
	for _, p := range wf.Spec.Arguments.Parameters {
		args[p.Name] = p.Value.String()
	}
	return args
}
