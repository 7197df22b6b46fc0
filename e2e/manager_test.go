//go:build e2e

package e2e

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/automation"
	"github.com/apphub/apphub-infra/internal/testing/gomodpins"
)

// manager is the Automation API over the tier's project and backend: the
// same stack the CLI steps create, with the platform program inline.
func (e *env) manager(t testing.TB) *automation.Manager {
	t.Helper()
	m, err := automation.New(automation.Options{
		StateDir: t.TempDir(), BackendURL: "file://" + e.state, PulumiHome: e.home, Passphrase: passphrase,
		PulumiRoot: e.root, ProjectDir: e.project, PlatformStack: e.stack, Plugins: gomodpins.Plugins(t, e.root),
		Kubeconfig: e.kubeconfig,
		Logger:     slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Progress:   os.Stderr,
	})
	require.NoError(t, err)
	// Nothing to install: the plugins are in PULUMI_HOME, and Start must
	// know it without asking a registry.
	require.NoError(t, m.Start(t.Context()))
	return m
}

// teardown destroys whatever the run left, even after a failed step:
// previews first, then the platform; if the platform destroy
// fails, it removes the namespaces labelled as ours so that the next run
// starts clean, and the test fails with what was left.
func (e *env) teardown(t *testing.T, m *automation.Manager) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if items, err := m.PreviewList(ctx); err == nil {
		for _, p := range items {
			if _, err := m.PreviewDestroy(ctx, p.Launch); err != nil {
				t.Errorf("teardown: preview %s: %v", p.Launch, err)
			}
		}
	}
	// Build Jobs go with their namespace; the build stacks stay in the
	// run's temporary backend (there is no build destroy yet).
	if out, err := e.cli(ctx, t, "destroy", "--yes", "--skip-preview"); err != nil {
		t.Errorf("teardown: platform destroy failed: %v\n%s", err, out)
		for _, ns := range strings.Fields(kubectl(t, "get", "ns", "-l", "app.kubernetes.io/part-of=apphub", "-o", "name")) {
			kubectl(t, "delete", ns, "--wait=false")
		}
	}
	assertNothingLeft(t)
}
