//go:build clitest

package automation

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/automation/internal/pulumistate"
	"github.com/apphub/apphub-infra/internal/testing/testprograms"
	"github.com/apphub/apphub-infra/stacks"
)

// The fast paths must give the answers the CLI gives: these run both on
// the same real stacks, so a CLI whose backend layout changes fails here.
func TestFileStateAgreesWithCLI(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, nil)
	ctx := t.Context()
	_, err := m.PreviewUp(ctx, PreviewSpec{Launch: "agree", Image: "registry.test/app:1", Env: map[string]string{"A": "1"}})
	require.NoError(t, err)
	_, err = m.PlatformUp(ctx)
	require.NoError(t, err)

	lw, err := auto.NewLocalWorkspace(ctx, m.wsOpts(stacks.PreviewProject, m.stackDir(stacks.PreviewProject, "preview-agree"))...)
	require.NoError(t, err)

	t.Run("plaintext outputs come from the checkpoint", func(t *testing.T) {
		fromFile, err := m.state.Outputs(stacks.PreviewProject, "preview-agree")
		require.NoError(t, err)
		viaCLI, err := lw.StackOutputs(ctx, "preview-agree")
		require.NoError(t, err)
		assert.Equal(t, viaCLI, fromFile)
		assert.Equal(t, "http://agree.preview.test", fromFile[stacks.OutURL].Value)
		assert.Equal(t, float64(1), fromFile["envCount"].Value, "numbers decode as the CLI's JSON does")
	})

	t.Run("secret outputs defer to the CLI", func(t *testing.T) {
		_, err := m.state.Outputs(platformProject, "dev")
		assert.ErrorIs(t, err, pulumistate.ErrUnknown)
		vals, err := m.platformOutputs(ctx)
		require.NoError(t, err)
		assert.Equal(t, "redis://:s3cret@redis:6379/0", vals[stacks.OutRedisURL], "the CLI decrypts it")
	})

	t.Run("the last update comes from the history file", func(t *testing.T) {
		_, err := m.PreviewUp(ctx, PreviewSpec{Launch: "agree", Image: "registry.test/app:2", Env: map[string]string{"A": "1"}})
		require.NoError(t, err)
		args := []string{"stack", "history", "--json", "--show-secrets", "--page-size", "1", "--page", "1", "--stack", "preview-agree"}
		env := []string{"PULUMI_HOME=" + m.opts.PulumiHome}
		for k, v := range m.env() {
			env = append(env, k+"="+v)
		}
		cli, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: m.opts.PulumiRoot}) // the CLI itself, not the fast path
		require.NoError(t, err)
		viaCLI, _, _, err := cli.Run(ctx, m.stackDir(stacks.PreviewProject, "preview-agree"), nil, nil, nil, env, args...)
		require.NoError(t, err)
		fromFile, err := m.state.LastUpdate(stacks.PreviewProject, "preview-agree")
		require.NoError(t, err)
		var a, b []auto.UpdateSummary
		require.NoError(t, json.Unmarshal([]byte(viaCLI), &a))
		require.NoError(t, json.Unmarshal([]byte(fromFile), &b))
		assert.Equal(t, a, b)
		require.Len(t, b, 1)
		assert.Equal(t, map[string]int{"update": 1, "same": 1}, *b[0].ResourceChanges)
		assert.Equal(t, "registry.test/app:2", b[0].Config["apphub-preview:image"].Value)
	})

	t.Run("existence", func(t *testing.T) {
		exists, known := m.state.Exists(stacks.PreviewProject, "preview-agree")
		assert.True(t, exists && known)
		exists, known = m.state.Exists(stacks.PreviewProject, "preview-never")
		assert.True(t, known)
		assert.False(t, exists)
		assert.True(t, auto.IsSelectStack404Error(lw.SelectStack(ctx, "preview-never")), "the CLI agrees it is absent")
		_, err := m.selectStack(ctx, "test", stacks.PreviewProject, "preview-never", testprograms.Preview)
		assert.True(t, IsNotFound(err), "an absent stack is still NotFound through the fast path: %v", err)
	})

	t.Run("an emptied stack is removed as stack rm removes it", func(t *testing.T) {
		_, run := plainCLI(t, m, m.stackDir(stacks.PreviewProject, "preview-agree"))
		run("stack", "init", "rm-cli")
		run("stack", "init", "rm-fast")
		run("stack", "rm", "--yes", "rm-cli")
		removed, err := m.state.RemoveStack(stacks.PreviewProject, "rm-fast")
		require.NoError(t, err)
		require.True(t, removed)
		assert.Equal(t, backendFiles(t, m.fileBackendDir(), "rm-cli"), backendFiles(t, m.fileBackendDir(), "rm-fast"),
			"the same files are left behind")
		assert.NotContains(t, run("stack", "ls", "--json"), "rm-fast", "the CLI no longer lists it")
		run("stack", "init", "rm-fast") // and the name can be used again
		run("stack", "rm", "--yes", "rm-fast")
	})

	t.Run("a stack created from the files is one stack init would create", func(t *testing.T) {
		dir := m.stackDir(stacks.PreviewProject, "preview-agree")
		cli, run := plainCLI(t, m, dir)
		run("stack", "init", "init-cli")
		settings, err := lw.StackSettings(ctx, "init-cli")
		require.NoError(t, err)
		created, err := m.state.CreateStack(stacks.PreviewProject, "init-fast", "v"+cli.Version().String(), settings.EncryptionSalt, time.Now())
		require.NoError(t, err)
		require.True(t, created)
		fastLW, err := auto.NewLocalWorkspace(ctx, m.wsOpts(stacks.PreviewProject, dir)...)
		require.NoError(t, err)
		require.NoError(t, fastLW.SaveStackSettings(ctx, "init-fast", &workspace.ProjectStack{EncryptionSalt: settings.EncryptionSalt}))
		assert.Equal(t, backendFiles(t, m.fileBackendDir(), "init-cli"), backendFiles(t, m.fileBackendDir(), "init-fast"))
		assert.Contains(t, run("stack", "ls", "--json"), `"init-fast"`)
		run("config", "set", "--secret", "token", "s3cret", "--stack", "init-fast")
		assert.Equal(t, "s3cret\n", run("config", "get", "token", "--stack", "init-fast"), "the shared salt decrypts")
		exported := run("stack", "export", "--stack", "init-fast")
		assert.Contains(t, exported, `"type": "passphrase"`)
		run("stack", "rm", "--yes", "init-cli")
		run("stack", "rm", "--yes", "init-fast")
	})

	t.Run("config written without the CLI is what the CLI reads", func(t *testing.T) {
		cfg, err := lw.GetAllConfig(ctx, "preview-agree")
		require.NoError(t, err)
		assert.Equal(t, "agree", cfg["apphub-preview:launch"].Value)
		assert.Equal(t, `{"A":"1"}`, cfg["apphub-preview:env"].Value)
		assert.False(t, cfg["apphub-preview:env"].Secret)
		settings, err := lw.StackSettings(ctx, "preview-agree")
		require.NoError(t, err)
		assert.NotEmpty(t, settings.EncryptionSalt, "the passphrase salt survives the rewrite")
	})
}

