//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/queue"
)

const systemNS = "apphub-system"

// apiServiceUp checks what the platform deployed for the API service: two
// replicas as the deployer identity on the in-cluster PostgreSQL, reachable
// only from the catalog's namespace, and the URL the catalog is given.
func apiServiceUp(ctx context.Context, t *testing.T, e *env) {
	get := func(ref, path string) string { return kubectl(t, "get", "-n", systemNS, ref, "-o", "jsonpath="+path) }
	assert.Equal(t, "2", get("deploy/apphub-api", "{.status.availableReplicas}"))
	assert.Equal(t, "apphub-deployer", get("deploy/apphub-api", "{.spec.template.spec.serviceAccountName}"))
	assert.Equal(t, "1", get("statefulset/apphub-api-postgresql", "{.status.readyReplicas}"), "PostgreSQL from the local chart archive")
	assert.Equal(t, "1", get("pdb/apphub-api", "{.spec.maxUnavailable}"))
	assert.Equal(t, "apphub-catalog", get("networkpolicy/apphub-api", `{.spec.ingress[0].from[0].namespaceSelector.matchLabels.kubernetes\.io/metadata\.name}`))
	assert.Equal(t, "APPHUB_DATABASE_URL", get("deploy/apphub-api", `{.spec.template.spec.containers[0].env[?(@.name=="APPHUB_DATABASE_URL")].name}`))
	// The database URL the pods get names the release's Service.
	assert.Contains(t, secretValue(t, "apphub-api", "database-url"), "@apphub-api-postgresql.apphub-system.svc.cluster.local:5432/apphub")
	assert.Equal(t, apiToken, secretValue(t, "apphub-api", "token"))

	out, err := e.cli(ctx, t, "stack", "output", "serviceUrl")
	require.NoError(t, err)
	assert.Equal(t, "http://apphub-api.apphub-system.svc.cluster.local", strings.TrimSpace(out))
	var outputs map[string]any
	require.NoError(t, json.Unmarshal([]byte(get("configmap/apphub-platform", `{.data.outputs\.json}`)), &outputs))
	assert.Equal(t, "apphub", outputs["namespace"])
	for _, k := range []string{"kubeconfig", "kubeContext", "redisUrl"} {
		assert.NotContains(t, outputs, k, "the platform's ConfigMap holds no connection and no secret")
	}
}

func secretValue(t *testing.T, name, key string) string {
	t.Helper()
	out := kubectl(t, "get", "secret", "-n", systemNS, name, "-o", "go-template={{index .data \""+key+"\" | base64decode}}")
	return out
}

// inClusterService runs the API service as the Deployment does (its own
// command line, the platform read from its ConfigMap through the API
// server) with nothing but the deployer identity's token, since the harness runs no containers; then
// a preview and a build go through it. What the Role lacks would fail
// here, as it would in the pod.
func inClusterService(ctx context.Context, t *testing.T, e *env) {
	dir := t.TempDir()
	addr := freeAddr(t)
	args := deploymentArgs(t, dir, addr)
	env := []string{
		"KUBECONFIG=" + deployerKubeconfig(t, dir),
		// The pod's downward API: the namespace it runs in.
		"APPHUB_PLATFORM_NAMESPACE=" + deploymentNamespaceEnv(t),
		"PULUMI_HOME=" + e.home, "PULUMI_CONFIG_PASSPHRASE=" + passphrase, "PULUMI_SKIP_UPDATE_CHECK=true",
		"PATH=" + filepath.Join(e.root, "bin") + string(os.PathListSeparator) + os.Getenv("PATH"),
		// The pods' database is the in-cluster release, out of reach here.
		"APPHUB_DATABASE_URL=",
	}
	r := launchServe(t, "in-cluster", dir, addr, buildApphubctl(t, e), args, env)
	defer func() {
		if t.Failed() {
			t.Logf("service log:\n%s", tail(r.logText(), 6000))
		}
	}()

	preview := map[string]any{"image": "registry.test/apps/web:1", "cpuRequest": "10m", "cpuLimit": "100m", "memoryRequest": "16Mi", "memoryLimit": "64Mi"}
	succeeded(t, r, http.MethodPut, "/v1/previews/e2e-sa", preview)
	var p struct{ Preview struct{ URL, State string } }
	require.Equal(t, http.StatusOK, r.get("/v1/previews/e2e-sa", &p))
	assert.Equal(t, "http://e2e-sa.preview.e2e.local", p.Preview.URL)
	assert.Equal(t, "ready", p.Preview.State)
	assert.Equal(t, "1", kubectl(t, "get", "deploy", "-n", "apphub", "preview-e2e-sa", "-o", "jsonpath={.status.readyReplicas}"))

	build := map[string]any{"id": "e2e-sa", "gitUrl": "https://github.com/acme/web.git", "imageRepository": "apps/web", "imageTag": "sa"}
	succeeded(t, r, http.MethodPost, "/v1/builds", build)
	var b struct{ Build struct{ Image, State string } }
	require.Equal(t, http.StatusOK, r.get("/v1/builds/e2e-sa", &b))
	assert.Equal(t, "localhost:30500/apps/web:sa", strings.SplitN(b.Build.Image, "@", 2)[0])
	assert.Equal(t, "succeeded", b.Build.State)

	succeeded(t, r, http.MethodDelete, "/v1/previews/e2e-sa", nil)
	succeeded(t, r, http.MethodDelete, "/v1/builds/e2e-sa", nil)
	assert.Empty(t, kubectl(t, "get", "deploy,svc,ingress,networkpolicy", "-n", "apphub", "-l", "apphub.io/launch=e2e-sa", "-o", "name"))
	assert.Empty(t, kubectl(t, "get", "job", "-n", "apphub-builds", "build-e2e-sa", "--ignore-not-found", "-o", "name"))
	assert.NotContains(t, strings.ToLower(r.logText()), "forbidden", "the deployer identity was refused something")
}

