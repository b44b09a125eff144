package render_test

import (
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	eventsv1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	"github.com/argoproj/argo-events/pkg/sensors/dependencies"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"

	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/render"
	"github.com/argodeploy/argodeploy/pkg/rollout"
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
	if len(sensor.Spec.Dependencies) != 1 || len(sensor.Spec.Triggers) != 1 {
		t.Fatalf("%d dependencies and %d triggers, want one of each", len(sensor.Spec.Dependencies), len(sensor.Spec.Triggers))
	}
	lookup := cacheLookup(t, objs)
	api, worker, docs := registry+"api", registry+"api-worker", registry+"docs"
	cases := []struct {
		name    string
		message string
		want    string // service the release's route step finds, "" for none
		routed  bool   // the filter admits the push, and the route step refuses it
	}{
		{"release tag rolls its service", garMessage("INSERT", digestOf(api), api+":v1.4.2"), "api", false},
		{"prefix-sharing image rolls only itself", garMessage("INSERT", digestOf(worker), worker+":v1.4.2"), "api-worker", false},
		{"same repository name in another path", garMessage("INSERT", digestOf("europe-west1-docker.pkg.dev/acme/staging/api"), "europe-west1-docker.pkg.dev/acme/staging/api:staging-42"), "api-staging", false},
		{"default pattern takes any valid tag", garMessage("INSERT", digestOf(docs), docs+":latest"), "docs", false},
		{"service in another cluster", garMessage("INSERT", digestOf(registry+"remote"), registry+"remote:1"), "remote", false},
		{"tag outside the pattern", garMessage("INSERT", digestOf(api), api+":latest"), "", false},
		{"another image's pattern does not lend", garMessage("INSERT", digestOf(api), api+":staging-1"), "", false},
		{"tag pattern is anchored at the end", garMessage("INSERT", digestOf(api), api+":v1.4.2-rc1"), "", false},
		{"untagged push", garMessage("INSERT", digestOf(api), ""), "", false},
		{"delete", garMessage("DELETE", digestOf(api), api+":v1.4.2"), "", false},
		{"action is anchored", garMessage("XINSERTX", digestOf(api), api+":v1.4.2"), "", false},
		{"unmapped image", garMessage("INSERT", digestOf(registry+"billing"), registry+"billing:v1.0.0"), "", false},
		{"unmapped image under a mapped one", garMessage("INSERT", digestOf(api+"/debug"), api+"/debug:v1.0.0"), "", false},
		{"image in another registry host", garMessage("INSERT", digestOf("us-docker.pkg.dev/acme/services/api"), "us-docker.pkg.dev/acme/services/api:v1.4.2"), "", false},
		{"digest of another mapped image", garMessage("INSERT", digestOf(worker), api+":v1.4.2"), "", true},
		{"bare digest as in the article", garMessage("INSERT", "sha256:"+strings.Repeat("ab", 32), api+":v1.4.2"), "", false},
		{"short digest", garMessage("INSERT", api+"@sha256:abc", api+":v1.4.2"), "", false},
		{"invalid docker tag", garMessage("INSERT", digestOf(docs), docs+":.hidden"), "", false},
		{"tag with a second colon", garMessage("INSERT", digestOf(api), api+":v1.4.2:v1.4.3"), "", false},
		{"article's field names", `{"action":"INSERT","name":"api","serviceName":"api"}`, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			event := registryEvent(t, tc.message)
			dep := sensor.Spec.Dependencies[0]
			ok, err := dependencies.Filter(event, dep.Filters, dep.FiltersLogicalOperator)
			admitted := ok && err == nil
			if admitted != (tc.want != "" || tc.routed) {
				t.Fatalf("filter admits: %v, want %v", admitted, tc.want != "" || tc.routed)
			}
			if !admitted {
				return
			}
			wf := triggeredWorkflow(t, sensor, event)
			var msg map[string]string
			_ = json.Unmarshal([]byte(tc.message), &msg)
			args := workflowArguments(wf)
			wantArgs := map[string]string{
				render.ParamDigest:      msg["digest"],
				render.ParamTag:         msg["tag"],
				render.ParamPublishedAt: strconv.FormatInt(published.UnixNano(), 10),
			}
			for k, v := range wantArgs {
				if args[k] != v {
					t.Errorf("argument %s = %q, want %q", k, args[k], v)
				}
			}
			routes, err := rollout.Routes(lookup, rollout.Push{Digest: args[render.ParamDigest], Tag: args[render.ParamTag], PublishedAt: published.UnixNano()}, io.Discard)
			if tc.routed {
				if err == nil {
					t.Fatalf("route step took the push: %v", routes)
				}
				return
			}
			if err != nil || len(routes) == 0 || routes[0].Service != tc.want {
				t.Fatalf("routes %v, %v; want service %s", routes, err, tc.want)
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
	message := `{"action":"INSERT","digest":"` + digestOf(api) + `","tag":"` + api + `:v1.0.0","service":"docs","deployment":"kube-system/coredns","namespace":"kube-system","cache":"kube-system"}`
	args := workflowArguments(triggeredWorkflow(t, sensor, registryEvent(t, message)))
	if len(args) != len(render.WorkflowParams()) || args[render.ParamDigest] != digestOf(api) {
		t.Fatalf("arguments %v: want the push's alone, %v", args, render.WorkflowParams())
	}
	routes, err := rollout.Routes(cacheLookup(t, objs), rollout.Push{Digest: args[render.ParamDigest], Tag: args[render.ParamTag], PublishedAt: 1}, io.Discard)
	if err != nil || len(routes) != 1 || routes[0] != (rollout.Route{Service: "api", Target: "api", Lock: "local.prod.api"}) {
		t.Fatalf("routes %v, %v; want api alone", routes, err)
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

// cacheLookup finds images in the rendered cache ConfigMaps, as the route
// step finds them in the one its Workflow mounts.
func cacheLookup(t *testing.T, objs []render.Object) rollout.Lookup {
	t.Helper()
	byImage := map[string]mapping.Service{}
	for _, o := range objs {
		if cm, ok := o.(*corev1.ConfigMap); ok {
			for name, entry := range cm.Data {
				svc, err := mapping.DecodeEntry([]byte(entry))
				if err != nil {
					t.Fatalf("cache entry %s: %v", name, err)
				}
				byImage[svc.Image] = svc
			}
		}
	}
	return func(image string) (mapping.Service, error) {
		if svc, ok := byImage[image]; ok {
			return svc, nil
		}
		return mapping.Service{}, rollout.UnknownImage(image, "test", len(byImage))
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

// triggeredWorkflow applies the trigger's parameters to its Workflow with
// the Sensor's own code, as the k8s trigger does before creating it.
func triggeredWorkflow(t *testing.T, sensor *eventsv1.Sensor, event *eventsv1.Event) *wfv1.Workflow {
	t.Helper()
	trig := sensor.Spec.Triggers[0]
	if trig.Template.Conditions != render.DependencyName {
		t.Fatalf("trigger %s fires on %q, want its dependency %s", trig.Template.Name, trig.Template.Conditions, render.DependencyName)
	}
	wf := &wfv1.Workflow{}
	applyTo(t, trig.Template.K8s, map[string]*eventsv1.Event{render.DependencyName: event}, wf)
	return wf
}

func workflowArguments(wf *wfv1.Workflow) map[string]string {
	args := map[string]string{}
	for _, p := range wf.Spec.Arguments.Parameters {
		args[p.Name] = p.Value.String()
	}
	return args
}
