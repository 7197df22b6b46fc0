//go:build e2e && realnode

package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/internal/testing/pgtest"
	"github.com/apphub/apphub-infra/internal/testing/testca"
	"github.com/apphub/apphub-infra/queue"
)

// TestRealNodeService builds the service's image from ./Dockerfile with the
// platform's own build Job on the real node (offline: base images from the
// node's registry, Go modules and plugins from servers on the node's
// address), lets the platform run it there, and sends a preview through
// it: the image, its probes, read-only root, plugin-linking init
// container and in-cluster identity, all on a real kubelet.
func TestRealNodeService(t *testing.T) {
	e := newEnv(t)
	node := requireRealNode(t, e)
	ctx, cancel := context.WithTimeout(t.Context(), 75*time.Minute)
	defer cancel()
	// The harness's volumes are hostPath directories that kubelet creates
	// root-owned and fsGroup never reaches, so the non-root service gets its
	// queue and state in PostgreSQL (as prod does), served on the node's
	// address, instead of SQLite on a volume.
	pg := pgtest.Require(t, pgtest.ListenAlso(realNodeHost, "10.88.0.0/16"))
	db, err := pg.NewDatabase(ctx, "service")
	require.NoError(t, err)
	db = strings.Replace(db, "@127.0.0.1:", "@"+realNodeHost+":", 1)

	ca := testca.New(t)
	cfg := e.realNodeConfig(realNodeReadyTimeout, ca.CertPEM)
	cfg["buildTimeoutSeconds"] = "3600" // a cold Go build of the Pulumi CLI and apphubctl
	e.writeProject(t, cfg)
	_, err = e.cli(ctx, t, "stack", "init")
	require.NoError(t, err)
	m := e.manager(t)
	t.Cleanup(func() { e.teardown(t, m) })
	v1 := node.pushApp(t, e, "v1")
	golang := node.pushGolang(t)
	a := startAPI(t, e, m)

	var image string
	var svc *api
	runSteps(t, []step{
		{"platform up with previews and builds on the real node", func(t *testing.T) { realNodePlatformUp(ctx, t, e, m) }},
		{"the service's image, built from ./Dockerfile by a build Job", func(t *testing.T) { image = buildServiceImage(t, a, e, ca, golang) }},
		{"the platform runs the service from it", func(t *testing.T) { svc = serviceUp(ctx, t, e, image, db) }},
		{"a preview created and destroyed through the service", func(t *testing.T) { previewThroughService(t, svc, v1) }},
		platformDestroyStep(ctx, e),
	})
}

// buildServiceImage builds ./Dockerfile of this working tree, served as a
// git repository over HTTPS, through the HTTP API; it returns the image
// pinned by digest.
func buildServiceImage(t *testing.T, a *api, e *env, ca *testca.CA, golang string) string {
	root, commit := bareRepo(t, "apphub-infra.git", repoFiles(t, e))
	gitURL := serveGit(t, ca, root) + "/apphub-infra.git"
	args := map[string]string{
		"GO_IMAGE":             golang,
		"RUNTIME_IMAGE":        "busybox:1.36", // the harness has no debian:bookworm-slim
		"GOPROXY":              serveGoProxy(t, e),
		"GOSUMDB":              "off", // go.sum still checks every module
		"PULUMI_PLUGIN_SERVER": servePlugins(t, e),
		"VERSION":              "e2e-" + commit[:7],
		"REVISION":             commit,
	}
	const id = "rn-apphubctl"
	start := time.Now()
	code, body := a.do(t, http.MethodPost, "/v1/builds", map[string]any{
		"id": id, "gitUrl": gitURL, "gitRef": "main", "imageRepository": "apphub-e2e/apphubctl", "imageTag": commit[:12],
		"buildArgs": args, "cpuLimit": "2", "memoryRequest": "2Gi", "memoryLimit": "8Gi",
	})
	require.Equal(t, http.StatusAccepted, code, "%v", body)
	op := a.waitStream(t, body)
	require.Equal(t, queue.StatusSucceeded, op["status"], "%v", op["reason"])
	t.Logf("service image built from ./Dockerfile in %.0fs", time.Since(start).Seconds())

	return pinnedImage(t, a, id, "apphub-e2e/apphubctl", commit[:12])
}

