package automation

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/modfile"
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

// The plugins installed at start-up are the versions the programs were
// compiled against: go.mod is the one source, this keeps DefaultPlugins
// equal to it (the Dockerfile's pins are checked against DefaultPlugins).
func TestDefaultPluginsMatchGoMod(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "go.mod"))
	require.NoError(t, err)
	mod, err := modfile.Parse("go.mod", raw, nil)
	require.NoError(t, err)
	sdk := map[string]string{
		"kubernetes": "github.com/pulumi/pulumi-kubernetes/sdk/v4",
		"random":     "github.com/pulumi/pulumi-random/sdk/v4",
		"command":    "github.com/pulumi/pulumi-command/sdk",
	}
	versions := map[string]string{}
	for _, r := range mod.Require {
		versions[r.Mod.Path] = r.Mod.Version
	}
	require.Len(t, DefaultPlugins, len(sdk), "a plugin without its SDK in go.mod, or the reverse")
	for _, p := range DefaultPlugins {
		path, ok := sdk[p.Name]
		require.True(t, ok, "plugin %s has no SDK module listed here", p.Name)
		assert.Equal(t, versions[path], p.Version, "plugin %s must match %s in go.mod", p.Name, path)
	}
}

// `make plugins` installs the same versions (its PLUGINS list).
func TestMakefilePluginsMatchDefaultPlugins(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "Makefile"))
	require.NoError(t, err)
	var listed []string
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "PLUGINS := "); ok {
			listed = strings.Fields(rest)
		}
	}
	want := make([]string, 0, len(DefaultPlugins))
	for _, p := range DefaultPlugins {
		want = append(want, p.Name+":"+p.Version)
	}
	assert.Equal(t, want, listed, "Makefile's PLUGINS")
}
