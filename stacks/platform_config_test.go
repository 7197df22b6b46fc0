package stacks

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/apphub/apphub-infra/internal/validate"
)

func TestPulumiYAMLDeclaresEveryKey(t *testing.T) {
	projects := []struct {
		dir, name string
		keys      []ConfigKey
	}{
		{".", "apphub", PlatformConfigKeys()},
		{"previews", PreviewProject, PreviewConfigKeys()},
		{"builds", BuildProject, BuildConfigKeys()},
	}
	for _, p := range projects {
		t.Run(p.name, func(t *testing.T) {
			var project struct {
				Name    string `yaml:"name"`
				Runtime any    `yaml:"runtime"`
				Config  map[string]struct {
					Type        string `yaml:"type"`
					Default     any    `yaml:"default"`
					Description string `yaml:"description"`
				} `yaml:"config"`
			}
			require.NoError(t, yaml.Unmarshal(projectFile(t, p.dir+"/Pulumi.yaml"), &project))
			assert.Equal(t, p.name, project.Name)
			assert.Equal(t, "go", runtimeName(project.Runtime))
			read := map[string]bool{}
			for _, k := range p.keys {
				read[k.Name] = true
				decl, ok := project.Config[k.Name]
				if !assert.True(t, ok, "Pulumi.yaml must declare %q", k.Name) {
					continue
				}
				assert.Equal(t, k.Type, decl.Type, "type of %q", k.Name)
				assert.Equal(t, k.Default, yamlScalar(decl.Default), "default of %q must match the Go default", k.Name)
				assert.NotEmpty(t, decl.Description, "description of %q", k.Name)
				assert.NotContains(t, decl.Description, "Overridden by", "description of %q: the environment overrides nothing", k.Name)
			}
			var extra []string
			for k := range project.Config {
				if !read[k] {
					extra = append(extra, k)
				}
			}
			sort.Strings(extra)
			assert.Empty(t, extra, "Pulumi.yaml declares keys the program does not read")
		})
	}
}

func yamlScalar(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		if x {
			return "true"
		}
		return "false"
	case int:
		return fmt.Sprint(x)
	}
	return fmt.Sprintf("unsupported default %T", v)
}

