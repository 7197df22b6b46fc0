package stacks

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/internal/testing/testmocks"
)

func buildValues(overrides map[string]string) map[string]string {
	return with(map[string]string{
		"buildId": "b-7", "gitUrl": "https://github.com/acme/web.git", "gitRef": "main",
		"imageRepository": "apps/web", "imageTag": "abc123",
	}, overrides)
}

func runBuild(t *testing.T, values map[string]string, outputs map[string]any) (*testmocks.Mocks, map[string]any, error) {
	var got map[string]any
	m, err := runStack(t, BuildProject, "build-b-7", values, outputs, func(ctx *pulumi.Context) error {
		cfg, err := ParseBuildConfig(PulumiConfig(ctx))
		if err != nil {
			return err
		}
		out, err := NewBuild(ctx, cfg)
		if err != nil {
			return err
		}
		got, err = plainValues(ctx, out)
		return err
	})
	return m, got, err
}

func TestBuildOnDevPlatform(t *testing.T) {
	m, out, err := runBuild(t, buildValues(map[string]string{"contextDir": "services/web", "buildArgs": `{"GO_VERSION":"1.26"}`}), devPlatformOutputs())
	require.NoError(t, err)
	assert.Equal(t, map[string]any{
		OutImage:     "apphub-registry:5000/apps/web:abc123",
		OutPushRef:   "apphub-registry:5000/apps/web:abc123",
		OutJobName:   "build-b-7",
		OutNamespace: "apphub-builds",
		OutBuildID:   "b-7",
	}, out)
	job := m.Find(t, tJob, "build")
	assert.Equal(t, "apphub-builds", job.Str("metadata.namespace"))
	assert.Equal(t, float64(900), job.Num("spec.activeDeadlineSeconds"), "APPHUB_K8S_BUILD_TIMEOUT_SECONDS via the platform")
	assert.Equal(t, "16m0s", job.CustomTimeoutCreate)
	assert.Equal(t, float64(3600), job.Num("spec.ttlSecondsAfterFinished"))
	assert.Equal(t, "apphub-builder", job.Str("spec.template.spec.serviceAccountName"))
	assert.Equal(t, "moby/buildkit:v0.23.2-rootless", job.Str("spec.template.spec.containers.0.image"))
	env := map[string]any{}
	for _, e := range job.Plain("spec.template.spec.containers.0.env").([]any) {
		env[e.(map[string]any)["name"].(string)] = e.(map[string]any)["value"]
	}
	assert.Equal(t, "https://github.com/acme/web.git#main:services/web", env["BUILD_CONTEXT"])
	assert.Equal(t, ",registry.insecure=true", env["BUILD_INSECURE"], "the k3d registry speaks plain HTTP")
	assert.Equal(t, []string{"sh", "--opt", "build-arg:GO_VERSION=1.26"}, job.Strings("spec.template.spec.containers.0.args"))
	assert.Contains(t, job.Provider, "pulumi:providers:kubernetes::k8s")
}

func TestBuildInClusterRegistryAndCredentials(t *testing.T) {
	outputs := devPlatformOutputs()
	outputs[OutRegistryPushAddress] = "apphub-registry.apphub-system.svc.cluster.local:5000"
	outputs[OutRegistryPullAddress] = "localhost:30500"
	outputs[OutRegistrySecret] = "apphub-registry"
	outputs[OutBuildCAConfigMap] = "apphub-build-ca"
	outputs[OutBuildTimeoutSeconds] = 1200.0
	outputs[OutBuildJobTTLSeconds] = 600.0
	m, out, err := runBuild(t, buildValues(map[string]string{"gitUrl": "", "gitRef": "", "contextUrl": "https://example.com/src.tar.gz"}), outputs)
	require.NoError(t, err)
	assert.Equal(t, "localhost:30500/apps/web:abc123", out[OutImage], "pods pull through the node port")
	assert.Equal(t, "apphub-registry.apphub-system.svc.cluster.local:5000/apps/web:abc123", out[OutPushRef], "the build pushes through cluster DNS")
	job := m.Find(t, tJob, "build")
	assert.Equal(t, float64(1200), job.Num("spec.activeDeadlineSeconds"))
	assert.Equal(t, "21m0s", job.CustomTimeoutCreate)
	assert.Equal(t, float64(600), job.Num("spec.ttlSecondsAfterFinished"))
	assert.Equal(t, "apphub-registry", job.Str("spec.template.spec.volumes.1.secret.secretName"))
	assert.Equal(t, "apphub-build-ca", job.Str("spec.template.spec.volumes.2.configMap.name"), "the platform's CA bundle")
	assert.Contains(t, job.Plain("spec.template.spec.containers.0.env"), map[string]any{"name": "BUILD_CONTEXT", "value": "https://example.com/src.tar.gz"})
}

