//go:build clitest

package automation

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/internal/testing/testprograms"
)

// These tests drive the real Pulumi CLI (built by `make pulumi` into
// ../bin) against a file:// backend in a temp dir, with test programs that
// need no provider plugin: they read the same config the real programs do
// and register a builtin Stash resource, so state, locks and pending
// operations are real.

// repoRoot is where bin/pulumi lives.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	return root
}

// requireCLI fails when the CLI is not built: this tier (build tag
// clitest, run by `make test`) exists to drive it.
func requireCLI(t *testing.T) string {
	t.Helper()
	root := repoRoot(t)
	if _, err := os.Stat(filepath.Join(root, "bin", "pulumi")); err != nil {
		t.Fatalf("bin/pulumi is missing: build it with `make pulumi` (make test does)")
	}
	return root
}

// fakeDigest reports a build pod's digest; gone: the pods are gone.
type fakeDigest struct {
	calls []string
	gone  bool
}

func (f *fakeDigest) Digest(_ context.Context, kubeconfig, kubeContext, ns, job string) (string, error) {
	f.calls = append(f.calls, fmt.Sprintf("%s %s/%s kubeconfig=%t", kubeContext, ns, job, kubeconfig != ""))
	if f.gone {
		return "", nil
	}
	return "sha256:" + fmt.Sprintf("%064d", 7), nil
}

// newTestManager builds a Manager on a fresh backend, PULUMI_HOME and
// project dir holding a Pulumi.yaml for the platform.
func newTestManager(t *testing.T, mod func(*Options)) *Manager {
	t.Helper()
	root := requireCLI(t)
	state := t.TempDir()
	project := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(project, "Pulumi.yaml"), []byte("name: apphub\nruntime: go\n"), 0o600))
	opts := Options{
		StateDir:          state,
		BackendURL:        "file://" + state,
		PulumiHome:        filepath.Join(state, "home"),
		Passphrase:        "test-passphrase",
		PulumiRoot:        root,
		ProjectDir:        project,
		SkipPluginInstall: true,
		MaxConcurrent:     10,
		LaunchMode:        ModeKubernetes,
		BuildMode:         ModeKubernetes,
		PreviewProgram:    testprograms.Preview,
		BuildProgram:      testprograms.Build,
		PlatformProgram:   testprograms.Platform,
		DigestReader:      &fakeDigest{},
		KubeClient:        testprograms.KubeClient(testprograms.PlatformCluster(testprograms.PlatformOutputs())),
		KubeContext:       "k3d-test",
	}
	if mod != nil {
		mod(&opts)
	}
	m, err := New(opts)
	require.NoError(t, err)
	require.NoError(t, m.Start(t.Context()))
	return m
}
