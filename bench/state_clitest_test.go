//go:build clitest

package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/stacks"
)

// checkState against the real CLI (../bin/pulumi): stacks are made with
// `pulumi stack init` and `pulumi stack import`, as an operator would.
func TestCheckStateThroughCLI(t *testing.T) {
	root, err := findPulumiRoot()
	require.NoError(t, err, "bin/pulumi is missing: build it with `make pulumi`")
	ctx := context.Background()
	e := env{pulumiRoot: root, dir: t.TempDir(), passphrase: "bench"}
	require.NoError(t, os.MkdirAll(e.backendDir(), 0o700))
	assert.Empty(t, checkState(ctx, e, map[string]string{}), "an empty backend")

	cmd, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: root})
	require.NoError(t, err)
	ws, err := auto.NewLocalWorkspace(ctx, auto.WorkDir(t.TempDir()), auto.Pulumi(cmd), auto.PulumiHome(e.pulumiHome()),
		auto.SecretsProvider("passphrase"), auto.EnvVars(e.cliEnv()),
		auto.Project(workspace.Project{Name: tokens.PackageName(stacks.PreviewProject), Runtime: workspace.NewProjectRuntimeInfo("go", nil)}))
	require.NoError(t, err)
	// (`pulumi stack import` drops pending operations: those are left to
	// TestCompareStacksFindsDamage.)
	for stack, image := range map[string]string{"preview-a": "img:2", "preview-b": "img:1", "preview-x": "img:2"} {
		require.NoError(t, ws.CreateStack(ctx, stack))
		require.NoError(t, ws.ImportStack(ctx, stack, exportOf(t, stack, image, false).deployment))
	}
	require.NoError(t, ws.CreateStack(ctx, "preview-e")) // never updated: no app resource
	// Another project's stack is none of the check's business.
	other, err := auto.NewLocalWorkspace(ctx, auto.WorkDir(t.TempDir()), auto.Pulumi(cmd), auto.PulumiHome(e.pulumiHome()),
		auto.SecretsProvider("passphrase"), auto.EnvVars(e.cliEnv()),
		auto.Project(workspace.Project{Name: "other", Runtime: workspace.NewProjectRuntimeInfo("go", nil)}))
	require.NoError(t, err)
	require.NoError(t, other.CreateStack(ctx, "preview-y"))

	lockDir := filepath.Join(e.backendDir(), ".pulumi", "locks", "organization", stacks.PreviewProject, "preview-a")
	require.NoError(t, os.MkdirAll(lockDir, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(lockDir, "l.json"), []byte("{}"), 0o600))

	assert.Equal(t, []string{
		"lock left behind: " + filepath.Join(lockDir, "l.json"),
		"missing stack preview-d",
		`preview-b: holds image "img:1", want "img:2"`,
		"preview-e: 0 app resources, want 1",
		"unexpected stack preview-x",
	}, checkState(ctx, e, map[string]string{"preview-a": "img:2", "preview-b": "img:2", "preview-d": "img:2", "preview-e": "img:2"}))
}
