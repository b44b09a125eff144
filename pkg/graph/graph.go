// Package graph draws a pipeline from its objects: registry → topic →
// EventSource → EventBus → Sensor → WorkflowTemplate → each Deployment, as
// a Mermaid flowchart or Graphviz DOT.
package graph

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	eventsv1alpha1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/argodeploy/argodeploy/pkg/check"
	"github.com/argodeploy/argodeploy/pkg/mapping"
)

// Graph is the nodes and edges of a pipeline, in drawing order.
type Graph struct {
	nodes []node
	edges []edge
	seen  map[string]bool
}

type node struct{ id, label, shape string }

type edge struct{ from, to, label string }

func (g *Graph) node(id, label, shape string) string {
	if !g.seen[id] {
		g.seen[id] = true
		g.nodes = append(g.nodes, node{id, label, shape})
	}
	return id
}

func (g *Graph) edge(from, to, label string) { g.edges = append(g.edges, edge{from, to, label}) }

// Build draws the pipeline of objs (typed objects, as render returns them):
// each Pub/Sub event of an EventSource from its project's topic, each
// Sensor from its EventBus, each trigger to its WorkflowTemplate, and each
// template to the Deployments its cache entries name.
func Build(objs []runtime.Object) (*Graph, error) {
	g := &Graph{seen: map[string]bool{}}
	caches := map[string]*corev1.ConfigMap{}
	templates := map[string]*wfv1.WorkflowTemplate{}
	var used []string // the templates triggers create Workflows of, in order
	for _, obj := range objs {
		switch o := obj.(type) {
		case *corev1.ConfigMap:
			caches[o.Namespace+"/"+o.Name] = o
		case *wfv1.WorkflowTemplate:
			templates[o.Namespace+"/"+o.Name] = o
		}
	}
	for _, obj := range objs {
		es, ok := obj.(*eventsv1alpha1.EventSource)
		if !ok {
			continue
		}
		source := g.node("es_"+id(es.Namespace, es.Name), "EventSource "+es.Name, "box")
		for _, name := range slices.Sorted(maps.Keys(es.Spec.PubSub)) {
			ps := es.Spec.PubSub[name]
			project := ps.TopicProjectID
			if project == "" {
				project = ps.ProjectID
			}
			registry := g.node("registry_"+id(project), "Artifact Registry\nproject "+project, "cylinder")
			topic := g.node("topic_"+id(project, ps.Topic), "Pub/Sub topic "+ps.Topic, "queue")
			g.edge(registry, topic, "push")
			g.edge(topic, source, "subscription "+ps.SubscriptionID)
		}
		bus := g.node("bus_"+id(es.Namespace, busName(es.Spec.EventBusName)), "EventBus "+busName(es.Spec.EventBusName), "box")
		g.edge(source, bus, "")
	}
	for _, obj := range objs {
		s, ok := obj.(*eventsv1alpha1.Sensor)
		if !ok {
			continue
		}
		bus := g.node("bus_"+id(s.Namespace, busName(s.Spec.EventBusName)), "EventBus "+busName(s.Spec.EventBusName), "box")
		sensor := g.node("sensor_"+id(s.Namespace, s.Name), "Sensor "+s.Name, "box")
		g.edge(bus, sensor, "")
		for _, t := range s.Spec.Triggers {
			key, err := g.trigger(s, t, sensor)
			if err != nil {
				return nil, err
			}
			if key != "" && !slices.Contains(used, key) {
				used = append(used, key)
			}
		}
	}
	for _, key := range used {
		if tmpl := templates[key]; tmpl != nil {
			g.targets(tmpl, caches)
		}
	}
	return g, nil
}

// trigger draws a trigger's edge to the WorkflowTemplate of the Workflow
// it creates, and says which template that is ("" for none).
func (g *Graph) trigger(s *eventsv1alpha1.Sensor, t eventsv1alpha1.Trigger, sensor string) (string, error) {
	if t.Template == nil || t.Template.K8s == nil || t.Template.K8s.Source == nil || t.Template.K8s.Source.Resource == nil {
		return "", nil
	}
	var wf wfv1.Workflow
	if err := json.Unmarshal(t.Template.K8s.Source.Resource.Value, &wf); err != nil {
		return "", fmt.Errorf("graph: Sensor %s trigger %s: %w", s.Name, t.Template.Name, err)
	}
	if wf.Spec.WorkflowTemplateRef == nil {
		return "", nil
	}
	ns := wf.Namespace
	if ns == "" {
		ns = s.Namespace
	}
	key := ns + "/" + wf.Spec.WorkflowTemplateRef.Name
	tmpl := g.node("wt_"+id(ns, wf.Spec.WorkflowTemplateRef.Name), "WorkflowTemplate "+wf.Spec.WorkflowTemplateRef.Name, "box")
	g.edge(sensor, tmpl, t.Template.Name)
	return key, nil
}

