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

// noPulumi leaves the test without any Pulumi CLI or plugin and without the
// catalog's variables: bad input must be refused before either is needed.
func noPulumi(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	for _, k := range []string{"PULUMI_BACKEND_URL", "APPHUB_DATABASE_URL", "APPHUB_WEBHOOK_URL", "APPHUB_WEBHOOK_SECRET", "APPHUB_STATE_DIR", "APPHUB_LAUNCH_EXECUTION_MODE", "APPHUB_BUILD_EXECUTION_MODE", "APPHUB_API_TOKEN"} {
		t.Setenv(k, "")
	}
}

// cliProblems runs apphubctl with -o json and returns the exit code and the
// refused fields with their rules.
func cliProblems(t *testing.T, state string, args []string) (int, map[string][]string, string) {
	t.Helper()
	code, out, stderr := run(append([]string{"--state-dir", state, "-o", "json"}, args...)...)
	var body struct {
		Kind   string `json:"kind"`
		Fields []struct{ Field, Rule string }
	}
	fields := map[string][]string{}
	if json.Unmarshal([]byte(out), &body) == nil {
		assert.Equal(t, "invalid", body.Kind, "stdout: %s", out)
		for _, f := range body.Fields {
			fields[f.Field] = append(fields[f.Field], f.Rule)
		}
	}
	return code, fields, stderr
}

// stateIsEmpty asserts nothing was written: no state, work or home
// directory, no stack, no plugin.
func stateIsEmpty(t *testing.T, state string) {
	t.Helper()
	entries, err := os.ReadDir(state)
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing may be created under the state dir")
}

