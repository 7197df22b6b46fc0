package components

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runGuard runs the finalizer guard's delete script as the command
// provider does (bash -c) with PATH limited to dir (plus, when withTools,
// the system's), and returns its exit code and output.
func runGuard(t *testing.T, dir string, withTools bool, env ...string) (int, string) {
	t.Helper()
	bash, err := exec.LookPath("bash")
	require.NoError(t, err)
	path := dir
	if withTools {
		path += string(os.PathListSeparator) + os.Getenv("PATH")
	}
	cmd := exec.Command(bash, "-c", arcFinalizerScript)
	cmd.Env = append([]string{"PATH=" + path, "HOME=" + t.TempDir(),
		"ARC_CONTROLLER_NAMESPACE=arc-systems", "ARC_CONTROLLER=arc-gha-rs-controller",
		"ARC_RUNNERS_NAMESPACE=arc-runners", "ARC_SCALE_SET=apphub-runners", "ARC_TIMEOUT_SECONDS=1"}, env...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), string(out)
	}
	require.NoError(t, err)
	return 0, string(out)
}

// fakeKubectl puts a kubectl in dir that answers with script (bash).
func fakeKubectl(t *testing.T, script string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "kubectl"), []byte("#!/bin/bash\n"+script+"\n"), 0o755))
	return dir
}

// The guard fails closed: whatever keeps it from seeing the cluster fails
// the delete with the reason, instead of reading as "nothing to do" and
// leaving the destroy to hang on the finalizers.
func TestARCFinalizerGuardFailsClosed(t *testing.T) {
	unreachable := "ARC_KUBECONFIG=apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\n" +
		"users:\n- name: u\n  user: {token: t}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n"
	tests := []struct {
		name      string
		dir       string
		withTools bool
		env       []string
		want      []string
	}{
		{"no kubectl", t.TempDir(), false, nil, []string{"kubectl is not on PATH"}},
		{"kubectl fails", fakeKubectl(t, `echo "error: You must be logged in to the server (Unauthorized)" >&2; exit 1`), true, nil,
			[]string{"cannot reach the cluster", "Unauthorized"}},
		{"RBAC refusal", fakeKubectl(t, `case "$*" in *"auth can-i"*) echo no; exit 1;; *) exit 0;; esac`), true, nil,
			[]string{"may not list pods in arc-runners"}},
		{"listing fails midway", fakeKubectl(t, `case "$*" in
  *"auth can-i"*) echo yes;;
  *api-resources*) echo ephemeralrunners.actions.github.com;;
  *"get ephemeralrunners"*) echo "error: the server was unable to return a response in the time allotted" >&2; exit 1;;
  *) exit 0;;
esac`), true, nil, []string{"listing ephemeralrunners.actions.github.com", "unable to return a response"}},
	}
	if _, err := exec.LookPath("kubectl"); err == nil {
		tests = append(tests, struct {
			name      string
			dir       string
			withTools bool
			env       []string
			want      []string
		}{"unreachable API server (real kubectl)", t.TempDir(), true, []string{unreachable}, []string{"cannot reach the cluster", "connection refused"}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := runGuard(t, tt.dir, tt.withTools, tt.env...)
			assert.Equal(t, 1, code, out)
			for _, w := range tt.want {
				assert.Contains(t, out, w)
			}
			assert.NotContains(t, out, "nothing to do")
		})
	}
}

// With the cluster answering and nothing held, the guard has nothing to
// do; with a finalizer held and no controller, it removes exactly ARC's.
func TestARCFinalizerGuardClearsOnlyARCFinalizers(t *testing.T) {
	log := filepath.Join(t.TempDir(), "calls")
	dir := fakeKubectl(t, `echo "$*" >>`+log+`
case "$*" in
  *"auth can-i"*) echo yes;;
  *api-resources*) ;;
  *"get pods"*) echo "arc-runners runner-1 actions.github.com/cleanup-protection,example.com/keep,";;
  *"get deployment"*) ;;
  *) exit 0;;
esac`)
	code, out := runGuard(t, dir, true)
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "removing them")
	calls, err := os.ReadFile(log)
	require.NoError(t, err)
	assert.Contains(t, string(calls), `patch pods runner-1 -n arc-runners --type=merge -p {"metadata":{"finalizers":["example.com/keep"]}}`)
	assert.Contains(t, string(calls), "delete pods runner-1 -n arc-runners --ignore-not-found --wait=false")
	assert.NotContains(t, string(calls), "ephemeralrunners", "CRDs that are gone are not listed")
	assert.Equal(t, 1, strings.Count(string(calls), "--request-timeout=30s patch "), "only the object that holds an ARC finalizer")
}
