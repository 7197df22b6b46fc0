package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/components"
)

// The image of `apphubctl serve` (/Dockerfile) reads the Pulumi CLI's and
// the plugins' versions from the go.mod files; what it still states itself
// (the Go builder image, the runtime user and paths the Deployment relies
// on) is checked here, since no Docker engine runs in CI.

// dockerfileRepoRoot is the repository root: go test runs in cmd/apphubctl.
const dockerfileRepoRoot = "../.."

// dockerInstruction is one Dockerfile instruction, continuation lines
// joined, in the build stage it belongs to (0 before the first FROM, then
// 1, 2, ...).
type dockerInstruction struct {
	Cmd   string // upper case: FROM, ARG, RUN, ...
	Args  string
	Stage int
}

func readRepoFile(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dockerfileRepoRoot, filepath.FromSlash(rel)))
	require.NoError(t, err)
	return string(b)
}

// parseDockerfile splits a Dockerfile into instructions. It knows what this
// repository's Dockerfile uses: comments, blank lines and backslash
// continuations (comment lines inside a continuation are dropped, as
// BuildKit does); no heredocs or escape directive.
func parseDockerfile(text string) []dockerInstruction {
	var out []dockerInstruction
	stage, cur := 0, ""
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if body, more := strings.CutSuffix(trimmed, `\`); more {
			cur += body + " "
			continue
		}
		cmd, args, _ := strings.Cut(cur+trimmed, " ")
		cur = ""
		cmd = strings.ToUpper(cmd)
		if cmd == "FROM" {
			stage++
		}
		out = append(out, dockerInstruction{Cmd: cmd, Args: strings.TrimSpace(args), Stage: stage})
	}
	return out
}

func loadDockerfile(t *testing.T) []dockerInstruction {
	t.Helper()
	ins := parseDockerfile(readRepoFile(t, "Dockerfile"))
	require.NotEmpty(t, ins, "Dockerfile has no instructions")
	return ins
}

// dockerKeyValues reads the KEY=value pairs of an ARG, ENV or LABEL (quotes
// stripped; a bare ARG NAME has an empty value). Values with spaces inside
// quotes are not split correctly, which none of the checked keys need.
func dockerKeyValues(args string) map[string]string {
	kv := map[string]string{}
	for _, f := range strings.Fields(args) {
		k, v, _ := strings.Cut(f, "=")
		kv[k] = strings.Trim(v, `"'`)
	}
	return kv
}

// dockerfileArgs are the ARG defaults, wherever declared: an ARG repeated
// in a later stage without a default does not clear an earlier one.
func dockerfileArgs(ins []dockerInstruction) map[string]string {
	args := map[string]string{}
	for _, in := range ins {
		if in.Cmd != "ARG" {
			continue
		}
		for k, v := range dockerKeyValues(in.Args) {
			if v != "" || args[k] == "" {
				args[k] = v
			}
		}
	}
	return args
}

// stageEnv is what the ENV instructions of one stage set.
func stageEnv(ins []dockerInstruction, stage int) map[string]string {
	env := map[string]string{}
	for _, in := range ins {
		if in.Cmd == "ENV" && in.Stage == stage {
			for k, v := range dockerKeyValues(in.Args) {
				env[k] = v
			}
		}
	}
	return env
}

// submatch is the first group of re in text, failing the test without one.
func submatch(t *testing.T, re, text, what string) string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(text)
	require.NotNil(t, m, "no %s (%s)", what, re)
	return m[1]
}

// goMinor is the major.minor of a Go version: 1.26.0 -> [1 26].
func goMinor(t *testing.T, v string) [2]int {
	t.Helper()
	parts := strings.SplitN(v, ".", 3)
	require.GreaterOrEqual(t, len(parts), 2, "Go version %q has no minor", v)
	var out [2]int
	for i := range out {
		n, err := strconv.Atoi(parts[i])
		require.NoError(t, err, "Go version %q", v)
		out[i] = n
	}
	return out
}

