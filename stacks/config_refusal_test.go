package stacks

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/internal/testing/testca"
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
		{"namespace annotations not JSON", existingLab(t, map[string]string{"previewNamespaceAnnotations": "pool=previews"}), nil, nil,
			[]problem{{"previewNamespaceAnnotations", "must be a JSON object of strings"}}},
		{"namespace annotation with a bad key", existingLab(t, map[string]string{"buildNamespaceAnnotations": `{"bad key": "x"}`}), nil, nil,
			[]problem{{"buildNamespaceAnnotations", `annotation "bad key"`}}},
		{"namespace annotation with a non-string value", existingLab(t, map[string]string{"systemNamespaceAnnotations": `{"a.io/b": 1}`}), nil, nil,
			[]problem{{"systemNamespaceAnnotations", "must be a JSON object of strings"}}},
		{"insecure flag for an in-cluster registry", existingLab(t, map[string]string{"registryInsecure": "true"}), nil, nil,
			[]problem{{"registryInsecure", "applies to registryKind external only"}}},
		{"CA bundle that is not PEM", existingLab(t, map[string]string{"buildCaBundle": "/etc/ssl/ca.pem"}), nil, nil,
			[]problem{{"buildCaBundle", "must be PEM certificates"}}},
		{"CA bundle with a private key", existingLab(t, map[string]string{"buildCaBundle": testca.New(t).CertPEM + testca.KeyPEM(t)}), nil, nil,
			[]problem{{"buildCaBundle", "a key never belongs here"}}},
		{"k3s image without a tag", with(dev, map[string]string{"k3sImage": "rancher/k3s"}), nil, nil,
			[]problem{{"k3sImage", "must name a tag"}}},
		{"k3s older than the platform needs", with(dev, map[string]string{"k3sImage": "rancher/k3s:v1.29.9-k3s1"}), nil, nil,
			[]problem{{"k3sImage", "is Kubernetes v1.29.9; the platform needs 1.30 or later"}}},
		{"minikube Kubernetes not pinned", with(dev, map[string]string{"clusterKind": "minikube", "registryKind": "minikube", "minikubeKubernetesVersion": "stable"}), nil, nil,
			[]problem{{"minikubeKubernetesVersion", `must pin a Kubernetes version such as v1.34.1, got "stable"`}}},
		{"fractional k3d servers", with(dev, map[string]string{"k3dServers": "1.5"}), nil, nil,
			[]problem{{"k3dServers", `must be an integer, got "1.5"`}}},
		{"every problem at once", existingLab(t, map[string]string{"registryUsername": "bot", "namespace": "Bad", "buildTimeoutSeconds": "5", "ingressClass": "-"}), nil, nil,
			[]problem{{"namespace", "RFC 1123"}, {"buildTimeoutSeconds", "got 5"}, {"ingressClass", "RFC 1123 subdomain"},
				{"registryUsername", "must not be set with registryKind in-cluster"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, secretKeys := testmocks.ProjectConfig("apphub", tt.values, tt.secrets)
			m := testmocks.New()
			err := m.Run(t, "apphub", "dev", cfg, secretKeys, NewPlatformProgram(PlatformOptions{LookPath: allTools}))
			require.Error(t, err)
			assert.Contains(t, err.Error(), "invalid config")
			assert.Zero(t, m.Count(), "no resource may be registered: %v", m.Resources())

			_, err = ParsePlatformConfig(MapSource{Values: tt.values, Secrets: tt.secrets})
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
			run, err := runPlatform(t, "lab", existingLab(t, map[string]string{"kubeconfig": path}), nil)
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
	require.NoError(t, CheckPlatformValues(values, secrets), "secure values count as set, whatever they hold")

	err := CheckPlatformValues(with(values, map[string]string{"arcMaxRunners": "0", "namespace": "X"}), secrets)
	var errs validate.Errors
	require.True(t, errors.As(err, &errs), "%v", err)
	assert.ElementsMatch(t, []string{"namespace", "arcMaxRunners", "arcMinRunners"}, errs.Fields())

	delete(secrets, "arcGithubAppPrivateKey")
	assert.ErrorContains(t, CheckPlatformValues(values, secrets), "arcGithubAppPrivateKey: is required", "a missing secret is a real problem")
}
