package automation

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPulumiHomeDefaultsToTheUsersCache(t *testing.T) {
	user := t.TempDir()
	t.Setenv("HOME", user)
	t.Setenv("PULUMI_HOME", "")
	o, err := Options{StateDir: t.TempDir()}.withDefaults()
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(user, ".pulumi"), o.PulumiHome, "a new state dir must reuse ~/.pulumi's plugins")

	t.Setenv("PULUMI_HOME", filepath.Join(user, "elsewhere"))
	o, err = Options{StateDir: t.TempDir()}.withDefaults()
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(user, "elsewhere"), o.PulumiHome)

	o, err = Options{StateDir: t.TempDir(), PulumiHome: "/explicit"}.withDefaults()
	require.NoError(t, err)
	assert.Equal(t, "/explicit", o.PulumiHome)
}

func TestMissingPluginsListsOnlyWhatIsAbsent(t *testing.T) {
	home := t.TempDir()
	install := func(name, version string, mode os.FileMode) {
		dir := filepath.Join(home, "plugins", "resource-"+name+"-"+version)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "pulumi-resource-"+name), []byte("#!/bin/sh\n"), mode))
	}
	install("kubernetes", "v4.33.0", 0o755)
	install("random", "v4.18.0", 0o644) // not executable: a broken install
	install("command", "v1.2.1", 0o755)
	// An interrupted download leaves its marker beside the directory.
	require.NoError(t, os.WriteFile(filepath.Join(home, "plugins", "resource-command-v1.2.1.partial"), nil, 0o644))
	m := &Manager{opts: Options{PulumiHome: home, Plugins: append(DefaultPlugins, Plugin{Name: "tls", Version: "v5.0.0"})}}
	assert.Equal(t, []Plugin{
		{Name: "random", Version: "v4.18.0"},
		{Name: "command", Version: "v1.2.1"},
		{Name: "tls", Version: "v5.0.0"},
	}, m.missingPlugins())
}
