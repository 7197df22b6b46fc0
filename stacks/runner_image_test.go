package stacks

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The runner image and the ARC defaults must describe the same runner, and
// the image must verify every tool AppHub's workflows use.
func TestRunnerDockerfileMatchesDefaults(t *testing.T) {
	dockerfile := string(projectFile(t, "runner/Dockerfile"))
	arg := func(name string) string {
		m := regexp.MustCompile(`(?m)^ARG ` + name + `=(\S+)$`).FindStringSubmatch(dockerfile)
		require.NotNil(t, m, "Dockerfile declares %s", name)
		return m[1]
	}
	keys := map[string]string{}
	for _, k := range PlatformConfigKeys() {
		keys[k.Name] = k.Default
	}
	assert.True(t, strings.HasSuffix(keys["arcRunnerImage"], ":"+arg("RUNNER_VERSION")),
		"arcRunnerImage default %q and the Dockerfile's base runner version agree", keys["arcRunnerImage"])
	assert.Contains(t, keys["arcBuildkitImage"], arg("BUILDKIT_VERSION"), "the sidecar daemon and the runner's buildctl are one BuildKit version")
	assert.Contains(t, dockerfile, "FROM ghcr.io/actions/actions-runner:${RUNNER_VERSION}")
	for _, check := range []string{"just --version", "go version", "kubectl version --client", "helm version", "buildctl --version"} {
		assert.Contains(t, dockerfile, check, "the build fails if a tool is missing")
	}
	assert.Regexp(t, `(?m)^USER runner$`, dockerfile, "the runner does not run as root")
}