// serviceUp turns the service on: two replicas on the real node, the
// queue and stack state in PostgreSQL. `pulumi up` returns once both are
// Ready, which the kubelet decides by the probes.
func serviceUp(ctx context.Context, t *testing.T, e *env, image, db string) *api {
	for k, v := range map[string]string{
		"serviceEnabled":      "true",
		"serviceImage":        image,
		"serviceReplicas":     "2",
		"serviceNodeSelector": `{"apphub.test/node": "real"}`,
		"serviceTolerations":  `[{"key": "apphub.test/node", "operator": "Equal", "value": "real", "effect": "NoSchedule"}]`,
	} {
		_, err := e.cli(ctx, t, "config", "set", "apphub:"+k, v)
		require.NoError(t, err)
	}
	e.setSecret(ctx, t, "serviceToken", apiToken)
	e.setSecret(ctx, t, "servicePassphrase", passphrase)
	e.setSecret(ctx, t, "serviceDatabaseUrl", db)
	start := time.Now()
	out, err := e.cli(ctx, t, "up", "--yes", "--skip-preview")
	require.NoError(t, err, "%s", tail(out, 4000))
	t.Logf("platform up with the service: %.1fs", time.Since(start).Seconds())

	get := func(ref, path string) string { return kubectl(t, "get", "-n", systemNS, ref, "-o", "jsonpath="+path) }
	const sel = "app.kubernetes.io/name=apphub-api"
	assert.Equal(t, "2", get("deploy/apphub-api", "{.status.readyReplicas}"))
	pods := func(path string) []string {
		return strings.Fields(kubectl(t, "get", "pods", "-n", systemNS, "-l", sel, "-o", "jsonpath="+path))
	}
	assert.Equal(t, []string{realNodeName, realNodeName}, pods("{.items[*].spec.nodeName}"))
	assert.Equal(t, []string{"0", "0"}, pods("{.items[*].status.initContainerStatuses[0].state.terminated.exitCode}"),
		"the init container linked the image's plugins")
	assert.Equal(t, []string{"0", "0"}, pods("{.items[*].status.containerStatuses[0].restartCount}"), "no probe restarted it")
	assert.Equal(t, []string{"true", "true"}, pods("{.items[*].spec.containers[0].securityContext.readOnlyRootFilesystem}"))
	ip, port := get("svc/apphub-api", "{.spec.clusterIP}"), get("svc/apphub-api", "{.spec.ports[0].port}")
	svc := &api{url: "http://" + ip + ":" + port}
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(svc.url + path)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, path)
	}
	return svc
}

// previewThroughService creates, checks and destroys a preview through the
// service in the cluster: its pods act with their own ServiceAccount.
func previewThroughService(t *testing.T, svc *api, image string) {
	const launch = "rn-svc"
	host := launch + ".preview.realnode.test"
	p := startProber(host, "/")
	code, body := svc.do(t, http.MethodPut, "/v1/previews/"+launch, map[string]any{"image": image, "port": 8080, "healthPath": "/healthz", "replicas": 1})
	require.Equal(t, http.StatusAccepted, code, "%v", body)
	op := svc.waitStream(t, body)
	require.Equal(t, queue.StatusSucceeded, op["status"], "%v", op["reason"])
	require.True(t, p.waitFor(func() bool { return p.untilOK() > 0 }, 30*time.Second), "the preview never answered: %v", p.tally())
	p.finish()
	t.Logf("through the in-cluster service: preview create -> first 200 at its URL %.2fs", p.untilOK().Seconds())

	code, got := svc.do(t, http.MethodGet, "/v1/previews/"+launch, nil)
	require.Equal(t, http.StatusOK, code, "%v", got)
	code, body = svc.do(t, http.MethodDelete, "/v1/previews/"+launch, nil)
	require.Equal(t, http.StatusAccepted, code, "%v", body)
	require.Equal(t, queue.StatusSucceeded, svc.waitStream(t, body)["status"])
	assert.Empty(t, kubectl(t, "get", "deploy,pods,svc,ingress", "-n", "apphub", "-l", "apphub.io/launch="+launch, "-o", "name"))
}
