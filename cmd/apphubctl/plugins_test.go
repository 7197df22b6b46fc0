package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/automation"
	"github.com/apphub/apphub-infra/internal/testing/gomodpins"
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

	assert.Equal(t, gomodpins.Plugins(t, dockerfileRepoRoot), got)
}