func TestStackFilesAreValid(t *testing.T) {
	declared := map[string]bool{}
	for _, k := range PlatformConfigKeys() {
		declared[k.Name] = true
	}
	prod, secrets := prodValues(t)
	for name, values := range map[string]map[string]string{"dev": devValues(t), "prod": prod} {
		t.Run(name, func(t *testing.T) {
			for k := range values {
				assert.True(t, declared[k], "Pulumi.%s.yaml sets undeclared key %q", name, k)
			}
			cfg, err := ParsePlatformConfig(MapSource{Values: values, Secrets: secrets})
			require.NoError(t, err)
			if name == "dev" {
				assert.Equal(t, ClusterK3d, cfg.Cluster.Kind)
				assert.Equal(t, 900, cfg.Build.TimeoutSeconds, "default build timeout")
				assert.False(t, cfg.Redis.Auth)
			} else {
				assert.Equal(t, ClusterExisting, cfg.Cluster.Kind)
				assert.Equal(t, 1200, cfg.Build.TimeoutSeconds)
				assert.True(t, cfg.Redis.Auth)
				assert.Equal(t, "[secret]", cfg.Registry.Password.String())
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	cfg, err := ParsePlatformConfig(MapSource{Values: map[string]string{"previewUrlTemplate": "https://{launch}.preview.local"}})
	require.NoError(t, err)
	assert.Equal(t, "apphub", cfg.Namespaces.Previews)
	assert.Equal(t, "apphub-builds", cfg.Namespaces.Builds)
	assert.Equal(t, 900, cfg.Build.TimeoutSeconds)
	assert.Equal(t, 3600, cfg.Build.JobTTLSeconds)
	assert.Equal(t, "moby/buildkit:v0.23.2-rootless", cfg.Build.BuilderImage)
	assert.Equal(t, 1, cfg.Cluster.K3dServers)
	assert.Equal(t, 2, cfg.Cluster.K3dAgents)
	assert.Equal(t, "oci://registry-1.docker.io/bitnamicharts/redis", cfg.Redis.Chart)
}

// The stack file is the only input of the platform: the catalog's
// variables in the shell of `pulumi up` (after `eval "$(apphubctl platform
// env)"`, say) change nothing.
func TestTheEnvironmentChangesNothing(t *testing.T) {
	base := map[string]string{"previewUrlTemplate": "https://{launch}.preview.local"}
	want, err := ParsePlatformConfig(MapSource{Values: base})
	require.NoError(t, err)
	for _, name := range []string{"APPHUB_K8S_NAMESPACE", "APPHUB_K8S_BUILDER_IMAGE", "APPHUB_K8S_BUILDER_SERVICE_ACCOUNT",
		"APPHUB_K8S_LAUNCH_SERVICE_ACCOUNT", "APPHUB_K8S_BUILD_TIMEOUT_SECONDS", "APPHUB_K8S_BUILD_JOB_TTL_SECONDS",
		"APPHUB_K8S_PREVIEW_URL_TEMPLATE", "APPHUB_K8S_PREVIEW_HOST_TEMPLATE", "APPHUB_K8S_PREVIEW_SCHEME",
		"APPHUB_K8S_INGRESS_CLASS", "APPHUB_K8S_REGISTRY_SECRET"} {
		t.Setenv(name, "Bad Value!")
	}
	got, err := ParsePlatformConfig(MapSource{Values: base})
	require.NoError(t, err, "a stray catalog variable is neither read nor refused")
	assert.Equal(t, want, got)
	assert.Equal(t, "apphub", got.Namespaces.Previews)
}

func TestInvalidConfigNamesFieldAndRule(t *testing.T) {
	base := devValues(t)
	tests := []struct {
		name      string
		overrides map[string]string
		env       map[string]string
		field     string
		rule      string
	}{
		{"unknown cluster kind", map[string]string{"clusterKind": "kind"}, nil, "clusterKind", "must be one of"},
		{"existing without context", map[string]string{"clusterKind": "existing", "registryKind": "in-cluster"}, nil, "kubeContext", "is required"},
		{"k3d registry on existing cluster", map[string]string{"clusterKind": "existing", "kubeContext": "x"}, nil, "registryKind", "needs clusterKind k3d"},
		{"no servers", map[string]string{"k3dServers": "0"}, nil, "k3dServers", "between 1 and 7"},
		{"non-numeric agents", map[string]string{"k3dAgents": "two"}, nil, "k3dAgents", "must be an integer"},
		{"same lb ports", map[string]string{"k3dHttpPort": "8080", "k3dHttpsPort": "8080"}, nil, "k3dHttpsPort", "must differ"},
		{"uppercase namespace", map[string]string{"namespace": "AppHub"}, nil, "namespace", "RFC 1123"},
		{"namespace", map[string]string{"namespace": "bad_ns"}, nil, "namespace", `RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`},
		{"shared namespaces", map[string]string{"buildNamespace": "apphub"}, nil, "buildNamespace", "must differ from namespace"},
		{"reserved namespace", map[string]string{"systemNamespace": "kube-system"}, nil, "systemNamespace", "reserved"},
		{"same identity", map[string]string{"previewServiceAccount": "apphub-builder"}, nil, "previewServiceAccount", "must differ"},
		{"bad quantity", map[string]string{"previewQuotaMemory": "lots"}, nil, "previewQuotaMemory", "quantity"},
		{"request above limit", map[string]string{"containerCpuRequest": "2", "containerCpuLimit": "1"}, nil, "containerCpuRequest", "must not exceed containerCpuLimit"},
		{"max above quota", map[string]string{"containerMaxMemory": "64Gi"}, nil, "containerMaxMemory", "must not exceed previewQuotaMemoryLimit"},
		{"zero pods", map[string]string{"previewQuotaPods": "0"}, nil, "previewQuotaPods", "between 1 and"},
		{"external without server", map[string]string{"clusterKind": "existing", "kubeContext": "x", "registryKind": "external"}, nil, "registryServer", "is required"},
		{"external with scheme", map[string]string{"clusterKind": "existing", "kubeContext": "x", "registryKind": "external", "registryServer": "https://ghcr.io", "registryUsername": "u"}, nil, "registryServer", "without a scheme"},
		{"username without password", map[string]string{"registryUsername": "bot"}, nil, "registryUsername", "go together"},
		{"in-cluster bad node port", map[string]string{"clusterKind": "existing", "kubeContext": "x", "registryKind": "in-cluster", "registryNodePort": "5000"}, nil, "registryNodePort", "between 30000 and 32767"},
		{"https chart repo", map[string]string{"redisChart": "https://charts.bitnami.com/bitnami"}, nil, "redisChart", "oci://"},
		{"oci chart without version", map[string]string{"redisChartVersion": ""}, nil, "redisChartVersion", "is required"},
		{"garbage chart version", map[string]string{"redisChartVersion": "latest!"}, nil, "redisChartVersion", `exact chart version such as 1.2.3, got "latest!"`},
		{"chart repository not a URL", map[string]string{"redisChart": "redis", "redisChartRepository": "mirror.internal"}, nil, "redisChartRepository", "http(s)://"},
		{"arc charts half local", map[string]string{"arcGithubConfigUrl": "https://github.com/acme", "arcControllerChart": "/charts/ctrl.tgz"}, nil, "arcScaleSetChart", "must be local exactly when arcControllerChart is"},
		{"arc finalizer timeout zero", map[string]string{"arcGithubConfigUrl": "https://github.com/acme", "arcFinalizerTimeoutSeconds": "0"}, nil, "arcFinalizerTimeoutSeconds", "between 1 and 3600"},
		{"tag without repository", map[string]string{"redisImageRepository": "", "redisImageTag": "7.4"}, nil, "redisImageTag", "needs redisImageRepository"},
		{"bad redis bool", map[string]string{"redisAuth": "yes please"}, nil, "redisAuth", "true or false"},
		{"template without placeholder", map[string]string{"previewUrlTemplate": "https://preview.local"}, nil, "previewUrlTemplate", "{launch}"},
		{"no template", map[string]string{"previewUrlTemplate": ""}, nil, "previewUrlTemplate", "is required"},
		{"both templates", map[string]string{"previewHostTemplate": "{launch}.x.local"}, nil, "previewUrlTemplate", "not both"},
		{"bad scheme", map[string]string{"previewUrlTemplate": "", "previewHostTemplate": "{launch}.x.local", "previewScheme": "ftp"}, nil, "previewHostTemplate", "scheme must be http or https"},
		{"tls on http", map[string]string{"previewTlsSecret": "wildcard"}, nil, "previewTlsSecret", "not https"},
		{"bad ingress class", map[string]string{"ingressClass": "Traefik!"}, nil, "ingressClass", "RFC 1123"},
		{"bad builder image", map[string]string{"builderImage": "Moby/BuildKit"}, nil, "builderImage", `image reference such as moby/buildkit:v0.23.2-rootless: invalid reference format: repository name (BuildKit) must be lowercase`},
		{"timeout too short", map[string]string{"buildTimeoutSeconds": "5"}, nil, "buildTimeoutSeconds", "must be between 60 and 21600, got 5"},
		{"timeout not a number", map[string]string{"buildTimeoutSeconds": "15m"}, nil, "buildTimeoutSeconds", "must be an integer"},
		{"ttl zero", map[string]string{"buildJobTtlSeconds": "0"}, nil, "buildJobTtlSeconds", "between 60 and"},
		{"minikube memory", map[string]string{"clusterKind": "minikube", "registryKind": "minikube", "minikubeMemory": "lots"}, nil, "minikubeMemory", "such as 8g"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePlatformConfig(MapSource{Values: with(base, tt.overrides)})
			require.Error(t, err)
			var errs validate.Errors
			require.True(t, errors.As(err, &errs), "error is a validate.Errors: %v", err)
			found := false
			for _, fe := range errs {
				if fe.Field == tt.field && strings.Contains(fe.Rule, tt.rule) {
					found = true
				}
			}
			assert.True(t, found, "want %s: ...%s..., got %v", tt.field, tt.rule, err)
		})
	}
}

func TestValidateReportsEveryProblemAtOnce(t *testing.T) {
	_, err := ParsePlatformConfig(MapSource{Values: map[string]string{
		"clusterKind":         "existing",
		"namespace":           "Bad",
		"buildTimeoutSeconds": "1",
		"previewUrlTemplate":  "nope",
		"registryKind":        "external",
	}})
	var errs validate.Errors
	require.True(t, errors.As(err, &errs))
	assert.Subset(t, errs.Fields(), []string{"kubeContext", "namespace", "buildTimeoutSeconds", "previewUrlTemplate", "registryServer"})
}

func TestSecretsMustBeEncrypted(t *testing.T) {
	values, _ := prodValues(t)
	_, err := ParsePlatformConfig(MapSource{Values: values})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "registryPassword: must be set as a secret")
	assert.NotContains(t, err.Error(), "ghp_prodtoken", "a secret never appears in an error")
}

func TestSecretNeverPrints(t *testing.T) {
	s := NewSecret("hunter2")
	for _, f := range []string{"%v", "%s", "%+v", "%#v"} {
		assert.NotContains(t, fmt.Sprintf(f, s), "hunter2")
		assert.NotContains(t, fmt.Sprintf(f, struct{ P Secret }{s}), "hunter2")
	}
}

// Every config key is documented where it is declared: its project's
// Pulumi.yaml gives it a description, and the README points to those files
// instead of repeating a table that would drift from them. The few keys the
// README shows in a table must exist, and stay few.
func TestEveryKeyIsDocumentedInPulumiYAML(t *testing.T) {
	projects := []struct {
		dir  string
		keys []ConfigKey
	}{
		{".", PlatformConfigKeys()},
		{"previews", PreviewConfigKeys()},
		{"builds", BuildConfigKeys()},
	}
	declared := map[string]bool{}
	for _, p := range projects {
		var project struct {
			Config map[string]struct {
				Description string `yaml:"description"`
			} `yaml:"config"`
		}
		file := p.dir + "/Pulumi.yaml"
		require.NoError(t, yaml.Unmarshal(projectFile(t, file), &project))
		for _, k := range p.keys {
			declared[k.Name] = true
			assert.NotEmpty(t, strings.TrimSpace(project.Config[k.Name].Description), "%s: key %q needs a description", file, k.Name)
		}
	}

	readme := string(projectFile(t, "README.md"))
	for _, link := range []string{"](Pulumi.yaml)", "](previews/Pulumi.yaml)", "](builds/Pulumi.yaml)"} {
		assert.Contains(t, readme, link, "README must link to the Pulumi.yaml that declares the keys")
	}
	var shown []string
	for _, line := range strings.Split(readme, "\n") {
		rest, ok := strings.CutPrefix(line, "| `")
		if !ok {
			continue
		}
		name, _, ok := strings.Cut(rest, "` |")
		if !ok || strings.ContainsAny(name, " `") {
			continue
		}
		shown = append(shown, name)
		assert.True(t, declared[name], "README's table names %q, which no Pulumi.yaml declares", name)
	}
	assert.LessOrEqual(t, len(shown), 12, "README shows a handful of keys and points to Pulumi.yaml for the rest: %v", shown)
}

// runtimeName is the language of a Pulumi.yaml runtime, written as a name
// or as {name, options}.
func runtimeName(r any) any {
	if m, ok := r.(map[string]any); ok {
		return m["name"]
	}
	return r
}
