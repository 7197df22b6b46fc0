package stacks

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/internal/testing/testmocks"
	"github.com/apphub/apphub-infra/internal/validate"
)

// problem is one expected field error: the field as the caller wrote it (a
// config key or the variable that supplied the value) and a rule fragment.
type problem struct{ field, rule string }

// existingLab is an existing cluster with an in-cluster registry: no local
// tool, no local registry.
func existingLab(t *testing.T, overrides map[string]string) map[string]string {
	return with(devValues(t), with(map[string]string{"clusterKind": "existing", "kubeContext": "lab", "registryKind": "in-cluster"}, overrides))
}

func TestPlatformConfigRefusalsNameTheSourceAndRegisterNothing(t *testing.T) {
	dev := devValues(t)
	kubeconfigYAML := "apiVersion: v1\nkind: Config\nclusters: []\n"
	tests := []struct {
		name    string
		values  map[string]string
		secrets map[string]bool
		env     map[string]string
		want    []problem
	}{
		{"env timeout too short", dev, nil, map[string]string{"APPHUB_K8S_BUILD_TIMEOUT_SECONDS": "5"},
			[]problem{{"APPHUB_K8S_BUILD_TIMEOUT_SECONDS", "must be between 60 and 21600, got 5"}}},
		{"env timeout too long", dev, nil, map[string]string{"APPHUB_K8S_BUILD_TIMEOUT_SECONDS": "86400"},
			[]problem{{"APPHUB_K8S_BUILD_TIMEOUT_SECONDS", "got 86400"}}},
		{"env job ttl", dev, nil, map[string]string{"APPHUB_K8S_BUILD_JOB_TTL_SECONDS": "10"},
			[]problem{{"APPHUB_K8S_BUILD_JOB_TTL_SECONDS", "must be between 60 and 604800, got 10"}}},
		{"env job ttl not a number", dev, nil, map[string]string{"APPHUB_K8S_BUILD_JOB_TTL_SECONDS": "1h"},
			[]problem{{"APPHUB_K8S_BUILD_JOB_TTL_SECONDS", `must be an integer, got "1h"`}}},
		{"env namespace", dev, nil, map[string]string{"APPHUB_K8S_NAMESPACE": "Launches"},
			[]problem{{"APPHUB_K8S_NAMESPACE", `RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?') (got "Launches")`}}},
		{"env empty namespace", dev, nil, map[string]string{"APPHUB_K8S_NAMESPACE": ""},
			[]problem{{"APPHUB_K8S_NAMESPACE", "is required"}}},
		{"env ingress class", dev, nil, map[string]string{"APPHUB_K8S_INGRESS_CLASS": "Traefik!"},
			[]problem{{"APPHUB_K8S_INGRESS_CLASS", `(got "Traefik!")`}}},
		{"env url template", dev, nil, map[string]string{"APPHUB_K8S_PREVIEW_URL_TEMPLATE": "https://preview.local"},
			[]problem{{"APPHUB_K8S_PREVIEW_URL_TEMPLATE", "{launch}"}}},
		{"env host template scheme", dev, nil, map[string]string{"APPHUB_K8S_PREVIEW_HOST_TEMPLATE": "{launch}.x.test", "APPHUB_K8S_PREVIEW_SCHEME": "ftp"},
			[]problem{{"APPHUB_K8S_PREVIEW_HOST_TEMPLATE", "scheme must be http or https"}}},
		{"env builder image", dev, nil, map[string]string{"APPHUB_K8S_BUILDER_IMAGE": "Moby/BuildKit"},
			[]problem{{"APPHUB_K8S_BUILDER_IMAGE", `must be lowercase (got "Moby/BuildKit")`}}},
		{"env builder identity", dev, nil, map[string]string{"APPHUB_K8S_BUILDER_SERVICE_ACCOUNT": "Builder_1"},
			[]problem{{"APPHUB_K8S_BUILDER_SERVICE_ACCOUNT", `(got "Builder_1")`}}},
		{"env launch identity is the builder's", dev, nil, map[string]string{"APPHUB_K8S_LAUNCH_SERVICE_ACCOUNT": "apphub-builder"},
			[]problem{{"APPHUB_K8S_LAUNCH_SERVICE_ACCOUNT", `must differ from builderServiceAccount: previews must not hold build permissions (got "apphub-builder")`}}},
		{"env registry secret", dev, nil, map[string]string{"APPHUB_K8S_REGISTRY_SECRET": "Pull Creds"},
			[]problem{{"APPHUB_K8S_REGISTRY_SECRET", `(got "Pull Creds")`}}},
		{"in-cluster registry with credentials", existingLab(t, map[string]string{"registryUsername": "bot", "registryPassword": "s3cret"}), map[string]bool{"registryPassword": true}, nil,
			[]problem{{"registryUsername", "must not be set with registryKind in-cluster"}, {"registryPassword", "must not be set with registryKind in-cluster"}}},
		{"registry server for a local registry", with(dev, map[string]string{"registryServer": "ghcr.io/acme"}), nil, nil,
			[]problem{{"registryServer", "applies to registryKind external only"}}},
		{"registry host port is the lb's", with(dev, map[string]string{"registryHostPort": "80"}), nil, nil,
			[]problem{{"registryHostPort", "must differ from k3dHttpPort (80) and k3dHttpsPort (443), got 80"}}},
		{"kubeconfig contents in plaintext", existingLab(t, map[string]string{"kubeconfig": kubeconfigYAML}), nil, nil,
			[]problem{{"kubeconfig", "must be set as a secret"}}},
		{"kubeconfig JSON on one line", existingLab(t, map[string]string{"kubeconfig": `{"apiVersion":"v1","clusters":[]}`}), nil, nil,
			[]problem{{"kubeconfig", "must be set as a secret"}}},
		{"kubeconfig for a k3d cluster", with(dev, map[string]string{"kubeconfig": "/etc/kube/config"}), nil, nil,
			[]problem{{"kubeconfig", "applies to clusterKind existing only"}}},
		{"kube context for a k3d cluster", with(dev, map[string]string{"kubeContext": "prod"}), nil, nil,
			[]problem{{"kubeContext", "applies to clusterKind existing only"}}},
		{"fractional k3d servers", with(dev, map[string]string{"k3dServers": "1.5"}), nil, nil,
			[]problem{{"k3dServers", `must be an integer, got "1.5"`}}},
		{"every problem at once", existingLab(t, map[string]string{"registryUsername": "bot", "namespace": "Bad"}), nil,
			map[string]string{"APPHUB_K8S_BUILD_TIMEOUT_SECONDS": "5", "APPHUB_K8S_INGRESS_CLASS": "-"},
			[]problem{{"namespace", "RFC 1123"}, {"APPHUB_K8S_BUILD_TIMEOUT_SECONDS", "got 5"}, {"APPHUB_K8S_INGRESS_CLASS", `(got "-")`},
				{"registryUsername", "must not be set with registryKind in-cluster"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, secretKeys := testmocks.ProjectConfig("apphub", tt.values, tt.secrets)
			m := testmocks.New()
			err := m.Run(t, "apphub", "dev", cfg, secretKeys, NewPlatformProgram(PlatformOptions{Env: envOf(tt.env), LookPath: allTools}))
			require.Error(t, err)
			assert.Contains(t, err.Error(), "invalid config")
			assert.Zero(t, m.Count(), "no resource may be registered: %v", m.Resources())

			_, err = ParsePlatformConfig(MapSource{Values: tt.values, Secrets: tt.secrets}, envOf(tt.env))
			var errs validate.Errors
			require.True(t, errors.As(err, &errs), "%v", err)
			got := map[string][]string{}
			for _, fe := range errs {
				got[fe.Field] = append(got[fe.Field], fe.Rule)
			}
			for _, w := range tt.want {
				assert.Contains(t, strings.Join(got[w.field], " | "), w.rule, "field %q in %v", w.field, got)
			}
			assert.Len(t, got, len(tt.want), "exactly the expected fields: %v", got)
			assert.NotContains(t, err.Error(), "s3cret", "a secret never appears in an error")
		})
	}
}

func TestKubeconfigPathMayBePlaintext(t *testing.T) {
	// A path holds no credential; the contents it points at stay outside
	// the stack. It still reaches the provider as a secret output.
	for _, path := range []string{"/etc/lab/kubeconfig", "~/.kube/lab.yaml", "C:\\Users\\ops\\kube\\config"} {
		t.Run(path, func(t *testing.T) {
			run, err := runPlatform(t, "lab", existingLab(t, map[string]string{"kubeconfig": path}), nil, noEnv)
			require.NoError(t, err)
			prov := run.mocks.Find(t, tProvider, "k8s")
			assert.True(t, prov.Secret("kubeconfig"))
		})
	}
}

func TestCheckPlatformValuesLeavesSecretContentToTheProgram(t *testing.T) {
	values, secrets := arcValues(t)
	for k := range secrets {
		delete(values, k) // as a stack file holds them: ciphertext only
	}
	require.NoError(t, CheckPlatformValues(values, secrets, noEnv), "secure values count as set, whatever they hold")

	err := CheckPlatformValues(with(values, map[string]string{"arcMaxRunners": "0"}), secrets, envOf(map[string]string{"APPHUB_K8S_NAMESPACE": "X"}))
	var errs validate.Errors
	require.True(t, errors.As(err, &errs), "%v", err)
	assert.ElementsMatch(t, []string{"APPHUB_K8S_NAMESPACE", "arcMaxRunners", "arcMinRunners"}, errs.Fields())

	delete(secrets, "arcGithubAppPrivateKey")
	assert.ErrorContains(t, CheckPlatformValues(values, secrets, noEnv), "arcGithubAppPrivateKey: is required", "a missing secret is a real problem")
}
