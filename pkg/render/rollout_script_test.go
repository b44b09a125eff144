package render

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/argodeploy/argodeploy/pkg/mapping"
	"github.com/argodeploy/argodeploy/templates"
)

// fakeKubectl logs each call and answers from FAKE_* variables: the state
// `get` prints, and the exit codes of get, patch (first and second) and
// rollout status.
const fakeKubectl = `#!/bin/sh
printf 'KUBECONFIG=%s %s\n' "${KUBECONFIG:-}" "$*" >>"$FAKE_LOG"
case "$*" in
*" get deployment "*)
	[ "$FAKE_GET_EXIT" = 0 ] || { printf '%s\n' "$FAKE_GET_ERR" >&2; exit "$FAKE_GET_EXIT"; }
	printf '%s\n' "$FAKE_STATE" ;;
*" patch deployment "*)
	n=$(grep -c ' patch deployment ' "$FAKE_LOG")
	if [ "$n" -gt 1 ]; then exit "$FAKE_UNDO_EXIT"; fi
	[ "$FAKE_PATCH_EXIT" = 0 ] || { printf '%s\n' "$FAKE_PATCH_ERR" >&2; exit "$FAKE_PATCH_EXIT"; }
	echo "deployment.apps/x patched" ;;
*" rollout status "*) exit "$FAKE_STATUS_EXIT" ;;
esac
`

