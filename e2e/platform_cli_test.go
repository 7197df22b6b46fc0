//go:build e2e

package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestExperimentPlatformCLI(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Minute)
	defer cancel()
	cfg := e.platformConfig()
	e.writeProject(t, cfg)
	_, err := e.cli(ctx, t, "stack", "init")
	require.NoError(t, err)
	e.setSecret(ctx, t, "arcGithubAppId", "123456")
	e.setSecret(ctx, t, "arcGithubAppInstallationId", "7890123")
	e.setSecret(ctx, t, "arcGithubAppPrivateKey", throwawayAppKey(t))
	out, err := e.cli(ctx, t, "up", "--yes", "--skip-preview")
	t.Log(out)
	require.NoError(t, err)
	out, err = e.cli(ctx, t, "preview", "--expect-no-changes")
	t.Log(out)
	require.NoError(t, err)
	out, err = e.cli(ctx, t, "destroy", "--yes", "--skip-preview")
	t.Log(out)
	require.NoError(t, err)
}