func TestBadInvocationsAreRefusedBeforeAnythingExists(t *testing.T) {
	preview := []string{"preview", "up", "--launch", "pr-1", "--image", "registry.test/app:1"}
	build := []string{"build", "run", "--id", "b-1", "--git-url", "https://git.test/acme/web.git", "--repository", "apps/web", "--tag", "1"}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want []want
	}{
		// preview up
		{"port zero", append(preview, "--port", "0"), nil, []want{{"--port", "must not be zero"}}},
		{"privileged port", append(preview, "--port", "80"), nil, []want{{"--port", "1024 or above"}}},
		{"port out of range", append(preview, "--port", "70000"), nil, []want{{"--port", "1-65535"}}},
		{"port not a number", append(preview, "--port", "http"), nil, []want{{"--port", `must be a whole number, got "http"`}}},
		{"port in hex", append(preview, "--port", "0x1f90"), nil, []want{{"--port", "must be a whole number"}}},
		{"port twice", append(preview, "--port", "3000", "--port", "4000"), nil, []want{{"--port", "given 2 times"}}},
		{"sub-second ttl", append(preview, "--ttl", "500ms"), nil, []want{{"--ttl", "whole number of seconds, got 500ms"}}},
		{"fractional ttl", append(preview, "--ttl", "1.5s"), nil, []want{{"--ttl", "whole number of seconds"}}},
		{"negative ttl", append(preview, "--ttl", "-1h"), nil, []want{{"--ttl", "must not be negative"}}},
		{"ttl beyond a year", append(preview, "--ttl", "9000h"), nil, []want{{"--ttl", "at most"}}},
		{"ttl not a duration", append(preview, "--ttl", "2d"), nil, []want{{"--ttl", "must be a duration"}}},
		{"missing launch", []string{"preview", "up", "--image", "registry.test/app:1"}, nil, []want{{"--launch", "is required"}}},
		{"launch twice", append(preview, "--launch", "pr-2"), nil, []want{{"--launch", "given 2 times"}}},
		{"uppercase launch", []string{"preview", "up", "--launch", "PR-1", "--image", "registry.test/app:1"}, nil, []want{{"--launch", "RFC 1123"}}},
		{"untagged image", []string{"preview", "up", "--launch", "pr-1", "--image", "nginx"}, nil, []want{{"--image", "tag or digest"}}},
		{"padded image", []string{"preview", "up", "--launch", "pr-1", "--image", "registry.test/app:1 "}, nil, []want{{"--image", "whitespace"}}},
		{"env without value", append(preview, "--env", "A"), nil, []want{{"--env", "KEY=VALUE"}}},
		{"env key twice", append(preview, "--env", "A=1", "--env", "A=2"), nil, []want{{"--env", `key "A" is given more than once`}}},
		{"env reserved", append(preview, "--env", "APPHUB_LAUNCH_ID=x"), nil, []want{{"--env", "set by the platform"}}},
		{"too many replicas", append(preview, "--replicas", "11"), nil, []want{{"--replicas", "between 0 and 10"}}},
		{"empty cpu request", append(preview, "--cpu-request", ""), nil, []want{{"--cpu-request", "must not be zero or empty"}}},
		{"request above limit", append(preview, "--cpu-request", "2", "--cpu-limit", "1"), nil, []want{{"--cpu-request", "must not exceed cpuLimit"}}},
		{"relative health path", append(preview, "--health-path", "healthz"), nil, []want{{"--health-path", "absolute path"}}},
		{"egress without port", append(preview, "--egress", "10.0.0.0/8"), nil, []want{{"--egress", "CIDR:port"}}},
		{"empty egress", append(preview, "--egress", ""), nil, []want{{"--egress", "entry 0"}}},
		{"every problem at once", []string{"preview", "up", "--launch", "X", "--image", "nginx", "--port", "0", "--ttl", "500ms", "--timeout", "-1s"}, nil,
			[]want{{"--launch", "RFC 1123"}, {"--image", "tag or digest"}, {"--port", "must not be zero"}, {"--ttl", "whole number"}, {"--timeout", "negative"}}},
		// what cobra itself parses
		{"unknown flag", append(preview, "--prot", "80"), nil, []want{{"--prot", "unknown flag"}}},
		{"flag without its value", append(preview, "--port"), nil, []want{{"--port", "needs an argument"}}},
		{"bool flag with a word", append(preview, "--mount-token=maybe"), nil, []want{{"--mount-token", "invalid argument"}}},
		{"stray argument", append(preview, "extra"), nil, []want{{"args", "accepts 0 arg(s), received 1"}}},
		{"unknown command", []string{"preview", "uo"}, nil, []want{{"command", `did you mean "up"?`}}},
		{"two launches", []string{"preview", "get", "a", "b"}, nil, []want{{"args", "accepts 1 arg(s), received 2"}}},
		// global flags and the catalog's variables
		{"negative timeout", append(preview, "--timeout", "-5s"), nil, []want{{"--timeout", "must not be negative"}}},
		{"zero concurrency", append(preview, "--max-concurrent", "0"), nil, []want{{"--max-concurrent", "at least 1"}}},
		{"qualified platform stack", append(preview, "--platform-stack", "acme/apphub/dev"), nil, []want{{"--platform-stack", "stack name"}}},
		{"backend without scheme", append(preview, "--backend-url", "/var/lib/apphub"), nil, []want{{"--backend-url", "backend URL"}}},
		{"backend env without scheme", preview, map[string]string{"PULUMI_BACKEND_URL": "state"}, []want{{"PULUMI_BACKEND_URL", "backend URL"}}},
		{"unknown execution mode", preview, map[string]string{"APPHUB_LAUNCH_EXECUTION_MODE": "dry-run"}, []want{{"APPHUB_LAUNCH_EXECUTION_MODE", `got "dry-run"`}}},
		{"empty project dir", append(preview, "--project-dir", ""), nil, []want{{"--project-dir", "must not be empty"}}},
		// preview get, destroy, list
		{"get bad launch", []string{"preview", "get", "Bad_Launch"}, nil, []want{{"LAUNCH", "RFC 1123"}}},
		{"destroy path", []string{"preview", "destroy", "../etc"}, nil, []want{{"LAUNCH", "RFC 1123"}}},
		{"get with negative timeout", []string{"preview", "get", "pr-1", "--timeout", "-1m"}, nil, []want{{"--timeout", "negative"}}},
		{"list with bad timeout", []string{"preview", "list", "--timeout", "soon"}, nil, []want{{"--timeout", "must be a duration"}}},
		// build run and get
		{"git url port out of range", []string{"build", "run", "--id", "b-1", "--git-url", "https://git.test:99999/a/b.git", "--repository", "apps/web", "--tag", "1"}, nil,
			[]want{{"--git-url", "port must be 1-65535, got 99999"}}},
		{"git url with semicolon", []string{"build", "run", "--id", "b-1", "--git-url", "https://git.test/a/b.git;rm -rf ~", "--repository", "apps/web", "--tag", "1"}, nil,
			[]want{{"--git-url", "shell metacharacters"}}},
		{"git url with substitution", []string{"build", "run", "--id", "b-1", "--git-url", "https://git.test/$(id)/b.git", "--repository", "apps/web", "--tag", "1"}, nil,
			[]want{{"--git-url", "shell metacharacters"}}},
		{"plain http git url", []string{"build", "run", "--id", "b-1", "--git-url", "http://git.test/a/b.git", "--repository", "apps/web", "--tag", "1"}, nil,
			[]want{{"--git-url", "must use https://"}}},
		{"git ref with ampersand", append(build, "--git-ref", "main&&reboot"), nil, []want{{"--git-ref", "shell metacharacters"}}},
		{"empty dockerfile", append(build, "--dockerfile", ""), nil, []want{{"--dockerfile", "must not be zero or empty"}}},
		{"dockerfile with space", append(build, "--dockerfile", "my Dockerfile"), nil, []want{{"--dockerfile", "no spaces"}}},
		{"uppercase repository", []string{"build", "run", "--id", "b-1", "--git-url", "https://git.test/a/b.git", "--repository", "Apps/Web", "--tag", "1"}, nil,
			[]want{{"--repository", "lowercase repository path"}}},
		{"bad build arg name", append(build, "--build-arg", "1X=2"), nil, []want{{"--build-arg", `key "1X"`}}},
		{"backoff out of range", append(build, "--backoff-limit", "9"), nil, []want{{"--backoff-limit", "between 0 and 5"}}},
		{"both sources", append(build, "--context-url", "https://git.test/src.tgz"), nil, []want{{"--context-url", "not both"}}},
		{"missing build flags", []string{"build", "run", "--git-url", "https://git.test/a/b.git"}, nil,
			[]want{{"--id", "is required"}, {"--repository", "is required"}, {"--tag", "is required"}}},
		{"get bad build id", []string{"build", "get", "a_b"}, nil, []want{{"ID", "RFC 1123"}}},
		// serve
		{"serve without token", []string{"serve"}, nil, []want{{"APPHUB_API_TOKEN", "bearer token is required"}}},
		{"serve zero in flight", []string{"serve", "--max-in-flight", "0"}, map[string]string{"APPHUB_API_TOKEN": "t0ken-0123456789ab"}, []want{{"--max-in-flight", "at least 1"}}},
		{"serve zero grace", []string{"serve", "--shutdown-grace", "0s"}, map[string]string{"APPHUB_API_TOKEN": "t0ken-0123456789ab"}, []want{{"--shutdown-grace", "must be positive"}}},
		{"serve addr without port", []string{"serve", "--addr", "localhost"}, map[string]string{"APPHUB_API_TOKEN": "t0ken-0123456789ab"}, []want{{"--addr", "host:port"}}},
		{"serve named port", []string{"serve", "--addr", "127.0.0.1:http"}, map[string]string{"APPHUB_API_TOKEN": "t0ken-0123456789ab"}, []want{{"--addr", "port must be a number"}}},
		{"serve short env token", []string{"serve"}, map[string]string{"APPHUB_API_TOKEN": "short"}, []want{{"APPHUB_API_TOKEN", "at least 16 characters"}}},
		{"serve env token with a space", []string{"serve"}, map[string]string{"APPHUB_API_TOKEN": "0123456789 abcdefgh"}, []want{{"APPHUB_API_TOKEN", "visible ASCII"}}},
		{"serve short ui token", []string{"serve"}, map[string]string{"APPHUB_API_TOKEN": "t0ken-0123456789ab", "APPHUB_UI_TOKEN": "ui"}, []want{{"APPHUB_UI_TOKEN", "at least 16 characters"}}},
		{"serve missing token file", []string{"serve", "--token-file", "/nonexistent/token"}, nil, []want{{"--token-file", "cannot be read"}}},
		{"serve zero takeover", []string{"serve", "--takeover-after", "0s"}, map[string]string{"APPHUB_API_TOKEN": "t0ken-0123456789ab"}, []want{{"--takeover-after", "must be positive"}}},
		{"serve sub-second takeover", []string{"serve", "--takeover-after", "200ms"}, map[string]string{"APPHUB_API_TOKEN": "t0ken-0123456789ab"}, []want{{"--takeover-after", "at least 1s"}}},
		{"serve zero expiry", []string{"serve", "--expiry-interval", "0s"}, map[string]string{"APPHUB_API_TOKEN": "t0ken-0123456789ab"}, []want{{"--expiry-interval", "must be positive"}}},
		{"serve missing ui token file", []string{"serve", "--ui-token-file", "/nonexistent/ui"}, map[string]string{"APPHUB_API_TOKEN": "t0ken-0123456789ab"}, []want{{"--ui-token-file", "cannot be read"}}},
		{"serve mysql database", []string{"serve", "--database-url", "mysql://db/apphub"}, map[string]string{"APPHUB_API_TOKEN": "t0ken-0123456789ab"}, []want{{"--database-url", "scheme must be postgres://"}}},
		{"serve postgres without host", []string{"serve", "--database-url", "postgres:///apphub"}, map[string]string{"APPHUB_API_TOKEN": "t0ken-0123456789ab"}, []want{{"--database-url", "needs a host"}}},
		{"serve empty database flag", []string{"serve", "--database-url", ""}, map[string]string{"APPHUB_API_TOKEN": "t0ken-0123456789ab"}, []want{{"--database-url", "must not be empty"}}},
		{"env database url", []string{"serve"}, map[string]string{"APPHUB_API_TOKEN": "t0ken-0123456789ab", "APPHUB_DATABASE_URL": "redis://x"}, []want{{"APPHUB_DATABASE_URL", "scheme must be"}}},
		{"sqlite without path", []string{"migrate", "--database-url", "sqlite://"}, nil, []want{{"--database-url", "needs a file path"}}},
		{"serve negative retention", []string{"serve", "--build-retention", "-1h"}, map[string]string{"APPHUB_API_TOKEN": "t0ken-0123456789ab"}, []want{{"--build-retention", "must not be negative"}}},
		{"webhook loopback", []string{"serve", "--webhook-url", "http://127.0.0.1:9/x", "--webhook-secret-file", "/nonexistent/s"}, map[string]string{"APPHUB_API_TOKEN": "t0ken-0123456789ab"}, []want{{"--webhook-url", "loopback"}, {"--webhook-secret-file", "cannot be read"}}},
		{"callback cidr with host bits", []string{"serve", "--callback-allow-cidr", "10.20.0.1/16"}, map[string]string{"APPHUB_API_TOKEN": "t0ken-0123456789ab"},
			[]want{{"--callback-allow-cidr", "did you mean 10.20.0.0/16"}}},
		{"callback cidr not a range", []string{"serve", "--callback-allow-cidr", "intranet"}, map[string]string{"APPHUB_API_TOKEN": "t0ken-0123456789ab"},
			[]want{{"--callback-allow-cidr", "is not a CIDR"}}},
		{"webhook private", []string{"serve", "--webhook-url", "http://10.0.0.8/x"}, map[string]string{"APPHUB_API_TOKEN": "t0ken-0123456789ab", "APPHUB_WEBHOOK_SECRET": "s"},
			[]want{{"--webhook-url", "RFC 1918"}}},
		{"webhook without secret", []string{"serve", "--webhook-url", "https://hooks.test/x"}, map[string]string{"APPHUB_API_TOKEN": "t0ken-0123456789ab"}, []want{{"APPHUB_WEBHOOK_SECRET", "needs a secret"}}},
		{"env webhook not http", []string{"serve"}, map[string]string{"APPHUB_API_TOKEN": "t0ken-0123456789ab", "APPHUB_WEBHOOK_URL": "ftp://x/y", "APPHUB_WEBHOOK_SECRET": "s"}, []want{{"APPHUB_WEBHOOK_URL", "http:// or https://"}}},
		{"build destroy bad id", []string{"build", "destroy", "B_1"}, nil, []want{{"ID", "RFC 1123"}}},
		{"build logs bad id", []string{"build", "logs", "B_1", "-f"}, nil, []want{{"ID", "RFC 1123"}}},
		{"build list with an arg", []string{"build", "list", "x"}, nil, []want{{"args", "accepts 0 arg"}}},
		// the connection to the platform's cluster
		{"kubeconfig missing", append(preview, "--kubeconfig", "/nonexistent/kubeconfig"), nil, []want{{"--kubeconfig", "cannot be read"}}},
		{"kubeconfig empty", append(preview, "--kubeconfig", ""), nil, []want{{"--kubeconfig", "must not be empty"}}},
		{"context empty", append(preview, "--context", ""), nil, []want{{"--context", "must not be empty"}}},
		{"platform namespace not a label", append(preview, "--platform-namespace", "Apphub_System"), nil,
			[]want{{"--platform-namespace", "must be a namespace name"}}},
		{"platform namespace env", []string{"serve"}, map[string]string{"APPHUB_API_TOKEN": "t0ken-0123456789ab", "APPHUB_PLATFORM_NAMESPACE": "a/b"},
			[]want{{"APPHUB_PLATFORM_NAMESPACE", "must be a namespace name"}}},
		// operation
		{"operation get bad id", []string{"operation", "get", "nope"}, nil, []want{{"ID", "must be an operation id"}}},
		{"operation cancel bad id", []string{"operation", "cancel", "x;y"}, nil, []want{{"ID", "must be an operation id"}}},
		{"operation get no id", []string{"operation", "get"}, nil, []want{{"args", "accepts 1 arg"}}},
		{"operation list bad stack", []string{"operation", "list", "--stack", "pr-1"}, nil, []want{{"--stack", "preview-<launch> or build-<id>"}}},
		{"operation list bad status", []string{"operation", "list", "--status", "done"}, nil, []want{{"--status", "must be one of"}}},
		{"operation list bad limit", []string{"operation", "list", "--limit", "0"}, nil, []want{{"--limit", "1-1000"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			noPulumi(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			state := t.TempDir()
			code, fields, stderr := cliProblems(t, state, tt.args)
			require.Equal(t, exitInvalid, code, "stderr: %s", stderr)
			for _, w := range tt.want {
				assert.Contains(t, strings.Join(fields[w.field], " | "), w.rule, "field %q in %v", w.field, fields)
			}
			assert.Len(t, fields, len(tt.want), "exactly the expected fields: %v", fields)
			stateIsEmpty(t, state)
		})
	}
}

// want is one expected field problem: the field as the caller wrote it and
// a fragment of its rule.
type want struct{ field, rule string }

func TestBadOutputFormatIsRefusedInText(t *testing.T) {
	noPulumi(t)
	state := t.TempDir()
	code, _, stderr := run("--state-dir", state, "--output", "xml", "preview", "list")
	assert.Equal(t, exitInvalid, code)
	assert.Contains(t, stderr, `--output: must be text or json, got "xml"`)
	stateIsEmpty(t, state)
}

func TestValidInvocationReachesTheManager(t *testing.T) {
	// The control for the tables: valid input gets past validation to the
	// Manager, which (without a Pulumi CLI here) fails after preparing the
	// state directory. So an empty state dir above means validation came
	// first, not that nothing would have been written anyway.
	noPulumi(t)
	state := t.TempDir()
	code, _, stderr := run("--state-dir", state, "preview", "up", "--launch", "pr-1", "--image", "registry.test/app:1", "--port", "3000", "--ttl", "90m")
	assert.Equal(t, exitFailed, code, stderr)
	assert.Contains(t, stderr, "Pulumi CLI")
	entries, _ := os.ReadDir(state)
	assert.NotEmpty(t, entries)
}

// platformProjectDir is a project directory with a Pulumi.<stack>.yaml.
func platformProjectDir(t *testing.T, stack, config string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), []byte("name: apphub\nruntime: go\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Pulumi."+stack+".yaml"), []byte(config), 0o600))
	return dir
}