func TestRolloutScript(t *testing.T) {
	image := "europe-west1-docker.pkg.dev/acme/services/api"
	digest := image + "@sha256:" + strings.Repeat("0f", 32)
	oldDigest := image + "@sha256:" + strings.Repeat("aa", 32)
	restart := mapping.Service{Name: "api", Image: image, Deployment: "api", Namespace: "prod", Container: "api", Strategy: mapping.StrategyRestart}
	setImage := restart
	setImage.Strategy = mapping.StrategySetImage
	remote := restart
	remote.Cluster = &mapping.Cluster{Name: "eu", KubeconfigSecret: mapping.SecretKeyRef{Name: "k", Key: "config"}}
	running := oldDigest + "|100|2026-01-01T00:00:00Z|" + oldDigest

	cases := []struct {
		name       string
		service    mapping.Service
		env        map[string]string
		kubeconfig bool
		wantExit   int
		wantCalls  []string // substrings of the kubectl calls, in order
		wantNot    string   // a substring no call may contain
	}{
		{name: "restart rolls and waits", service: restart, env: map[string]string{"FAKE_STATE": running},
			wantCalls: []string{"get deployment api", `patch deployment api --type strategic -p {"spec":{"template":{"metadata":{"annotations":{"argodeploy.dev/digest":"` + digest + `","argodeploy.dev/published-at":"200","kubectl.kubernetes.io/restartedAt":"20`, "rollout status deployment api --timeout 5m"},
			wantNot:   `"containers"`},
		{name: "set-image pins the digest", service: setImage, env: map[string]string{"FAKE_STATE": running},
			wantCalls: []string{"get deployment api", `"kubectl.kubernetes.io/restartedAt":"2026-01-01T00:00:00Z"}},"spec":{"containers":[{"name":"api","image":"` + digest + `"}]}}}}`, "rollout status"}},
		{name: "first rollout of a deployment", service: restart, env: map[string]string{"FAKE_STATE": "|||" + oldDigest},
			wantCalls: []string{"get deployment", "patch deployment", "rollout status"}},
		{name: "same digest again only waits", service: restart, env: map[string]string{"FAKE_STATE": digest + "|100||" + oldDigest},
			wantCalls: []string{"get deployment", "rollout status"}, wantNot: "patch"},
		{name: "older push is skipped", service: restart, env: map[string]string{"FAKE_STATE": oldDigest + "|300||" + oldDigest},
			wantCalls: []string{"get deployment"}, wantNot: "patch"},
		{name: "longer publish time is newer", service: restart, env: map[string]string{"FAKE_STATE": oldDigest + "|99||" + oldDigest},
			wantCalls: []string{"get deployment", "patch deployment"}},
		{name: "digest of another image is permanent", service: restart, env: map[string]string{"DIGEST": oldDigest[:10] + "x@sha256:" + strings.Repeat("0f", 32)}, wantExit: 2, wantNot: "deployment"},
		{name: "digest with a newline is permanent", service: restart, env: map[string]string{"DIGEST": digest[:len(digest)-1] + "\n" + "f"}, wantExit: 2, wantNot: "deployment"},
		{name: "digest with a quote is permanent", service: restart, env: map[string]string{"DIGEST": digest[:len(digest)-1] + `"`}, wantExit: 2, wantNot: "deployment"},
		{name: "publish time must be a number", service: restart, env: map[string]string{"PUBLISHED_AT": "1; rm -rf /"}, wantExit: 2, wantNot: "deployment"},
		{name: "unknown service is permanent", service: restart, env: map[string]string{"SERVICE": "billing"}, wantExit: 2, wantNot: "deployment"},
		{name: "service name cannot escape the cache", service: restart, env: map[string]string{"SERVICE": "../api"}, wantExit: 2, wantNot: "deployment"},
		{name: "missing deployment is permanent", service: restart, env: map[string]string{"FAKE_GET_EXIT": "1", "FAKE_GET_ERR": `Error from server (NotFound): deployments.apps "api" not found`}, wantExit: 2, wantNot: "patch"},
		{name: "forbidden is permanent", service: restart, env: map[string]string{"FAKE_GET_EXIT": "1", "FAKE_GET_ERR": `Error from server (Forbidden): deployments.apps "api" is forbidden`}, wantExit: 2, wantNot: "patch"},
		{name: "unreachable API is transient", service: restart, env: map[string]string{"FAKE_GET_EXIT": "1", "FAKE_GET_ERR": "The connection to the server was refused"}, wantExit: 1, wantNot: "patch"},
		{name: "conflicting patch is transient", service: restart, env: map[string]string{"FAKE_STATE": running, "FAKE_PATCH_EXIT": "1", "FAKE_PATCH_ERR": "Operation cannot be fulfilled: the object has been modified"}, wantExit: 1, wantNot: "rollout status"},
		{name: "container missing is permanent", service: restart, env: map[string]string{"FAKE_STATE": oldDigest + "|100||"}, wantExit: 2, wantNot: "patch"},
		{name: "unhealthy rollout is undone", service: setImage, env: map[string]string{"FAKE_STATE": running, "FAKE_STATUS_EXIT": "1"}, wantExit: 3,
			wantCalls: []string{"get deployment", "patch deployment", "rollout status", `{"argodeploy.dev/digest":"` + oldDigest + `","argodeploy.dev/published-at":"100","kubectl.kubernetes.io/restartedAt":"2026-01-01T00:00:00Z"}},"spec":{"containers":[{"name":"api","image":"` + oldDigest + `"}]}}}}`}},
		{name: "undo of a first rollout removes the annotations", service: restart, env: map[string]string{"FAKE_STATE": "|||" + oldDigest, "FAKE_STATUS_EXIT": "1"}, wantExit: 3,
			wantCalls: []string{"patch deployment", "rollout status", `{"argodeploy.dev/digest":null,"argodeploy.dev/published-at":null,"kubectl.kubernetes.io/restartedAt":null}`}},
		{name: "failed undo needs a human", service: restart, env: map[string]string{"FAKE_STATE": running, "FAKE_STATUS_EXIT": "1", "FAKE_UNDO_EXIT": "1"}, wantExit: 2},
		{name: "unhealthy rollout of the same digest is not undone", service: restart, env: map[string]string{"FAKE_STATE": digest + "|100||" + oldDigest, "FAKE_STATUS_EXIT": "1"}, wantExit: 2, wantNot: "patch"},
		{name: "remote cluster uses its kubeconfig", service: remote, kubeconfig: true, env: map[string]string{"FAKE_STATE": running},
			wantCalls: []string{"/kubeconfig/config --namespace prod get deployment api"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, d := range []string{"bin", "cache", "kubeconfig", "tmp"} {
				if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			write(t, filepath.Join(dir, "bin", "kubectl"), fakeKubectl, 0o755)
			write(t, filepath.Join(dir, "cache", tc.service.Name), CacheEntry(tc.service), 0o644)
			if tc.kubeconfig {
				write(t, filepath.Join(dir, "kubeconfig", "config"), "apiVersion: v1\n", 0o644)
			}
			logFile := filepath.Join(dir, "calls.log")
			env := map[string]string{
				"PATH":             filepath.Join(dir, "bin") + ":/usr/bin:/bin",
				"SERVICE":          tc.service.Name,
				"DIGEST":           digest,
				"TAG":              image + ":v1",
				"PUBLISHED_AT":     "200",
				"CACHE_DIR":        filepath.Join(dir, "cache"),
				"KUBECONFIG_DIR":   filepath.Join(dir, "kubeconfig"),
				"TMPDIR":           filepath.Join(dir, "tmp"),
				"FAKE_LOG":         logFile,
				"FAKE_GET_EXIT":    "0",
				"FAKE_PATCH_EXIT":  "0",
				"FAKE_UNDO_EXIT":   "0",
				"FAKE_STATUS_EXIT": "0",
			}
			for k, v := range tc.env {
				env[k] = v
			}
			cmd := exec.Command("/bin/sh", "-c", templates.RolloutScript)
			for k, v := range env {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			out, err := cmd.CombinedOutput()
			exit := 0
			if ee, ok := err.(*exec.ExitError); ok {
				exit = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			calls, _ := os.ReadFile(logFile)
			if exit != tc.wantExit {
				t.Fatalf("exit %d, want %d\noutput:\n%s\ncalls:\n%s", exit, tc.wantExit, out, calls)
			}
			rest := string(calls)
			for _, want := range tc.wantCalls {
				i := strings.Index(rest, want)
				if i < 0 {
					t.Fatalf("no call containing %q after the earlier ones\ncalls:\n%s\noutput:\n%s", want, calls, out)
				}
				rest = rest[i+len(want):]
			}
			if tc.wantNot != "" && strings.Contains(string(calls), tc.wantNot) {
				t.Fatalf("a call contains %q\ncalls:\n%s", tc.wantNot, calls)
			}
		})
	}
}

func write(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}