// A work directory can be lost (a new machine on a shared backend, a
// cleaned state dir): the stack's settings file is then written by the CLI
// once, and the update sees exactly the new config.
func TestUpdateAfterTheWorkDirectoryIsLost(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, nil)
	ctx := t.Context()
	_, err := m.PreviewUp(ctx, PreviewSpec{Launch: "lost", Image: "registry.test/app:1", Env: map[string]string{"OLD": "1"}})
	require.NoError(t, err)
	require.NoError(t, os.RemoveAll(m.stackDir(stacks.PreviewProject, "preview-lost")))

	res, err := m.PreviewUp(ctx, PreviewSpec{Launch: "lost", Image: "registry.test/app:2"})
	require.NoError(t, err)
	assert.Equal(t, 1, res.LastUpdate.Changes["update"], "the image changed")
	assert.Equal(t, float64(0), res.Outputs["envCount"], "the dropped env var is gone")
	cfg, err := os.ReadFile(filepath.Join(m.stackDir(stacks.PreviewProject, "preview-lost"), "Pulumi.preview-lost.yaml"))
	require.NoError(t, err)
	assert.Contains(t, string(cfg), "registry.test/app:2")
	assert.Contains(t, string(cfg), "encryptionsalt", "the CLI wrote the salt back")

	// The next update takes the fast path again.
	_, err = m.PreviewUp(ctx, PreviewSpec{Launch: "lost", Image: "registry.test/app:3"})
	require.NoError(t, err)
}

// backendFiles lists the backend's files that name stack, with the name
// replaced, so two stacks' leftovers compare.
func backendFiles(t *testing.T, root, stack string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(filepath.Join(root, ".pulumi"), func(p string, d os.DirEntry, err error) error {
		if err != nil || !strings.Contains(p, stack) {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out = append(out, strings.ReplaceAll(rel, stack, "STACK"))
		return nil
	})
	require.NoError(t, err)
	sort.Strings(out)
	return out
}

// plainCLI is the Pulumi CLI itself (not the Manager's fast paths) on the
// Manager's backend, run in dir; run fails the test on error.
func plainCLI(t *testing.T, m *Manager, dir string) (auto.PulumiCommand, func(args ...string) string) {
	t.Helper()
	cli, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: m.opts.PulumiRoot})
	require.NoError(t, err)
	env := []string{"PULUMI_HOME=" + m.opts.PulumiHome}
	for k, v := range m.env() {
		env = append(env, k+"="+v)
	}
	return cli, func(args ...string) string {
		out, stderr, _, err := cli.Run(t.Context(), dir, nil, nil, nil, env, args...)
		require.NoError(t, err, "pulumi %v: %s", args, stderr)
		return out
	}
}
