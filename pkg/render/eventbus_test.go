package render_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	eventsv1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	"github.com/argoproj/argo-events/pkg/reconciler"
	"github.com/argoproj/argo-events/pkg/reconciler/eventbus/installer"
	"github.com/spf13/viper"
	"go.uber.org/zap/zaptest"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/yaml"

	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/pkg/render"
)

// upstreamControllerConfig is the argo-events controller config that the
// pinned module installs (manifests/base/controller-manager), with its
// default stream settings (maxMsgs 50000, maxAge 168h, maxBytes -1).
func upstreamControllerConfig(t *testing.T) *reconciler.GlobalConfig {
	t.Helper()
	dir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/argoproj/argo-events").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(dir)), "manifests/base/controller-manager/controller-config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := yaml.Unmarshal(data, &cm); err != nil {
		t.Fatal(err)
	}
	var config reconciler.GlobalConfig
	if err := yaml.Unmarshal([]byte(cm.Data["controller-config.yaml"]), &config); err != nil {
		t.Fatal(err)
	}
	if err := reconciler.ValidateConfig(&config); err != nil {
		t.Fatal(err)
	}
	return &config
}

// TestEventBusInstalled runs the argo-events v1.9.11 controller's own
// JetStream installer on each generated EventBus: the StatefulSet it
// builds keeps the stream on a claim of the mapping's size and class (an
// emptyDir only when the mapping asks for an ephemeral store), and the
// stream settings it merges bound the stream to three quarters of the
// claim and keep a single replica's stream at one replica.
func TestEventBusInstalled(t *testing.T) {
	config := upstreamControllerConfig(t)
	storage := func(size, class string, ephemeral bool) func(*mapping.ServiceMapping) {
		return func(m *mapping.ServiceMapping) {
			m.Spec.EventBus.JetStream.Storage = mapping.JetStreamStorage{Size: size, StorageClassName: class, Ephemeral: ephemeral}
		}
	}
	oneReplica := func(m *mapping.ServiceMapping) { m.Spec.EventBus.JetStream.Replicas = 1 }
	tests := []struct {
		name      string
		file      string
		edit      func(*mapping.ServiceMapping)
		size      string // "" for an emptyDir
		class     string
		replicas  int
		maxBytes  int64 // -1: the controller's default, unbounded
		streamRep int
	}{
		{"default", "examples/single-service.yaml", nil, "1Gi", "", 3, 805306368, 3},
		{"one replica", "examples/single-service.yaml", oneReplica, "1Gi", "", 1, 805306368, 1},
		{"class and size", "examples/multi-cluster.yaml", nil, "2Gi", "premium-rwo", 3, 1610612736, 3},
		{"class, size, one replica", "testdata/mappings/good/full.yaml", nil, "2Gi", "premium-rwo", 1, 1610612736, 1},
		{"ephemeral", "examples/single-service.yaml", storage("", "", true), "", "", 3, -1, 3},
		{"ephemeral, one replica", "testdata/mappings/good/full.yaml", storage("", "", true), "", "", 1, -1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := mapping.Load(filepath.Join("../..", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if tt.edit != nil {
				tt.edit(m)
			}
			objs, err := render.Render(m, render.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var bus *eventsv1.EventBus
			for _, o := range objs {
				if b, ok := o.(*eventsv1.EventBus); ok {
					bus = b.DeepCopy()
				}
			}
			if bus == nil {
				t.Fatal("no EventBus rendered")
			}
			scheme := runtime.NewScheme()
			if err := appsv1.AddToScheme(scheme); err != nil {
				t.Fatal(err)
			}
			if err := corev1.AddToScheme(scheme); err != nil {
				t.Fatal(err)
			}
			c := fake.NewClientBuilder().WithScheme(scheme).Build()
			in := installer.NewJetStreamInstaller(c, bus, config, map[string]string{"controller": "eventbus-controller"}, k8sfake.NewClientset(), zaptest.NewLogger(t).Sugar())
			busConfig, err := in.Install(context.Background())
			if err != nil {
				t.Fatalf("the upstream installer refuses the EventBus: %v", err)
			}

			var sets appsv1.StatefulSetList
			if err := c.List(context.Background(), &sets); err != nil || len(sets.Items) != 1 {
				t.Fatalf("StatefulSets %v, %v: want one", sets.Items, err)
			}
			ss := sets.Items[0].Spec
			if got := int(*ss.Replicas); got != tt.replicas {
				t.Errorf("%d servers, want %d", got, tt.replicas)
			}
			var mounts []string
			for _, vm := range ss.Template.Spec.Containers[0].VolumeMounts {
				if vm.MountPath == "/data/jetstream" {
					mounts = append(mounts, vm.Name)
				}
			}
			emptyDir := false
			for _, v := range ss.Template.Spec.Volumes {
				if v.EmptyDir != nil && len(mounts) == 1 && v.Name == mounts[0] {
					emptyDir = true
				}
			}
			switch {
			case len(mounts) != 1:
				t.Errorf("store mounted %d times: %v", len(mounts), mounts)
			case tt.size == "":
				if !emptyDir || len(ss.VolumeClaimTemplates) != 0 {
					t.Errorf("store: emptyDir %v, claims %d; want an emptyDir only", emptyDir, len(ss.VolumeClaimTemplates))
				}
			default:
				if emptyDir || len(ss.VolumeClaimTemplates) != 1 || ss.VolumeClaimTemplates[0].Name != mounts[0] {
					t.Fatalf("store: emptyDir %v, claims %v; want the store on the one claim", emptyDir, ss.VolumeClaimTemplates)
				}
				claim := ss.VolumeClaimTemplates[0].Spec
				if got := claim.Resources.Requests[corev1.ResourceStorage]; got.Cmp(resource.MustParse(tt.size)) != 0 {
					t.Errorf("claim of %s, want %s", got.String(), tt.size)
				}
				if got := claim.StorageClassName; (tt.class == "") != (got == nil) || got != nil && *got != tt.class {
					t.Errorf("storage class %v, want %q", got, tt.class)
				}
			}

			// The settings the eventsource and sensor create the stream
			// with, read as they read them (pkg/eventbus/jetstream/base).
			v := viper.New()
			v.SetConfigType("yaml")
			if err := v.ReadConfig(strings.NewReader(busConfig.JetStream.StreamConfig)); err != nil {
				t.Fatal(err)
			}
			if got := v.GetInt64("maxBytes"); got != tt.maxBytes {
				t.Errorf("stream maxBytes %d, want %d", got, tt.maxBytes)
			}
			if tt.size != "" {
				if size := resource.MustParse(tt.size); v.GetInt64("maxBytes") >= size.Value() {
					t.Errorf("the stream may outgrow its claim")
				}
			}
			if got := v.GetInt("replicas"); got != tt.streamRep {
				t.Errorf("stream replicas %d, want %d", got, tt.streamRep)
			}
			if v.GetInt64("maxMsgs") != 50000 || v.GetDuration("maxAge").Hours() != 168 {
				t.Errorf("the controller's other settings are lost: %q", busConfig.JetStream.StreamConfig)
			}
		})
	}
}