// deploymentArgs is the API Deployment's command line with the container's
// paths mapped into dir and the listen address onto addr.
func deploymentArgs(t *testing.T, dir, addr string) []string {
	t.Helper()
	var args []string
	raw := kubectl(t, "get", "deploy", "-n", systemNS, "apphub-api", "-o", "jsonpath={.spec.template.spec.containers[0].args}")
	require.NoError(t, json.Unmarshal([]byte(raw), &args), "args: %q", raw)
	token := filepath.Join(dir, "token")
	require.NoError(t, os.WriteFile(token, []byte(secretValue(t, "apphub-api", "token")), 0o600))
	paths := map[string]string{
		":8080": addr, "/var/lib/apphub": filepath.Join(dir, "state"),
		"/etc/apphub/secrets/token": token,
	}
	mapped := 0
	for i, a := range args {
		if p, ok := paths[a]; ok {
			args[i] = p
			mapped++
		}
	}
	require.Equal(t, len(paths), mapped, "the Deployment's command line changed: %v", args)
	return args
}

// deploymentNamespaceEnv is APPHUB_PLATFORM_NAMESPACE as the Deployment's
// pods get it: from the downward API, the namespace they run in.
func deploymentNamespaceEnv(t *testing.T) string {
	t.Helper()
	field := kubectl(t, "get", "deploy", "-n", systemNS, "apphub-api", "-o",
		`jsonpath={.spec.template.spec.containers[0].env[?(@.name=="APPHUB_PLATFORM_NAMESPACE")].valueFrom.fieldRef.fieldPath}`)
	require.Equal(t, "metadata.namespace", field)
	return systemNS
}

// deployerKubeconfig is a kubeconfig for the harness's API server that
// authenticates with a token of the deployer service account only.
func deployerKubeconfig(t *testing.T, dir string) string {
	t.Helper()
	token := kubectl(t, "create", "token", "apphub-deployer", "-n", systemNS, "--duration=1h")
	require.NotEmpty(t, token)
	server := kubectl(t, "config", "view", "--raw", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}")
	ca := kubectl(t, "config", "view", "--raw", "--minify", "-o", "jsonpath={.clusters[0].cluster.certificate-authority-data}")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: harness, cluster: {server: %q, certificate-authority-data: %q}}]
users: [{name: deployer, user: {token: %q}}]
contexts: [{name: deployer, context: {cluster: harness, user: deployer}}]
current-context: deployer
`, server, ca, token)
	path := filepath.Join(dir, "deployer.kubeconfig")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	return path
}

// succeeded sends one request that queues an operation and waits for it
// to succeed.
func succeeded(t *testing.T, r *replica, method, path string, body any) {
	t.Helper()
	var op queue.Operation
	require.Equal(t, http.StatusAccepted, r.do(method, path, body, &op), "%s %s", method, path)
	deadline := time.Now().Add(3 * time.Minute)
	for !op.Done() && time.Now().Before(deadline) {
		time.Sleep(300 * time.Millisecond)
		r.get("/v1/operations/"+op.ID, &op)
	}
	require.Equal(t, queue.StatusSucceeded, op.Status, "%s %s: %s", method, path, op.Reason)
}