// golangImages are the versions of every golang:<version>-bookworm the
// Dockerfile builds FROM, ARG references expanded.
func golangImages(t *testing.T, ins []dockerInstruction) []string {
	t.Helper()
	args := dockerfileArgs(ins)
	re := regexp.MustCompile(`^(?:--platform=\S+\s+)?golang:(\S+?)-bookworm\b`)
	var versions []string
	for _, in := range ins {
		if in.Cmd != "FROM" {
			continue
		}
		from := os.Expand(in.Args, func(k string) string { return args[k] })
		if m := re.FindStringSubmatch(from); m != nil {
			versions = append(versions, m[1])
		}
	}
	require.NotEmpty(t, versions, "Dockerfile builds from no golang:<version>-bookworm image")
	return versions
}

// The builder's Go is the one go.mod names (a newer go line fails the build
// with the image's GOTOOLCHAIN=local; an older one would test one compiler
// and ship another). The tools module only needs a builder at least as new.
func TestDockerfileGoBuilderMatchesGoMod(t *testing.T) {
	rootGo := goMinor(t, submatch(t, `(?m)^go\s+(\S+)`, readRepoFile(t, "go.mod"), "go directive in go.mod"))
	toolsGo := goMinor(t, submatch(t, `(?m)^go\s+(\S+)`, readRepoFile(t, "tools/go.mod"), "go directive in tools/go.mod"))
	for _, v := range golangImages(t, loadDockerfile(t)) {
		image := goMinor(t, v)
		assert.Equal(t, rootGo, image, "golang:%s-bookworm vs go.mod's go directive", v)
		assert.False(t, image[0] < toolsGo[0] || (image[0] == toolsGo[0] && image[1] < toolsGo[1]),
			"golang:%s-bookworm is older than tools/go.mod's go directive", v)
	}
}

// The Deployment (components/api_service_pod.go) runs the image as uid
// 65532 with a restricted security context, links the plugins from
// /opt/pulumi-home and probes the service's port; the runtime stage must
// agree.
func TestDockerfileRuntimeStage(t *testing.T) {
	ins := loadDockerfile(t)
	last := ins[len(ins)-1].Stage
	env := stageEnv(ins, last)
	assert.Equal(t, "/opt/pulumi-home", env["PULUMI_HOME"], "runtime ENV PULUMI_HOME")
	assert.Equal(t, "true", env["PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"], "runtime ENV PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION")
	user, group, _ := strings.Cut(lastInStage(ins, last, "USER"), ":")
	assert.Equal(t, "65532", user, "runtime stage's USER (numeric: runAsNonRoot needs it)")
	assert.Contains(t, []string{"", "65532"}, group, "runtime stage's USER group")
	wants := map[string]string{
		"EXPOSE":     strconv.Itoa(components.APIServicePort),
		"ENTRYPOINT": `["apphubctl"]`,
	}
	for cmd, want := range wants {
		assert.Equal(t, want, lastInStage(ins, last, cmd), "runtime stage's %s", cmd)
	}
	assert.Contains(t, stageText(ins, last, "COPY"), "--chown=65532:65532 /opt/pulumi-home /opt/pulumi-home",
		"the runtime stage copies the plugins owned by the service's uid")
}

// lastInStage is the arguments of the stage's last cmd instruction (the one
// that takes effect), "" without one.
func lastInStage(ins []dockerInstruction, stage int, cmd string) string {
	got := ""
	for _, in := range ins {
		if in.Stage == stage && in.Cmd == cmd {
			got = in.Args
		}
	}
	return got
}

// stageText joins the arguments of a stage's cmd instructions.
func stageText(ins []dockerInstruction, stage int, cmd string) string {
	var b strings.Builder
	for _, in := range ins {
		if in.Stage == stage && in.Cmd == cmd {
			b.WriteString(in.Args + "\n")
		}
	}
	return b.String()
}
