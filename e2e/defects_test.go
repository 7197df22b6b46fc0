//go:build e2e

package e2e

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/automation"
)

// digests reads a build pod's termination message through the API server
// with the platform's kubeconfig given as a path (which the kubectl-based
// reader wrote into a file as if it were contents, so no digest was ever
// pinned) and as contents. kwok runs no container, so the pod's finished
// status is written by the test.
func digests(ctx context.Context, t *testing.T, e *env) {
	const ns, job = "apphub-builds", "e2e-digest"
	pod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"e2e-digest-pod","namespace":"apphub-builds","labels":{"job-name":"e2e-digest"}},
	  "spec":{"nodeSelector":{"e2e.apphub.io/no-such-node":"true"},"containers":[{"name":"build","image":"registry.test/none:1"}]}}`
	kubectlIn(t, pod, "apply", "-f", "-")
	defer kubectl(t, "delete", "pod", "-n", ns, "e2e-digest-pod", "--ignore-not-found", "--wait=false")
	digest := "sha256:" + strings.Repeat("ab", 32)
	status := `{"status":{"phase":"Succeeded","containerStatuses":[{"name":"build","image":"registry.test/none:1","imageID":"","ready":false,"restartCount":0,
	  "state":{"terminated":{"exitCode":0,"reason":"Completed","message":"` + digest + `\n"}}}]}}`
	kubectl(t, "patch", "pod", "-n", ns, "e2e-digest-pod", "--subresource=status", "--type=merge", "-p", status)
	require.Equal(t, "Succeeded", kubectl(t, "get", "pod", "-n", ns, "e2e-digest-pod", "-o", "jsonpath={.status.phase}"))

	contents, err := os.ReadFile(e.kubeconfig)
	require.NoError(t, err)
	for name, kubeconfig := range map[string]string{"path": e.kubeconfig, "contents": string(contents)} {
		got, err := automation.ClusterDigest{}.Digest(ctx, kubeconfig, e.kubeContext, ns, job)
		require.NoError(t, err, name)
		assert.Equal(t, digest, got, "kubeconfig as %s", name)
	}
}

// badPlatformConfig: an in-cluster registry with registry credentials used
// to pass validation and fail after 16 resources existed. Through the CLI
// and main.go, as a user would hit it, it must be refused with nothing
// created.
func badPlatformConfig(ctx context.Context, t *testing.T, e *env) {
	bad := e.withStack("e2e-bad")
	cfg := e.platformConfig()
	for k, v := range map[string]string{"namespace": "e2e-bad-previews", "buildNamespace": "e2e-bad-builds", "systemNamespace": "e2e-bad-system", "registryUsername": "robot"} {
		cfg[k] = v
	}
	bad.writeStack(t, withoutARC(cfg))
	_, err := bad.cli(ctx, t, "stack", "init")
	require.NoError(t, err)
	defer func() { _, _ = bad.cli(context.Background(), t, "stack", "rm", "--yes", "--force") }()
	bad.setSecret(ctx, t, "registryPassword", "s3cret")

	out, err := bad.cli(ctx, t, "up", "--yes", "--skip-preview")
	require.Error(t, err)
	assert.Contains(t, out, "registryUsername")
	assert.Contains(t, out, "in-cluster")
	assert.NotContains(t, out, "s3cret", "the password never prints")
	for _, ns := range []string{"e2e-bad-previews", "e2e-bad-builds", "e2e-bad-system"} {
		assert.Empty(t, kubectl(t, "get", "ns", ns, "--ignore-not-found", "-o", "name"), ns)
	}
	exported, err := bad.cli(ctx, t, "stack", "export")
	require.NoError(t, err)
	assert.NotContains(t, exported, "kubernetes:core/v1:Namespace", "no resource was registered")
}