func TestBuildContextForms(t *testing.T) {
	tests := []struct {
		cfg  BuildStackConfig
		want string
	}{
		{BuildStackConfig{GitURL: "https://g/x.git"}, "https://g/x.git"},
		{BuildStackConfig{GitURL: "https://g/x.git", GitRef: "v1.2"}, "https://g/x.git#v1.2"},
		{BuildStackConfig{GitURL: "https://g/x.git", ContextDir: "app/"}, "https://g/x.git#:app"},
		{BuildStackConfig{GitURL: "https://g/x.git", GitRef: "refs/pull/7/head", ContextDir: "a/b"}, "https://g/x.git#refs/pull/7/head:a/b"},
		{BuildStackConfig{ContextURL: "https://e/c.tgz"}, "https://e/c.tgz"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.cfg.BuildContext())
	}
}

func TestBuildRejectsBadInputBeforeAnyResource(t *testing.T) {
	tests := []struct {
		name      string
		overrides map[string]string
		field     string
	}{
		{"missing id", map[string]string{"buildId": ""}, "buildId: is required"},
		{"id with slash", map[string]string{"buildId": "a/b"}, "buildId: a lowercase RFC 1123 label"},
		{"id too long", map[string]string{"buildId": "a23456789012345678901234567890123456789012345678x"}, "buildId: must be at most 48 characters"},
		{"no source", map[string]string{"gitUrl": ""}, "gitUrl: gitUrl or contextUrl is required"},
		{"both sources", map[string]string{"contextUrl": "https://e/c.tgz"}, "contextUrl: set gitUrl or contextUrl, not both"},
		{"ssh git url", map[string]string{"gitUrl": "git@github.com:acme/web.git"}, "gitUrl: must"},
		{"http git url", map[string]string{"gitUrl": "http://github.com/acme/web.git"}, "gitUrl: must use https://"},
		{"credentials in url", map[string]string{"gitUrl": "https://user:token@github.com/acme/web.git"}, "gitUrl: must not carry credentials"},
		{"fragment in url", map[string]string{"gitUrl": "https://github.com/acme/web.git#main"}, "gitUrl: must not carry a #fragment"},
		{"ref with dots", map[string]string{"gitRef": "main..dev"}, "gitRef: must not contain '..'"},
		{"ref with colon", map[string]string{"gitRef": "main:evil"}, "gitRef: must not contain spaces"},
		{"ref starting with dash", map[string]string{"gitRef": "--upload-pack=x"}, "gitRef: must not start with '-'"},
		{"escaping context dir", map[string]string{"contextDir": "../other"}, "contextDir: must be a relative path"},
		{"absolute dockerfile", map[string]string{"dockerfile": "/etc/passwd"}, "dockerfile: must be a relative path"},
		{"repository with registry tag", map[string]string{"imageRepository": "apps/web:1"}, "imageRepository: must be a lowercase repository path"},
		{"uppercase repository", map[string]string{"imageRepository": "Apps/Web"}, "imageRepository: must be a lowercase repository path"},
		{"missing tag", map[string]string{"imageTag": ""}, "imageTag: is required"},
		{"bad tag", map[string]string{"imageTag": "-latest"}, "imageTag: must be a tag"},
		{"build args not JSON", map[string]string{"buildArgs": "A=1"}, "buildArgs: must be a JSON object"},
		{"backoff too high", map[string]string{"backoffLimit": "10"}, "backoffLimit: must be between 0 and 5"},
		{"context url with ref", map[string]string{"gitUrl": "", "contextUrl": "https://e/c.tgz"}, "contextUrl: gitRef and contextDir apply to gitUrl only"},
		{"git url port out of range", map[string]string{"gitUrl": "https://github.com:70000/acme/web.git"}, "gitUrl: port must be 1-65535, got 70000"},
		{"git url with empty port", map[string]string{"gitUrl": "https://github.com:/acme/web.git"}, "gitUrl: must not end the host with an empty port"},
		{"git url with command", map[string]string{"gitUrl": "https://github.com/acme/web.git|sh"}, "gitUrl: must not contain spaces, control characters or shell metacharacters"},
		{"git url with quote", map[string]string{"gitUrl": "https://github.com/acme/we'b.git"}, "gitUrl: must not contain spaces, control characters or shell metacharacters"},
		{"context url host with underscore", map[string]string{"gitUrl": "", "gitRef": "", "contextUrl": "https://my_host/c.tgz"}, `contextUrl: host "my_host" is not a DNS name`},
		{"ref with substitution", map[string]string{"gitRef": "$(reboot)"}, "gitRef: must not contain shell metacharacters"},
		{"context dir with semicolon", map[string]string{"contextDir": "svc;ls"}, "contextDir: must consist of letters"},
		{"build arg given twice", map[string]string{"buildArgs": `{"A":"1","A":"2"}`}, `buildArgs: key "A" is given more than once`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := runStack(t, BuildProject, "build-x", buildValues(tt.overrides), devPlatformOutputs(), Build)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "invalid config")
			assert.Contains(t, err.Error(), tt.field)
			assert.Zero(t, m.Count())
		})
	}
}
