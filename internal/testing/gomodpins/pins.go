// Package gomodpins reads, for tests, the provider plugin versions go.mod
// pins through their SDKs. A test binary carries no dependency list, so
// automation.DefaultPlugins cannot answer inside one; this is the oracle
// tests compare a built binary with, or hand a Manager.
package gomodpins

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/mod/modfile"

	"github.com/apphub/apphub-infra/automation"
)

// Plugins are the plugins the go.mod in root pins, in the order
// automation.DefaultPlugins lists them.
func Plugins(t testing.TB, root string) []automation.Plugin {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	mod, err := modfile.Parse("go.mod", raw, nil)
	require.NoError(t, err)
	versions := map[string]string{}
	for _, r := range mod.Require {
		versions[r.Mod.Path] = r.Mod.Version
	}
	return []automation.Plugin{
		{Name: "kubernetes", Version: versions["github.com/pulumi/pulumi-kubernetes/sdk/v4"]},
		{Name: "random", Version: versions["github.com/pulumi/pulumi-random/sdk/v4"]},
		{Name: "command", Version: versions["github.com/pulumi/pulumi-command/sdk"]},
	}
}
