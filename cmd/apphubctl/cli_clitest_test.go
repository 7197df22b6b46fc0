//go:build clitest

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These run apphubctl against the real Pulumi CLI (../../bin/pulumi).
func cliArgs(t *testing.T, state string, args ...string) []string {
	root, _ := filepath.Abs("../..")
	_, err := os.Stat(filepath.Join(root, "bin", "pulumi"))
	require.NoError(t, err, "bin/pulumi is missing: build it with `make pulumi` (make test does)")
	return append([]string{"--state-dir", state, "--backend-url", "file://" + state, "--project-dir", root, "--skip-plugin-install", "-q"}, args...)
}

func TestStubModeJSON(t *testing.T) {
	t.Setenv("APPHUB_LAUNCH_EXECUTION_MODE", "stub")
	t.Setenv("APPHUB_BUILD_EXECUTION_MODE", "stub")
	t.Setenv("APPHUB_K8S_PREVIEW_URL_TEMPLATE", "https://{launch}.preview.local")
	state := t.TempDir()
	code, out, stderr := run(cliArgs(t, state, "preview", "up", "--launch", "pr-1", "--image", "r.test/app:1", "--env", "A=1", "-o", "json")...)
	require.Equal(t, exitOK, code, stderr)
	var res map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	assert.Equal(t, true, res["stub"])
	assert.Equal(t, "https://pr-1.preview.local", res["url"])

	code, out, _ = run(cliArgs(t, state, "preview", "list", "-o", "json")...)
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, `"launch": "pr-1"`)
	code, out, _ = run(cliArgs(t, state, "build", "run", "--id", "b-1", "--git-url", "https://git.test/x.git", "--repository", "apps/x", "--tag", "1")...)
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "stub execution mode")
	code, _, _ = run(cliArgs(t, state, "preview", "destroy", "pr-1")...)
	assert.Equal(t, exitOK, code)
	code, _, _ = run(cliArgs(t, state, "preview", "get", "pr-1")...)
	assert.Equal(t, exitNotFound, code)
}

func TestInvalidInputJSONAndNotFound(t *testing.T) {
	state := t.TempDir()
	code, out, _ := run(cliArgs(t, state, "preview", "up", "--launch", "Bad", "--image", "nginx", "-o", "json")...)
	assert.Equal(t, exitInvalid, code)
	var body map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &body))
	assert.Equal(t, "invalid", body["kind"])
	assert.Len(t, body["fields"], 2)

	code, _, stderr := run(cliArgs(t, state, "preview", "get", "nope")...)
	assert.Equal(t, exitNotFound, code, stderr)
	code, out, _ = run(cliArgs(t, state, "preview", "destroy", "nope", "-o", "json")...)
	assert.Equal(t, exitOK, code)
	assert.Contains(t, out, `"alreadyGone": true`)
	code, _, _ = run(cliArgs(t, state, "platform", "env")...)
	assert.Equal(t, exitNotFound, code, "no platform stack deployed")
	// No cluster at all: every check printed (here, the one that failed),
	// then exit 1 naming it.
	gone := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(gone, []byte(`apiVersion: v1
kind: Config
clusters: [{name: gone, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: gone, context: {cluster: gone, user: u}}]
current-context: gone
`), 0o600))
	code, out, _ = run(cliArgs(t, state, "--kubeconfig", gone, "platform", "status", "-o", "json")...)
	assert.Equal(t, exitFailed, code, out)
	var status struct{ Down []string }
	require.NoError(t, json.NewDecoder(strings.NewReader(out)).Decode(&status))
	assert.Equal(t, []string{"cluster"}, status.Down)
}

func TestLookupsOfUnknownIDsWriteNothing(t *testing.T) {
	state := t.TempDir()
	root, _ := filepath.Abs("../..")
	for _, args := range [][]string{{"preview", "get", "nope"}, {"build", "get", "nope"}} {
		// No --skip-plugin-install: a lookup runs no program, so it installs
		// no plugin (the download would fail here and exit 1).
		code, _, stderr := run(append([]string{"--state-dir", state, "--project-dir", root, "-q"}, args...)...)
		assert.Equal(t, exitNotFound, code, "%v: %s", args, stderr)
	}
	// The lookup asks the CLI (which may initialise its own backend
	// directory, .pulumi); apphubctl itself leaves no work directory and
	// installs nothing.
	for _, dir := range []string{"work/apphub-preview/preview-nope", "work/apphub-build/build-nope", "home/plugins"} {
		_, err := os.Stat(filepath.Join(state, dir))
		assert.True(t, os.IsNotExist(err), "%s must not exist", dir)
	}
}
