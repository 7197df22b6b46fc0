package components

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func buildArgs(mod func(*BuildJobArgs)) *BuildJobArgs {
	a := &BuildJobArgs{
		BuildID: "b-7", Namespace: "apphub-builds", BuilderImage: "moby/buildkit:v0.23.2-rootless",
		ServiceAccount: "apphub-builder", Context: "https://github.com/acme/web.git#main:app",
		Dockerfile: "Dockerfile", BuildArgs: map[string]string{"B": "2", "A": "1"},
		PushRef: "apphub-registry:5000/apps/web:abc", ImageRef: "apphub-registry:5000/apps/web:abc",
		InsecureRegistry: true, TimeoutSeconds: 900, TTLSeconds: 3600, BackoffLimit: 1,
		Resources: ContainerResources{CPURequest: "500m", MemoryRequest: "1Gi", CPULimit: "2", MemoryLimit: "4Gi"},
	}
	if mod != nil {
		mod(a)
	}
	return a
}

func TestBuildJobSpec(t *testing.T) {
	m, err := run(t, func(ctx *pulumi.Context) error {
		b, err := NewBuildJob(ctx, "build", buildArgs(nil))
		if err != nil {
			return err
		}
		assert.Equal(t, "apphub-registry:5000/apps/web:abc", await(t, ctx, b.ImageRef).Value)
		assert.Equal(t, "build-b-7", await(t, ctx, b.JobName).Value)
		return nil
	})
	require.NoError(t, err)
	job := m.Find(t, tJob, "build")
	assertParent(t, job, BuildJobType, "build")
	assert.Equal(t, "build-b-7", job.Str("metadata.name"))
	assert.Equal(t, "apphub-builds", job.Str("metadata.namespace"))
	assert.Equal(t, "b-7", job.Str("metadata.labels[apphub.io/build]"))
	assert.Equal(t, "true", job.Str("metadata.annotations[pulumi.com/replaceUnready]"))
	assert.Equal(t, "apphub-build-b-7", job.Str("metadata.annotations[pulumi.com/patchFieldManager]"), "every attempt applies as one field manager")
	assert.Equal(t, float64(900), job.Num("spec.activeDeadlineSeconds"))
	assert.Equal(t, float64(3600), job.Num("spec.ttlSecondsAfterFinished"))
	assert.Equal(t, float64(1), job.Num("spec.backoffLimit"))
	assert.Equal(t, "16m0s", job.CustomTimeoutCreate, "Pulumi waits the Job's deadline plus a minute")

	pod := "spec.template.spec."
	assert.Equal(t, "Never", job.Str(pod+"restartPolicy"))
	assert.Equal(t, "apphub-builder", job.Str(pod+"serviceAccountName"))
	automount, _ := job.Bool(pod + "automountServiceAccountToken")
	assert.False(t, automount)
	c := pod + "containers.0."
	assert.Equal(t, "moby/buildkit:v0.23.2-rootless", job.Str(c+"image"))
	assert.Equal(t, []string{"sh", "-c", BuildScript}, job.Strings(c+"command"))
	assert.Equal(t, []string{"sh", "--opt", "build-arg:A=1", "--opt", "build-arg:B=2"}, job.Strings(c+"args"))
	env := map[string]string{}
	for _, e := range job.Plain(c + "env").([]any) {
		env[e.(map[string]any)["name"].(string)] = e.(map[string]any)["value"].(string)
	}
	assert.Equal(t, map[string]string{
		"BUILD_CONTEXT": "https://github.com/acme/web.git#main:app", "BUILD_DOCKERFILE": "Dockerfile",
		"BUILD_PUSH_REF": "apphub-registry:5000/apps/web:abc", "BUILD_INSECURE": ",registry.insecure=true",
		"BUILDKITD_FLAGS": "--oci-worker-no-process-sandbox",
	}, env)
	assert.Equal(t, "Unconfined", job.Str(c+"securityContext.seccompProfile.type"))
	assert.Equal(t, "Unconfined", job.Str(c+"securityContext.appArmorProfile.type"))
	assert.Equal(t, float64(1000), job.Num(c+"securityContext.runAsUser"))
	assert.Equal(t, "FallbackToLogsOnError", job.Str(c+"terminationMessagePolicy"))
	assert.Len(t, job.Plain(pod+"volumes"), 1, "no registry secret configured: no credentials volume")
}

func TestBuildJobPushCredentials(t *testing.T) {
	m, err := run(t, func(ctx *pulumi.Context) error {
		_, err := NewBuildJob(ctx, "build", buildArgs(func(a *BuildJobArgs) {
			a.RegistrySecret, a.InsecureRegistry = "apphub-registry", false
			a.PushRef, a.ImageRef = "ghcr.io/acme/apps/web:abc", "ghcr.io/acme/apps/web:abc"
		}))
		return err
	})
	require.NoError(t, err)
	job := m.Find(t, tJob, "build")
	pod := "spec.template.spec."
	assert.Equal(t, map[string]any{
		"name":   "registry-auth",
		"secret": map[string]any{"secretName": "apphub-registry", "items": []any{map[string]any{"key": ".dockerconfigjson", "path": "config.json"}}},
	}, job.Plain(pod+"volumes.1"))
	assert.Contains(t, job.Plain(pod+"containers.0.env"), map[string]any{"name": "DOCKER_CONFIG", "value": "/home/user/.docker"})
	assert.Contains(t, job.Plain(pod+"containers.0.env"), map[string]any{"name": "BUILD_INSECURE", "value": ""})
}