// targets draws a WorkflowTemplate's edges to the Deployments of every
// entry of the cache it mounts: each target, with its image and the tags
// it takes.
func (g *Graph) targets(tmpl *wfv1.WorkflowTemplate, caches map[string]*corev1.ConfigMap) {
	from := "wt_" + id(tmpl.Namespace, tmpl.Name)
	names, _ := check.CacheConfigMaps(tmpl.Spec.Volumes)
	for _, name := range names {
		cm := caches[tmpl.Namespace+"/"+name]
		if cm == nil {
			continue
		}
		for _, key := range slices.Sorted(maps.Keys(cm.Data)) {
			entry, err := mapping.DecodeEntry([]byte(cm.Data[key]))
			if err != nil {
				continue // not an argodeploy cache entry: its targets are unknown
			}
			for _, t := range entry.Targets {
				g.target(from, entry, t)
			}
		}
	}
}

// target draws the edge from a WorkflowTemplate to the Deployment of
// target t of svc.
func (g *Graph) target(from string, svc mapping.Service, t mapping.Target) {
	where := t.Namespace
	if t.Cluster != nil {
		where = t.Cluster.Name + ": " + where
	}
	to := g.node("deploy_"+id(clusterID(t.Cluster), t.Namespace, t.Deployment), "Deployment "+where+"/"+t.Deployment, "box")
	how := t.Strategy
	if t.After != "" {
		how += ", after " + t.After
		if t.Soak != "" {
			how += " +" + t.Soak
		}
	}
	tags := t.TagPattern
	if tags == mapping.DefaultTagPattern {
		tags = "any tag"
	}
	name := t.Name
	if name != svc.Name {
		name = svc.Name + "/" + name
	}
	g.edge(from, to, name+" ("+how+")\n"+svc.Image+":"+tags)
}

// clusterID is the part of a Deployment's node identifier that names its
// cluster: empty for the local one.
func clusterID(c *mapping.Cluster) string {
	if c == nil {
		return ""
	}
	return c.Name
}

func busName(name string) string {
	if name == "" {
		return eventsv1alpha1.DefaultEventBusName
	}
	return name
}

// id makes a node identifier that Mermaid and DOT both accept.
func id(parts ...string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, strings.Join(parts, "__"))
}

// Mermaid writes the graph as a Mermaid flowchart, left to right.
func (g *Graph) Mermaid(w io.Writer) error {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	for _, n := range g.nodes {
		open, end := "[", "]"
		switch n.shape {
		case "cylinder":
			open, end = "[(", ")]"
		case "queue":
			open, end = "[/", "/]"
		}
		fmt.Fprintf(&b, "  %s%s\"%s\"%s\n", n.id, open, mermaidText(n.label), end)
	}
	for _, e := range g.edges {
		if e.label == "" {
			fmt.Fprintf(&b, "  %s --> %s\n", e.from, e.to)
		} else {
			fmt.Fprintf(&b, "  %s -- \"%s\" --> %s\n", e.from, mermaidText(e.label), e.to)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// mermaidText escapes a label for a quoted Mermaid string.
func mermaidText(s string) string {
	return strings.NewReplacer(`"`, "#quot;", "\n", "<br/>", "<", "#lt;", ">", "#gt;").Replace(s)
}

// DOT writes the graph in Graphviz's DOT language, left to right.
func (g *Graph) DOT(w io.Writer) error {
	var b strings.Builder
	b.WriteString("digraph pipeline {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n")
	for _, n := range g.nodes {
		shape := map[string]string{"box": "box", "cylinder": "cylinder", "queue": "parallelogram"}[n.shape]
		fmt.Fprintf(&b, "  %s [shape=%s, label=%s];\n", n.id, shape, dotText(n.label))
	}
	for _, e := range g.edges {
		if e.label == "" {
			fmt.Fprintf(&b, "  %s -> %s;\n", e.from, e.to)
		} else {
			fmt.Fprintf(&b, "  %s -> %s [label=%s];\n", e.from, e.to, dotText(e.label))
		}
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// dotText quotes a label for DOT.
func dotText(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}
