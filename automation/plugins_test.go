package automation

import (
	"os"
	"path/filepath"
	"runtime/debug"
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
	m := &Manager{opts: Options{PulumiHome: home, Plugins: []Plugin{{"kubernetes", "v4.33.0"}, {"random", "v4.18.0"}, {"command", "v1.2.1"}, {"tls", "v5.0.0"}}}}
	assert.Equal(t, []Plugin{
		{Name: "random", Version: "v4.18.0"},
		{Name: "command", Version: "v1.2.1"},
		{Name: "tls", Version: "v5.0.0"},
	}, m.missingPlugins())
}

func TestPluginsFromBuildInfo(t *testing.T) {
	mods := func(extra ...*debug.Module) []*debug.Module {
		return append([]*debug.Module{
			{Path: "github.com/pulumi/pulumi-kubernetes/sdk/v4", Version: "v4.33.0"},
			{Path: "github.com/pulumi/pulumi-random/sdk/v4", Version: "v4.18.0"},
		}, extra...)
	}
	tests := []struct {
		name    string
		deps    []*debug.Module
		want    []Plugin
		wantErr string
	}{
		{name: "all three", deps: mods(&debug.Module{Path: "github.com/pulumi/pulumi-command/sdk", Version: "v1.2.1"}),
			want: []Plugin{{"kubernetes", "v4.33.0"}, {"random", "v4.18.0"}, {"command", "v1.2.1"}}},
		{name: "a replaced module counts at its replacement", deps: mods(&debug.Module{Path: "github.com/pulumi/pulumi-command/sdk", Version: "v1.2.0",
			Replace: &debug.Module{Path: "github.com/pulumi/pulumi-command/sdk", Version: "v1.2.1"}}),
			want: []Plugin{{"kubernetes", "v4.33.0"}, {"random", "v4.18.0"}, {"command", "v1.2.1"}}},
		{name: "missing SDK", deps: mods(), wantErr: "plugin command: module github.com/pulumi/pulumi-command/sdk"},
		{name: "local replacement has no version", deps: mods(&debug.Module{Path: "github.com/pulumi/pulumi-command/sdk", Version: "v1.2.1",
			Replace: &debug.Module{Path: "../command"}}), wantErr: "plugin command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pluginsFrom(tt.deps)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