func TestBuildJobCABundle(t *testing.T) {
	m, err := run(t, func(ctx *pulumi.Context) error {
		_, err := NewBuildJob(ctx, "build", buildArgs(func(a *BuildJobArgs) { a.CAConfigMap = BuildCAConfigMap }))
		return err
	})
	require.NoError(t, err)
	job := m.Find(t, tJob, "build")
	pod := "spec.template.spec."
	assert.Equal(t, map[string]any{"name": "ca", "configMap": map[string]any{"name": "apphub-build-ca"}}, job.Plain(pod+"volumes.1"))
	// A file inside /etc/ssl/certs: the image's own bundle stays, and git
	// (libcurl's CA path) and buildkitd (Go) read every file there.
	assert.Contains(t, job.Plain(pod+"containers.0.volumeMounts"), map[string]any{
		"name": "ca", "mountPath": "/etc/ssl/certs/apphub-build-ca.crt", "subPath": "ca.crt", "readOnly": true,
	})
}

func TestBuildJobRejects(t *testing.T) {
	for name, args := range map[string]*BuildJobArgs{
		"nil":        nil,
		"no context": buildArgs(func(a *BuildJobArgs) { a.Context = "" }),
		"no timeout": buildArgs(func(a *BuildJobArgs) { a.TimeoutSeconds = 0 }),
	} {
		t.Run(name, func(t *testing.T) {
			m, err := run(t, func(ctx *pulumi.Context) error {
				_, err := NewBuildJob(ctx, "build", args)
				return err
			})
			require.Error(t, err)
			assert.Zero(t, m.Count())
		})
	}
}

// TestBuildScript runs the Job's script with a stand-in for
// buildctl-daemonless.sh: arguments arrive intact (no shell injection from
// build arguments) and the digest reaches the termination message.
func TestBuildScript(t *testing.T) {
	// fake records its arguments, writes BuildKit's metadata and, as
	// buildctl, answers `debug workers` unless the builder is "down".
	const fake = `#!/bin/sh
if [ "$DOWN" = 1 ] && [ "$(basename "$0")" = buildctl ]; then
  echo 'error: failed to list workers: Unavailable: connect: connection refused' >&2; exit 1
fi
for a in "$@"; do [ "$a" = workers ] && exit 0; done
for a in "$@"; do echo "$a" >> "$ARGS_LOG"; done
while [ $# -gt 0 ]; do
  if [ "$1" = "--metadata-file" ]; then
    echo '{"buildx.build.ref":"x","containerimage.digest": "sha256:0123abcd","image.name":"r/a:b"}' > "$2"
  fi
  shift
done
`
	tests := []struct {
		name, builder string
		down          bool
		prefix        []string
		termination   string
	}{
		{name: "ephemeral daemon", prefix: []string{"build"}, termination: "sha256:0123abcd\n"},
		{name: "persistent builder", builder: "tcp://b.ns.svc:1234",
			prefix: []string{"--addr", "tcp://b.ns.svc:1234", "--tlsdir", "/certs", "build"}, termination: "sha256:0123abcd\n"},
		{name: "persistent builder down", builder: "tcp://b.ns.svc:1234", down: true,
			termination: "the persistent builder tcp://b.ns.svc:1234 does not answer: error: failed to list workers: Unavailable: connect: connection refused\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			logFile, termLog := filepath.Join(dir, "args"), filepath.Join(dir, "termination-log")
			for _, bin := range []string{"buildctl-daemonless.sh", "buildctl"} {
				require.NoError(t, os.WriteFile(filepath.Join(dir, bin), []byte(fake), 0o755))
			}
			script := strings.ReplaceAll(BuildScript, "/dev/termination-log", termLog)
			script = strings.ReplaceAll(script, "/tmp/build-metadata.json", filepath.Join(dir, "metadata.json"))
			cmd := exec.Command("/bin/sh", "-c", script, "sh", "--opt", "build-arg:X=$(touch "+dir+"/pwned)")
			down := "0"
			if tt.down {
				down = "1"
			}
			cmd.Env = []string{
				"PATH=" + dir + ":/usr/bin:/bin", "ARGS_LOG=" + logFile, "DOWN=" + down,
				"BUILD_CONTEXT=https://github.com/acme/web.git#main", "BUILD_DOCKERFILE=Dockerfile",
				"BUILD_PUSH_REF=r/a:b", "BUILD_INSECURE=,registry.insecure=true",
				// The image's own socket, which must not select the persistent builder.
				"BUILDKIT_HOST=unix:///run/user/1000/buildkit/buildkitd.sock",
			}
			if tt.builder != "" {
				cmd.Env = append(cmd.Env, "BUILD_BUILDER="+tt.builder)
			}
			out, err := cmd.CombinedOutput()
			digest, rerr := os.ReadFile(termLog)
			require.NoError(t, rerr)
			assert.Equal(t, tt.termination, string(digest))
			assert.NoFileExists(t, filepath.Join(dir, "pwned"), "build arguments are data, not shell")
			if tt.down {
				require.Error(t, err, "a builder that does not answer fails the build")
				assert.NoFileExists(t, logFile, "nothing was built")
				return
			}
			require.NoError(t, err, string(out))
			args, err := os.ReadFile(logFile)
			require.NoError(t, err)
			assert.Equal(t, strings.Join(append(tt.prefix,
				"--opt", "build-arg:X=$(touch "+dir+"/pwned)",
				"--frontend", "dockerfile.v0",
				"--opt", "context=https://github.com/acme/web.git#main",
				"--opt", "filename=Dockerfile",
				"--output", `type=image,"name=r/a:b",push=true,registry.insecure=true`,
				"--metadata-file", filepath.Join(dir, "metadata.json"),
			), "\n")+"\n", string(args))
		})
	}
}
