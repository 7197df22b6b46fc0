package stacks

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func persistentPlatformOutputs() map[string]any {
	outputs := devPlatformOutputs()
	outputs[OutBuilderAddress] = "tcp://apphub-buildkitd.apphub-builds.svc:1234"
	outputs[OutBuilderClientSecret] = "apphub-buildkitd-client"
	outputs[OutBuildCAConfigMap] = "apphub-build-ca"
	return outputs
}

func TestBuildOnPersistentBuilder(t *testing.T) {
	commit := strings.Repeat("c", 40)
	m, out, err := runBuild(t, buildValues(map[string]string{"gitCommit": commit, "inputsTag": "apphub-inputs-abc"}), persistentPlatformOutputs())
	require.NoError(t, err)
	assert.Equal(t, commit, out[OutCommit])
	assert.Equal(t, "apphub-registry:5000/apps/web:abc123", out[OutPushRef])
	job := m.Find(t, tJob, "build")
	pod := "spec.template.spec."
	env := map[string]any{}
	for _, e := range job.Plain(pod + "containers.0.env").([]any) {
		env[e.(map[string]any)["name"].(string)] = e.(map[string]any)["value"]
	}
	assert.Equal(t, "tcp://apphub-buildkitd.apphub-builds.svc:1234", env["BUILD_BUILDER"])
	assert.NotContains(t, env, "BUILDKITD_FLAGS", "no daemon in the Job")
	assert.Equal(t, "https://github.com/acme/web.git#"+commit, env["BUILD_CONTEXT"], "exactly the resolved commit is built")
	assert.Equal(t, "apphub-registry:5000/apps/web:abc123,apphub-registry:5000/apps/web:apphub-inputs-abc", env["BUILD_PUSH_REF"],
		"the image is also pushed under its inputs' tag")
	assert.Equal(t, []any{map[string]any{"name": "builder-certs", "secret": map[string]any{"secretName": "apphub-buildkitd-client"}}},
		job.Plain(pod+"volumes"), "only the client certificate: the builder has the CA bundle, and no emptyDir daemon state")
	assert.Equal(t, "RuntimeDefault", job.Str(pod+"securityContext.seccompProfile.type"), "a client passes Pod Security restricted")
	assert.Equal(t, true, job.Plain(pod+"securityContext.runAsNonRoot"))
	assert.Equal(t, []string{"ALL"}, job.Strings(pod+"containers.0.securityContext.capabilities.drop"))
	assert.Equal(t, false, job.Plain(pod+"containers.0.securityContext.allowPrivilegeEscalation"))
	assert.Equal(t, map[string]any{"cpu": "500m", "memory": "256Mi"}, job.Plain(pod+"containers.0.resources.limits"),
		"only buildctl: the build's resources are the builder's")
}

func TestBuildReusesAnEqualBuildsImage(t *testing.T) {
	digest := "sha256:" + strings.Repeat("d", 64)
	commit := strings.Repeat("c", 40)
	m, out, err := runBuild(t, buildValues(map[string]string{"gitCommit": commit, "inputsTag": "apphub-inputs-abc", "reuseDigest": digest}), persistentPlatformOutputs())
	require.NoError(t, err)
	assert.Equal(t, map[string]any{
		OutImage:        "apphub-registry:5000/apps/web:abc123@" + digest,
		OutPushRef:      "apphub-registry:5000/apps/web:abc123@" + digest,
		OutNamespace:    "apphub-builds",
		OutBuildID:      "b-7",
		OutReusedDigest: digest,
		OutCommit:       commit,
	}, out)
	assert.Empty(t, m.ByType(tJob), "no Job")
	assert.Empty(t, m.ByType(tProvider), "not even a provider")
}

func TestBuildPinRefusals(t *testing.T) {
	tests := []struct {
		name   string
		values map[string]string
		field  string
	}{
		{"short commit", map[string]string{"gitCommit": "abc123"}, "gitCommit"},
		{"commit without git", map[string]string{"gitUrl": "", "gitRef": "", "contextUrl": "https://e/c.tgz", "gitCommit": strings.Repeat("c", 40)}, "gitCommit"},
		{"digest without algorithm", map[string]string{"reuseDigest": strings.Repeat("d", 64)}, "reuseDigest"},
		{"bad inputs tag", map[string]string{"inputsTag": "-x"}, "inputsTag"},
		{"inputs tag without its prefix", map[string]string{"inputsTag": "v1"}, "inputsTag"},
		{"a caller's tag in the reserved space", map[string]string{"imageTag": "apphub-inputs-" + strings.Repeat("a", 64)}, "imageTag: must not start with apphub-inputs-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _, err := runBuild(t, buildValues(tt.values), persistentPlatformOutputs())
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.field)
			assert.Zero(t, m.Count())
		})
	}
}
