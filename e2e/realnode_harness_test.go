//go:build e2e && realnode

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The real node of ../shared/kube/node: containerd and kubelet on this
// machine beside the kwok nodes, its registry (the only image source),
// traefik on 127.0.0.1:18080 for Ingresses of steered namespaces, and an
// admission webhook that steers a namespace annotated with the
// PodNodeSelector annotation onto the node.
const (
	realNodeName     = "real-node-0"
	realNodeHost     = "10.88.0.1"
	realNodeRegistry = realNodeHost + ":5000"
	realNodeIngress  = "http://127.0.0.1:18080"
	realNodeSelector = `{"scheduler.alpha.kubernetes.io/node-selector": "apphub.test/node=real"}`
)

// realNode is the harness's node directory (push-image.sh).
type realNode struct{ dir string }

// requireRealNode fails, naming what to start, unless the node is Ready.
func requireRealNode(t testing.TB, e *env) *realNode {
	t.Helper()
	dir := os.Getenv("APPHUB_REAL_NODE_DIR")
	if dir == "" {
		dir = filepath.Join(e.root, "..", "shared", "kube", "node")
	}
	_, err := os.Stat(filepath.Join(dir, "push-image.sh"))
	require.NoError(t, err, "the real node's push-image.sh (APPHUB_REAL_NODE_DIR names its folder)")
	ready := kubectl(t, "get", "node", realNodeName, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
	require.Equal(t, "True", ready, "node %s must be Ready: run ../shared/kube/node/up.sh after ../shared/kube/up.sh", realNodeName)
	// Registered before any teardown, so it runs after them all.
	reclaimHarnessVolumes(t)
	return &realNode{dir: dir}
}

// realNodeConfig is the platform with its preview and build namespaces on
// the real node and the node's registry (plain HTTP, no login).
func (e *env) realNodeConfig(readyTimeout time.Duration, caPEM string) map[string]string {
	cfg := withoutService(withoutARC(e.platformConfig()))
	delete(cfg, "buildTimeoutSeconds")
	for k, v := range map[string]string{
		"registryKind":                "external",
		"registryServer":              realNodeRegistry,
		"registryInsecure":            "true",
		"previewUrlTemplate":          "http://{launch}.preview.realnode.test",
		"ingressClass":                "traefik",
		"previewNamespaceAnnotations": realNodeSelector,
		"buildNamespaceAnnotations":   realNodeSelector,
		"previewReadyTimeoutSeconds":  fmt.Sprint(int(readyTimeout.Seconds())),
		"buildCaBundle":               caPEM,
	} {
		cfg[k] = v
	}
	return cfg
}

// pushApp builds e2e/testdata/previewapp at version and pushes it to the
// node's registry as one layer; it returns the pushed reference.
func (n *realNode) pushApp(t testing.TB, e *env, version string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "previewapp")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+version, "-o", bin, "./e2e/testdata/previewapp")
	build.Dir, build.Env = e.root, append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	ref := n.push(t, "--file", bin+":/previewapp", "--entrypoint", "/previewapp", "--port", "8080", "apphub-e2e/previewapp:"+version)
	return strings.SplitN(ref, "@", 2)[0]
}

// push runs push-image.sh; it returns the pushed reference with its digest.
func (n *realNode) push(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(n.dir, "push-image.sh"), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "push-image.sh %v: %s", args, stderr.String())
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	return lines[len(lines)-1]
}

// appAnswer is what previewapp's / returns.
type appAnswer struct {
	Version   string `json:"version"`
	Launch    string `json:"launch"`
	PublicURL string `json:"publicUrl"`
	BasePath  string `json:"basePath"`
	Host      string `json:"host"`
	Path      string `json:"path"`
}

var ingressClient = &http.Client{Timeout: 5 * time.Second}

// viaIngress sends GET path to the node's ingress as host.
func viaIngress(host, path string) (int, *appAnswer, error) {
	req, err := http.NewRequest(http.MethodGet, realNodeIngress+path, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Host = host
	resp, err := ingressClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil, nil
	}
	var a appAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("decoding the answer: %w", err)
	}
	return resp.StatusCode, &a, nil
}
