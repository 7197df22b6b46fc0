package components

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests run the generated create/delete scripts with /bin/sh against
// stand-in k3d, docker, minikube and kubectl executables that log their
// arguments, since no Docker engine is available to run the real ones.

type fakeTools struct {
	dir, log string
	// owner is what `docker inspect` reports as the node's owner label.
	owner string
	// minikubeHome is MINIKUBE_HOME (profiles live under it).
	minikubeHome string
}

// newFakeTools writes the named stand-ins into a directory that becomes the
// whole PATH. clusterExists controls what `k3d cluster get` / `k3d
// registry get` answer.
func newFakeTools(t *testing.T, clusterExists bool, tools ...string) *fakeTools {
	t.Helper()
	dir := t.TempDir()
	log := filepath.Join(dir, "calls.log")
	exists := "1"
	if clusterExists {
		exists = "0"
	}
	bodies := map[string]string{
		"k3d": `echo "k3d $*" >> "$LOG"
case "$1 $2" in
  "cluster get"|"registry get") exit ` + exists + ` ;;
  "kubeconfig get") echo "apiVersion: v1"; echo "current-context: k3d-$3" ;;
esac`,
		"docker": `echo "docker $*" >> "$LOG"
[ "$1" = inspect ] && echo "$OWNER"
exit 0`,
		"minikube": `echo "minikube $*" >> "$LOG"
[ "$1" = start ] && mkdir -p "$MINIKUBE_HOME/profiles/$3"
exit 0`,
		"kubectl": `echo "kubectl $*" >> "$LOG"; echo "apiVersion: v1"`,
		"mkdir":   `/bin/mkdir "$@"`,
	}
	for _, tool := range append(tools, "mkdir") {
		require.NoError(t, os.WriteFile(filepath.Join(dir, tool), []byte("#!/bin/sh\n"+bodies[tool]+"\n"), 0o755))
	}
	return &fakeTools{dir: dir, log: log, minikubeHome: t.TempDir()}
}

func (f *fakeTools) run(t *testing.T, script string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	// Only the stand-ins are on PATH: the scripts need nothing else beyond
	// shell builtins, and real tools on this machine must not be reached.
	cmd.Env = []string{"PATH=" + f.dir, "LOG=" + f.log, "OWNER=" + f.owner, "MINIKUBE_HOME=" + f.minikubeHome}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return out.String(), errb.String(), code
}

