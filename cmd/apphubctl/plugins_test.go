package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/modfile"

	"github.com/apphub/apphub-infra/automation"
)

// The plugins a built apphubctl installs (and the Dockerfile bakes in) are
// the versions go.mod pins for their SDKs: the binary reads them from its
// own build information, so go.mod is the one place they are written.
// A test binary carries no dependency list, hence the real build.
func TestPluginsAreTheSDKVersionsOfGoMod(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "apphubctl")
	build := exec.Command("go", "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	out, err = exec.Command(bin, "plugins", "-o", "json").Output()
	require.NoError(t, err)
	var got []automation.Plugin
	require.NoError(t, json.Unmarshal(out, &got))

	raw, err := os.ReadFile(filepath.Join(dockerfileRepoRoot, "go.mod"))
	require.NoError(t, err)
	mod, err := modfile.Parse("go.mod", raw, nil)
	require.NoError(t, err)
	versions := map[string]string{}
	for _, r := range mod.Require {
		versions[r.Mod.Path] = r.Mod.Version
	}
	assert.Equal(t, []automation.Plugin{
		{Name: "kubernetes", Version: versions["github.com/pulumi/pulumi-kubernetes/sdk/v4"]},
		{Name: "random", Version: versions["github.com/pulumi/pulumi-random/sdk/v4"]},
		{Name: "command", Version: versions["github.com/pulumi/pulumi-command/sdk"]},
	}, got)
}
