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
	// Each tool AppHub's workflows use: pinned by a version ARG, and run in
	// the image's last check, so the build fails when one is missing.
	tools := []struct{ arg, check string }{
		{"GO_VERSION", "go version"}, {"KUBECTL_VERSION", "kubectl version --client"}, {"HELM_VERSION", "helm version"},
		{"BUILDKIT_VERSION", "buildctl --version"}, {"JUST_VERSION", "just --version"},
		{"SKAFFOLD_VERSION", "skaffold version"}, {"BUILDAH_VERSION", "buildah --version"},
		{"ESBUILD_VERSION", "esbuild --version"}, {"GOLANGCI_LINT_VERSION", "golangci-lint --version"},
	}
	checks := regexp.MustCompile(`(?s)RUN [^\n]*just/releases.*?\n\n`).FindString(dockerfile + "\n")
	for _, tool := range tools {
		assert.Regexp(t, `^v?\d+\.\d+\.\d+`, arg(tool.arg), "%s pins an exact version", tool.arg)
		assert.Contains(t, dockerfile, "${"+tool.arg+"}", "%s is used", tool.arg)
		assert.Contains(t, checks, tool.check, "the build fails if %s is missing", tool.check)
	}
	assert.Regexp(t, `(?m)^USER runner$`, dockerfile, "the runner does not run as root")
}