func (f *fakeTools) calls(t *testing.T) []string {
	b, err := os.ReadFile(f.log)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

const ourStack = "organization/apphub/dev"

func TestK3dCreateScript(t *testing.T) {
	inspect := `docker inspect --format {{ index .Config.Labels "apphub.io/owner" }} k3d-apphub-server-0`
	tests := []struct {
		name          string
		exists        bool
		owner         string
		code          int
		calls, stderr []string
	}{
		{"a new cluster, pinned and labelled with its stack", false, "", 0, []string{
			"docker info", "k3d cluster get apphub",
			"k3d cluster create apphub --image rancher/k3s:v1.34.1-k3s1 --servers 1 --agents 2 --runtime-label apphub.io/owner=" + ourStack + "@server:0 --port 8080:80@loadbalancer --port 8443:443@loadbalancer --registry-create apphub-registry:0.0.0.0:5050 --kubeconfig-update-default --kubeconfig-switch-context=false --wait --timeout 300s",
			"k3d kubeconfig get apphub",
		}, nil},
		{"this stack's cluster is reused", true, ourStack, 0, []string{"docker info", "k3d cluster get apphub", inspect, "k3d kubeconfig get apphub"},
			[]string{"k3d cluster apphub (created by this stack) exists: reusing it"}},
		{"someone else's cluster is never adopted", true, "", 1, []string{"docker info", "k3d cluster get apphub", inspect},
			[]string{"exists but this stack (" + ourStack + ") did not create it (owner: none)", "k3d cluster delete apphub"}},
		{"another stack's cluster is never adopted", true, "organization/apphub/other", 1, []string{"docker info", "k3d cluster get apphub", inspect},
			[]string{"(owner: organization/apphub/other)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeTools(t, tt.exists, "k3d", "docker")
			f.owner = tt.owner
			stdout, stderr, code := f.run(t, K3dCreateScript(k3dArgs()))
			require.Equal(t, tt.code, code, stderr)
			assert.Equal(t, tt.calls, f.calls(t))
			for _, s := range tt.stderr {
				assert.Contains(t, stderr, s)
			}
			if code == 0 {
				assert.Equal(t, "apiVersion: v1\ncurrent-context: k3d-apphub\n", stdout, "stdout is the kubeconfig and nothing else")
			}
		})
	}
}

func TestK3dCreateScriptNamesMissingTools(t *testing.T) {
	f := newFakeTools(t, false, "k3d") // no docker
	_, stderr, code := f.run(t, K3dCreateScript(k3dArgs()))
	assert.Equal(t, 127, code)
	assert.Contains(t, stderr, "'docker' is not installed or not on PATH")
	assert.Empty(t, f.calls(t), "nothing runs before the tool check passes")
}

func TestK3dDeleteScriptDeletesOnlyItsOwnCluster(t *testing.T) {
	inspect := `docker inspect --format {{ index .Config.Labels "apphub.io/owner" }} k3d-apphub-server-0`
	tests := []struct {
		name   string
		exists bool
		owner  string
		calls  []string
		stderr string
	}{
		{"ours: cluster and registry deleted", true, ourStack,
			[]string{"k3d cluster get apphub", inspect, "k3d cluster delete apphub", "k3d registry get apphub-registry", "k3d registry delete apphub-registry"}, ""},
		{"already gone: nothing to do", false, "", []string{"k3d cluster get apphub"}, "already gone"},
		{"someone else's: left alone", true, "", []string{"k3d cluster get apphub", inspect}, "was not created by this stack (" + ourStack + "; owner: none): left alone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeTools(t, tt.exists, "k3d", "docker")
			f.owner = tt.owner
			_, stderr, code := f.run(t, K3dDeleteScript(k3dArgs()))
			require.Zero(t, code, stderr, "a destroy never fails on what is not ours")
			assert.Equal(t, tt.calls, f.calls(t))
			assert.Contains(t, stderr, tt.stderr)
		})
	}
}

func TestMinikubeScriptsOwnTheirProfile(t *testing.T) {
	args := &LocalClusterArgs{Kind: LocalClusterMinikube, Name: "apphub", Owner: ourStack, KubernetesVersion: "v1.34.1", CPUs: 4, Memory: "8g"}
	start := "minikube start --profile apphub --kubernetes-version v1.34.1 --cpus 4 --memory 8g --addons ingress --addons registry --wait all"
	f := newFakeTools(t, false, "minikube", "kubectl")
	stdout, stderr, code := f.run(t, MinikubeCreateScript(args))
	require.Zero(t, code, stderr)
	assert.Equal(t, "apiVersion: v1\n", stdout)
	assert.Equal(t, []string{start, "kubectl config view --raw --minify --flatten --context apphub"}, f.calls(t))
	owner, err := os.ReadFile(filepath.Join(f.minikubeHome, "profiles", "apphub", "apphub.io-owner"))
	require.NoError(t, err)
	assert.Equal(t, ourStack, string(owner), "the profile records the stack that created it")

	_, stderr, code = f.run(t, MinikubeCreateScript(args))
	require.Zero(t, code, "its own profile is resumed: %s", stderr)

	_, stderr, code = f.run(t, MinikubeDeleteScript(args))
	require.Zero(t, code, stderr)
	assert.Contains(t, f.calls(t), "minikube delete --profile apphub")

	// A profile someone else made: never started, never deleted.
	foreign := newFakeTools(t, false, "minikube", "kubectl")
	require.NoError(t, os.MkdirAll(filepath.Join(foreign.minikubeHome, "profiles", "apphub"), 0o755))
	_, stderr, code = foreign.run(t, MinikubeCreateScript(args))
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "did not create it (owner: none)")
	_, stderr, code = foreign.run(t, MinikubeDeleteScript(args))
	require.Zero(t, code, stderr)
	assert.Contains(t, stderr, "left alone")
	assert.Empty(t, foreign.calls(t))

	missing := newFakeTools(t, false, "minikube")
	_, stderr, code = missing.run(t, MinikubeCreateScript(args))
	assert.Equal(t, 127, code)
	assert.Contains(t, stderr, "'kubectl' is not installed")
}