const devStackFile = `config:
  apphub:previewUrlTemplate: http://{launch}.apphub.localhost
  kubernetes:context: ignored
`

func TestPlatformUpRefusesBadConfigBeforeTheStackExists(t *testing.T) {
	inCluster := `config:
  apphub:clusterKind: existing
  apphub:kubeContext: lab
  apphub:registryKind: in-cluster
  apphub:registryUsername: bot
  apphub:registryPassword:
    secure: v1:AAAA
  apphub:previewUrlTemplate: http://{launch}.lab.test
`
	tests := []struct {
		name, config string
		env          map[string]string
		want         []want
	}{
		{"in-cluster registry with credentials", inCluster, nil,
			[]want{{"registryUsername", "must not be set with registryKind in-cluster"}}},
		{"kubeconfig contents in plaintext", "config:\n  apphub:clusterKind: existing\n  apphub:kubeContext: c\n  apphub:registryKind: in-cluster\n  apphub:previewUrlTemplate: http://{launch}.x.test\n  apphub:kubeconfig: |\n    apiVersion: v1\n    clusters: []\n", nil,
			[]want{{"kubeconfig", "must be set as a secret"}}},
		{"no stack file yet", "", nil, []want{{"previewUrlTemplate", "is required"}}},
		{"misspelt key", devStackFile + "  apphub:namspace: launches\n  apphub:BuildTimeoutSeconds: \"600\"\n", nil,
			[]want{{"namspace", "is not a config key"}, {"BuildTimeoutSeconds", `did you mean "buildTimeoutSeconds"?`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			noPulumi(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			dir := platformProjectDir(t, "lab", tt.config)
			if tt.config == "" {
				require.NoError(t, os.Remove(filepath.Join(dir, "Pulumi.lab.yaml")))
			}
			state := t.TempDir()
			code, fields, stderr := cliProblems(t, state, []string{"--project-dir", dir, "--platform-stack", "lab", "platform", "up"})
			require.Equal(t, exitInvalid, code, "stderr: %s", stderr)
			for _, w := range tt.want {
				assert.Contains(t, strings.Join(fields[w.field], " | "), w.rule, "field %q in %v", w.field, fields)
			}
			assert.Len(t, fields, len(tt.want), "exactly the expected fields: %v", fields)
			stateIsEmpty(t, state)
		})
	}
}

func TestPlatformUpLeavesSecretsAndEnvironmentsToTheProgram(t *testing.T) {
	// A secure value's content is unknown here, and an ESC environment may
	// supply any key: neither may be refused on a guess.
	for name, config := range map[string]string{
		"secure ARC settings": devStackFile + "  apphub:arcGithubConfigUrl: https://github.com/acme\n" +
			"  apphub:arcGithubAppId:\n    secure: v1:AAAA\n  apphub:arcGithubAppInstallationId:\n    secure: v1:BBBB\n  apphub:arcGithubAppPrivateKey:\n    secure: v1:CCCC\n",
		"ESC environment": "environment:\n  - apphub-dev\n",
	} {
		t.Run(name, func(t *testing.T) {
			noPulumi(t)
			t.Setenv("PULUMI_CONFIG_PASSPHRASE", "a real one")
			state := t.TempDir()
			code, _, stderr := run("--state-dir", state, "--project-dir", platformProjectDir(t, "lab", config), "--platform-stack", "lab", "platform", "up")
			assert.Equal(t, exitFailed, code, "valid as far as the file shows: on to the Manager (no CLI here): %s", stderr)
		})
	}
}
