//go:build e2e

// The end-to-end test drives the whole lifecycle through the real Pulumi engine and
// providers against $KUBECONFIG: platform up, preview up, build run, a
// second up with no changes, preview destroy, platform destroy, checking the
// API server after each step. It needs the kubernetes, random and command
// provider plugins (downloaded by the Pulumi CLI on a connected machine).

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/automation"
)

// newManager prepares a platform stack on the existing cluster with an
// in-cluster registry, skipping when the provider plugins are missing.
func newManager(t testing.TB) *automation.Manager {
	t.Helper()
	kubeconfig := os.Getenv("KUBECONFIG")
	require.NotEmpty(t, kubeconfig, "KUBECONFIG must point at a cluster (../shared/kube/up.sh)")
	home := os.Getenv("PULUMI_HOME")
	if home == "" {
		home = filepath.Join(os.Getenv("HOME"), ".pulumi")
	}
	requirePlugins(t, home)
	root, _ := filepath.Abs("..")
	kubeContext := kubectl(t, "config", "current-context")
	require.NotEmpty(t, kubeContext)

	project := t.TempDir()
	pulumiYAML, err := os.ReadFile(filepath.Join(root, "Pulumi.yaml"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(project, "Pulumi.yaml"), pulumiYAML, 0o600))
	stackYAML := fmt.Sprintf("config:\n  apphub:clusterKind: existing\n  apphub:kubeContext: %s\n  apphub:registryKind: in-cluster\n  apphub:previewUrlTemplate: http://{launch}.preview.e2e.local\n", kubeContext)
	require.NoError(t, os.WriteFile(filepath.Join(project, "Pulumi.e2e.yaml"), []byte(stackYAML), 0o600))
	state := t.TempDir()
	m, err := automation.New(automation.Options{
		StateDir: state, BackendURL: "file://" + state, PulumiHome: home, PulumiRoot: root, ProjectDir: project,
		PlatformStack: "e2e", SkipPluginInstall: true, Progress: os.Stderr,
	})
	require.NoError(t, err)
	return m
}

func TestLifecycleThroughTheEngine(t *testing.T) {
	m := newManager(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Minute)
	defer cancel()

	_, err := m.PlatformUp(ctx)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, err := m.PlatformDestroy(context.Background())
		assert.NoError(t, err)
		assert.Empty(t, kubectl(t, "get", "ns", "-l", "app.kubernetes.io/part-of=apphub", "-o", "name"), "platform destroy leaves no namespace")
	})
	assert.Equal(t, "Active", kubectl(t, "get", "ns", "apphub", "-o", "jsonpath={.status.phase}"))
	assert.NotEmpty(t, kubectl(t, "get", "deploy", "-n", "apphub-system", "apphub-registry", "-o", "name"))

	p, err := m.PreviewUp(ctx, automation.PreviewSpec{Launch: "e2e-1", Image: "registry.test/apps/web:1", Replicas: ptr(2)})
	require.NoError(t, err)
	assert.Equal(t, "http://e2e-1.preview.e2e.local", p.URL)
	assert.Equal(t, "2", kubectl(t, "get", "deploy", "-n", "apphub", "preview-e2e-1", "-o", "jsonpath={.status.readyReplicas}"))

	b, err := m.BuildRun(ctx, automation.BuildSpec{ID: "e2e-1", GitURL: "https://github.com/acme/web.git", ImageRepository: "apps/web", ImageTag: "1"})
	require.NoError(t, err)
	assert.Contains(t, b.Image, "/apps/web:1")
	assert.Equal(t, "True", kubectl(t, "get", "job", "-n", "apphub-builds", "build-e2e-1", "-o", `jsonpath={.status.conditions[?(@.type=="Complete")].status}`))

	again, err := m.PreviewUp(ctx, automation.PreviewSpec{Launch: "e2e-1", Image: "registry.test/apps/web:1", Replicas: ptr(2)})
	require.NoError(t, err)
	for op, n := range again.LastUpdate.Changes {
		assert.Equal(t, "same", op, "a second up changes nothing (%d %s)", n, op)
	}
	platformAgain, err := m.PlatformUp(ctx)
	require.NoError(t, err)
	for op := range platformAgain.LastUpdate.Changes {
		assert.Equal(t, "same", op)
	}

	_, err = m.PreviewDestroy(ctx, "e2e-1")
	require.NoError(t, err)
	assert.Empty(t, kubectl(t, "get", "deploy,svc,ingress,networkpolicy", "-n", "apphub", "-l", "apphub.io/launch=e2e-1", "-o", "name"))
}

