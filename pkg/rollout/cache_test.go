package rollout

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/argodeploy/argodeploy/pkg/mapping"
)

// TestLoadService reads back what argodeploy writes in the cache: the
// JSON of the defaulted service.
func TestLoadService(t *testing.T) {
	dir := t.TempDir()
	prod := setImage("prod", "prod")
	prod.After, prod.Soak = "staging", "10m"
	prod.Cluster = &mapping.Cluster{Name: "east", KubeconfigSecret: mapping.SecretKeyRef{Name: "east", Key: "config"}}
	want := service("web", img, setImage("staging", "staging"), prod)
	want.Metadata = map[string]string{"slack": "#releases"}
	compact, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	indented, err := json.MarshalIndent(want, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	// The entry as json.Marshal writes it, and indented with a final
	// newline as the cache ConfigMap holds it.
	for _, data := range [][]byte{compact, append(indented, '\n')} {
		if err := os.WriteFile(filepath.Join(dir, "web"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := LoadService(dir, "web")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("LoadService =\n%+v\nwant\n%+v", got, want)
		}
	}
}

// TestLoadServiceRejects: the name must be a DNS label before it names a
// file, and the entry is decoded strictly.
func TestLoadServiceRejects(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	if err := os.Mkdir(cache, 0o755); err != nil {
		t.Fatal(err)
	}
	valid := `{"name":"web","image":"` + img + `","targets":[{"name":"web","namespace":"prod"}]}`
	// A valid entry outside the cache directory that a path could reach.
	if err := os.WriteFile(filepath.Join(dir, "web"), []byte(valid), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, entry, file, want string }{
		{"../web", "", "", "is not a DNS label"},
		{"Web", "", "", "is not a DNS label"},
		{"", "", "", "is not a DNS label"},
		{"a/b", "", "", "is not a DNS label"},
		{"api", "", "", "service api has no entry in the cache"},
		{"web", `{"name":"web","image":"` + img + `","targets":[{"name":"web","namespace":"prod","replicas":3}]}`, "web", `unknown field "targets[0].replicas"`},
		{"web", `{"name":"web","image":"` + img + `","targets":[{"name":"web","namespace":"prod","Deployment":"api"}]}`, "web", `unknown field "targets[0].Deployment"`},
		{"web", `{"name":"web","image":"` + img + `","targets":[{"name":"web","namespace":"prod","deployment":"web","deployment":"api"}]}`, "web", `duplicate field "targets[0].deployment"`},
		{"web", valid + `{}`, "web", "after top-level value"},
		{"web", valid + `}`, "web", "after top-level value"},
		{"web", `{"name":"api","image":"` + img + `","targets":[{"name":"api","namespace":"prod"}]}`, "web", `is service "api", not "web"`},
		{"web", `{"name":"web","targets":[{"name":"web","namespace":"prod"}]}`, "web", "has no image"},
		{"web", `{"name":"web","image":"` + img + `"}`, "web", "lists no targets"},
		{"web", `name=web`, "web", "invalid character"},
	} {
		if tc.file != "" {
			if err := os.WriteFile(filepath.Join(cache, tc.file), []byte(tc.entry), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		_, err := LoadService(cache, tc.name)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("LoadService(%q) with %s: error %v, want %q", tc.name, tc.entry, err, tc.want)
		}
	}
}
