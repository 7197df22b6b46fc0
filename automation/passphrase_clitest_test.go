//go:build clitest

package automation

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A prod-like platform stack works with a passphrase file: the stack is
// created, a secret is set and read back through the CLI, and its stack
// file gets a salt made from that passphrase. The empty passphrase is
// refused for it before anything runs, and another passphrase is named as
// the problem.
func TestProdStackWithAPassphraseFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "passphrase")
	require.NoError(t, os.WriteFile(file, []byte("correct horse battery staple\n"), 0o600))
	t.Setenv(envPassphrase, "")
	require.NoError(t, os.Unsetenv(envPassphrase))
	var project string
	m := newTestManager(t, func(o *Options) {
		o.Passphrase, o.PassphraseFile, o.PlatformStack = "", file, "prod"
		project = o.ProjectDir
	})
	ctx := t.Context()
	_, err := m.PlatformUp(ctx)
	require.NoError(t, err)
	st, err := m.platformStack(ctx, false)
	require.NoError(t, err)
	require.NoError(t, st.SetConfig(ctx, "apphub:registryPassword", auto.ConfigValue{Value: "s3cret", Secret: true}))
	got, err := st.GetConfig(ctx, "apphub:registryPassword")
	require.NoError(t, err)
	assert.Equal(t, auto.ConfigValue{Value: "s3cret", Secret: true}, got)
	stackFile, err := os.ReadFile(filepath.Join(project, "Pulumi.prod.yaml"))
	require.NoError(t, err)
	assert.Contains(t, string(stackFile), "encryptionsalt", "the salt comes from this passphrase")
	assert.NotContains(t, string(stackFile), "s3cret")

	empty := m.Options()
	empty.Passphrase, empty.PassphraseSet, empty.PassphraseFile = "", true, ""
	me, err := New(empty)
	require.NoError(t, err, "an explicit empty passphrase is a setting, refused where it matters")
	_, err = me.PlatformUp(ctx)
	require.True(t, IsInvalid(err), "prod under the empty passphrase: %v", err)
	assert.Contains(t, err.Error(), envPassphrase)

	wrong := m.Options()
	wrong.Passphrase, wrong.PassphraseFile = "not the one", ""
	mw, err := New(wrong)
	require.NoError(t, err)
	_, err = mw.PlatformEnv(ctx)
	require.Error(t, err)
	assert.True(t, IsInvalid(err), "another passphrase is named, not a stack trace: %v", err)
	assert.Contains(t, err.Error(), `stack "prod" was encrypted with another passphrase`)
}
