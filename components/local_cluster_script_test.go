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
}

// newFakeTools writes the named stand-ins into a directory that becomes the
// whole PATH. clusterExists controls what
// `k3d cluster get` / `k3d registry get` answer.
func newFakeTools(t *testing.T, clusterExists bool, tools ...string) fakeTools {
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
		"docker":   `echo "docker $*" >> "$LOG"`,
		"minikube": `echo "minikube $*" >> "$LOG"`,
		"kubectl":  `echo "kubectl $*" >> "$LOG"; echo "apiVersion: v1"`,
	}
	for _, tool := range tools {
		require.NoError(t, os.WriteFile(filepath.Join(dir, tool), []byte("#!/bin/sh\n"+bodies[tool]+"\n"), 0o755))
	}
	return fakeTools{dir: dir, log: log}
}

func (f fakeTools) run(t *testing.T, script string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	// Only the stand-ins are on PATH: the scripts need nothing else beyond
	// shell builtins, and real tools on this machine must not be reached.
	cmd.Env = []string{"PATH=" + f.dir, "LOG=" + f.log}
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

func (f fakeTools) calls(t *testing.T) []string {
	b, err := os.ReadFile(f.log)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func TestK3dCreateScriptCreatesThenPrintsKubeconfig(t *testing.T) {
	f := newFakeTools(t, false, "k3d", "docker")
	stdout, stderr, code := f.run(t, K3dCreateScript(k3dArgs()))
	require.Zero(t, code, stderr)
	assert.Equal(t, "apiVersion: v1\ncurrent-context: k3d-apphub\n", stdout, "stdout is the kubeconfig and nothing else")
	assert.Equal(t, []string{
		"docker info",
		"k3d cluster get apphub",
		"k3d cluster create apphub --servers 1 --agents 2 --port 8080:80@loadbalancer --port 8443:443@loadbalancer --registry-create apphub-registry:0.0.0.0:5050 --kubeconfig-update-default --kubeconfig-switch-context=false --wait --timeout 300s",
		"k3d kubeconfig get apphub",
	}, f.calls(t))
}

func TestK3dCreateScriptReusesExistingCluster(t *testing.T) {
	f := newFakeTools(t, true, "k3d", "docker")
	stdout, stderr, code := f.run(t, K3dCreateScript(k3dArgs()))
	require.Zero(t, code, stderr)
	assert.Contains(t, stderr, "k3d cluster apphub exists: reusing it")
	assert.Contains(t, stdout, "current-context: k3d-apphub")
	for _, c := range f.calls(t) {
		assert.NotContains(t, c, "cluster create")
	}
}

func TestK3dCreateScriptNamesMissingTools(t *testing.T) {
	f := newFakeTools(t, false, "k3d") // no docker
	_, stderr, code := f.run(t, K3dCreateScript(k3dArgs()))
	assert.Equal(t, 127, code)
	assert.Contains(t, stderr, "'docker' is not installed or not on PATH")
	assert.Empty(t, f.calls(t), "nothing runs before the tool check passes")
}

func TestK3dDeleteScriptIsIdempotent(t *testing.T) {
	gone := newFakeTools(t, false, "k3d")
	_, stderr, code := gone.run(t, K3dDeleteScript(k3dArgs()))
	require.Zero(t, code, stderr)
	assert.Equal(t, []string{"k3d cluster get apphub", "k3d registry get apphub-registry"}, gone.calls(t))

	present := newFakeTools(t, true, "k3d")
	_, stderr, code = present.run(t, K3dDeleteScript(k3dArgs()))
	require.Zero(t, code, stderr)
	assert.Equal(t, []string{"k3d cluster get apphub", "k3d cluster delete apphub", "k3d registry get apphub-registry", "k3d registry delete apphub-registry"}, present.calls(t))
}

func TestMinikubeScripts(t *testing.T) {
	args := &LocalClusterArgs{Kind: LocalClusterMinikube, Name: "apphub", CPUs: 4, Memory: "8g"}
	f := newFakeTools(t, false, "minikube", "kubectl")
	stdout, stderr, code := f.run(t, MinikubeCreateScript(args))
	require.Zero(t, code, stderr)
	assert.Equal(t, "apiVersion: v1\n", stdout)
	assert.Equal(t, []string{
		"minikube start --profile apphub --cpus 4 --memory 8g --addons ingress --addons registry --wait all",
		"kubectl config view --raw --minify --flatten --context apphub",
	}, f.calls(t))

	_, stderr, code = f.run(t, MinikubeDeleteScript(args))
	require.Zero(t, code, stderr)
	assert.Contains(t, f.calls(t), "minikube delete --profile apphub")

	missing := newFakeTools(t, false, "minikube")
	_, stderr, code = missing.run(t, MinikubeCreateScript(args))
	assert.Equal(t, 127, code)
	assert.Contains(t, stderr, "'kubectl' is not installed")
}
