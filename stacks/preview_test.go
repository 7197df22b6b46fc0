package stacks

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/internal/testing/testmocks"
)

const (
	tIngress       = "kubernetes:networking.k8s.io/v1:Ingress"
	tNetworkPolicy = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
	tService       = "kubernetes:core/v1:Service"
	tJob           = "kubernetes:batch/v1:Job"
	tStackRef      = "pulumi:pulumi:StackReference"
)

// devPlatformOutputs are what `make up` on the dev stack exports.
func devPlatformOutputs() map[string]any {
	return map[string]any{
		OutNamespace: "apphub", OutBuildNamespace: "apphub-builds", OutSystemNamespace: "apphub-system",
		OutIngressNamespace: "kube-system", OutBuilderServiceAccount: "apphub-builder",
		OutPreviewServiceAccount: "apphub-preview", OutDeployerServiceAccount: "apphub-deployer",
		OutBuilderImage: "moby/buildkit:v0.23.2-rootless", OutBuildTimeoutSeconds: 900.0, OutBuildJobTTLSeconds: 3600.0,
		OutPreviewURLTemplate: "http://{launch}.apphub.localhost", OutIngressClass: "traefik",
		OutRegistryPushAddress: "apphub-registry:5000", OutRegistryPullAddress: "apphub-registry:5000",
		OutRegistryHostAddress: "apphub-registry.localhost:5050", OutRegistryInsecure: true,
		OutPreviewReadyTimeout: 300.0,
		OutRedisURL:            "redis://apphub-redis-master.apphub-system.svc.cluster.local:6379/0",
		OutKubeContext:         "k3d-apphub", OutKubeconfig: "apiVersion: v1\nkind: Config\n",
	}
}

// devPlatformRef is the StackReference the tests' stacks run by hand name.
const devPlatformRef = "organization/apphub/dev"

// runStack runs a preview or build program under mocks that answer the
// platform StackReference with outputs; values without platformOutputs
// name that reference, as a stack run by hand does.
func runStack(t *testing.T, project, stack string, values map[string]string, outputs map[string]any, fn pulumi.RunFunc) (*testmocks.Mocks, error) {
	t.Helper()
	if values["platformOutputs"] == "" && values["platformStack"] == "" {
		values = with(values, map[string]string{"platformStack": devPlatformRef})
	}
	m := platformMocks(outputs)
	cfg, _ := testmocks.ProjectConfig(project, values, nil)
	return m, m.Run(t, project, stack, cfg, nil, fn)
}

// platformMocks answers the dev platform's StackReference with outputs
// (kubeconfig and Redis URL secret, as the platform exports them); nil
// outputs leave the reference unanswered.
func platformMocks(outputs map[string]any) *testmocks.Mocks {
	m := testmocks.New()
	if outputs != nil {
		m.StackOutputs[devPlatformRef] = outputs
		m.SecretStackOutputs[devPlatformRef] = []string{OutKubeconfig, OutRedisURL}
	}
	return m
}

func previewValues(overrides map[string]string) map[string]string {
	return with(map[string]string{"launch": "pr-42", "image": "apphub-registry:5000/apps/web:abc123"}, overrides)
}

func TestPreviewOnDevPlatform(t *testing.T) {
	m, err := runStack(t, PreviewProject, "preview-pr-42", previewValues(map[string]string{
		"env": `{"LOG_LEVEL":"debug"}`, "expiresAt": "2026-11-23T12:00:00Z", "replicas": "2",
	}), devPlatformOutputs(), Preview)
	require.NoError(t, err)

	prov := m.Find(t, tProvider, "k8s")
	up, _ := prov.Bool("upsertExistingObjects")
	assert.True(t, up, "re-creating after a half-finished destroy adopts leftovers")
	assert.Equal(t, "k3d-apphub", prov.Str("context"))
	assert.True(t, prov.Secret("kubeconfig"), "the platform's kubeconfig stays secret")

	dep := m.Find(t, tDeployment, "preview")
	assert.Equal(t, "apphub", dep.Str("metadata.namespace"), "namespace from the platform")
	assert.Equal(t, "apphub-preview", dep.Str("spec.template.spec.serviceAccountName"))
	assert.Equal(t, "2026-11-23T12:00:00Z", dep.Str("metadata.annotations[apphub.io/expires-at]"))
	assert.Equal(t, float64(2), dep.Num("spec.replicas"))
	assert.Equal(t, float64(300), dep.Num("spec.progressDeadlineSeconds"), "previewReadyTimeoutSeconds from the platform")
	assert.Contains(t, dep.Plain("spec.template.spec.containers.0.env"), map[string]any{"name": "LOG_LEVEL", "value": "debug"})
	assert.Contains(t, dep.Plain("spec.template.spec.containers.0.env"), map[string]any{"name": "APPHUB_PUBLIC_URL", "value": "http://pr-42.apphub.localhost"})
	assert.False(t, dep.Has("spec.template.spec.imagePullSecrets"), "dev has no registry credentials")

	ing := m.Find(t, tIngress, "preview")
	assert.Equal(t, "traefik", ing.Str("spec.ingressClassName"))
	assert.Equal(t, "pr-42.apphub.localhost", ing.Str("spec.rules.0.host"))
	assert.Equal(t, "/", ing.Str("spec.rules.0.http.paths.0.path"))
	assert.Equal(t, "kube-system", m.Find(t, tNetworkPolicy, "preview").Str("spec.ingress.0.from.0.namespaceSelector.matchLabels[kubernetes.io/metadata.name]"))
	for _, r := range m.Resources() {
		if r.Type == tDeployment || r.Type == tService || r.Type == tIngress || r.Type == tNetworkPolicy {
			assert.Contains(t, r.Provider, "pulumi:providers:kubernetes::k8s")
		}
	}
}

func TestPreviewURLStyles(t *testing.T) {
	tests := []struct {
		name          string
		outputs       map[string]any
		url, host, pa string
		tls           bool
	}{
		{"host style", map[string]any{}, "http://pr-42.apphub.localhost", "pr-42.apphub.localhost", "/", false},
		{"path style", map[string]any{OutPreviewURLTemplate: "http://preview.minikube.local/{launch}"}, "http://preview.minikube.local/pr-42", "preview.minikube.local", "/pr-42", false},
		{"host template and scheme", map[string]any{OutPreviewURLTemplate: nil, OutPreviewHostTemplate: "{launch}.preview.example.com", OutPreviewScheme: "https", OutPreviewTLSSecret: "wildcard"},
			"https://pr-42.preview.example.com", "pr-42.preview.example.com", "/", true},
		{"https template with tls", map[string]any{OutPreviewURLTemplate: "https://{launch}.preview.local", OutPreviewTLSSecret: "wildcard"}, "https://pr-42.preview.local", "pr-42.preview.local", "/", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			outputs := devPlatformOutputs()
			for k, v := range tt.outputs {
				if v == nil {
					delete(outputs, k)
				} else {
					outputs[k] = v
				}
			}
			var got map[string]any
			m, err := runStack(t, PreviewProject, "preview-pr-42", previewValues(nil), outputs, func(ctx *pulumi.Context) error {
				cfg, err := ParsePreviewConfig(PulumiConfig(ctx))
				if err != nil {
					return err
				}
				out, err := NewPreview(ctx, cfg)
				if err != nil {
					return err
				}
				got, err = plainValues(ctx, out)
				return err
			})
			require.NoError(t, err)
			assert.Equal(t, map[string]any{
				OutURL: tt.url, OutHost: tt.host, OutPath: tt.pa, OutServiceName: "preview-pr-42",
				OutNamespace: "apphub", OutLaunch: "pr-42",
			}, got)
			ing := m.Find(t, tIngress, "preview")
			assert.Equal(t, tt.host, ing.Str("spec.rules.0.host"))
			assert.Equal(t, tt.pa, ing.Str("spec.rules.0.http.paths.0.path"))
			assert.Equal(t, tt.tls, ing.Has("spec.tls"))
		})
	}
}

func TestPreviewPullSecretFromPlatform(t *testing.T) {
	outputs := devPlatformOutputs()
	outputs[OutRegistrySecret] = "apphub-registry"
	m, err := runStack(t, PreviewProject, "preview-pr-42", previewValues(nil), outputs, Preview)
	require.NoError(t, err)
	assert.Equal(t, "apphub-registry", m.Find(t, tDeployment, "preview").Str("spec.template.spec.imagePullSecrets.0.name"))
}

func TestPreviewRejectsBadInputBeforeAnyResource(t *testing.T) {
	tests := []struct {
		name      string
		overrides map[string]string
		field     string
	}{
		{"missing launch", map[string]string{"launch": ""}, "launch: is required"},
		{"uppercase launch", map[string]string{"launch": "PR-42"}, "launch: a lowercase RFC 1123 label"},
		{"launch with dot", map[string]string{"launch": "pr.42"}, "launch: must not contain dots"},
		{"launch with underscore", map[string]string{"launch": "pr_42"}, "launch: a lowercase RFC 1123 label"},
		{"launch starting with dash", map[string]string{"launch": "-pr"}, "launch: a lowercase RFC 1123 label"},
		{"launch too long for prefix and suffix", map[string]string{"launch": "a234567890123456789012345678901234567890123456x"}, "launch: must be at most 46 characters"},
		{"launch injection", map[string]string{"launch": "x;rm -rf"}, "launch: a lowercase RFC 1123 label"},
		{"missing image", map[string]string{"image": ""}, "image: is required"},
		{"untagged image", map[string]string{"image": "nginx"}, "image: must name a tag or digest"},
		{"image with uppercase", map[string]string{"image": "Registry/App:1"}, "image: must be an image reference"},
		{"image with spaces", map[string]string{"image": "app :1"}, "image: must be an image reference"},
		{"privileged port", map[string]string{"port": "80"}, "port: must be 1024 or above"},
		{"port out of range", map[string]string{"port": "70000"}, "port: must be 1-65535"},
		{"port not a number", map[string]string{"port": "http"}, "port: must be an integer"},
		{"too many replicas", map[string]string{"replicas": "50"}, "replicas: must be between 0 and 10"},
		{"env not JSON", map[string]string{"env": "A=1"}, "env: must be a JSON object"},
		{"env bad name", map[string]string{"env": `{"1BAD":"x"}`}, `env: key "1BAD"`},
		{"env reserved name", map[string]string{"env": `{"APPHUB_PUBLIC_URL":"x"}`}, "set by the platform"},
		{"bad cpu", map[string]string{"cpuRequest": "lots"}, "cpuRequest: must be a Kubernetes quantity"},
		{"request above limit", map[string]string{"memoryRequest": "1Gi", "memoryLimit": "512Mi"}, "memoryRequest: 1Gi must not exceed memoryLimit"},
		{"relative health path", map[string]string{"healthPath": "healthz"}, "healthPath: must be an absolute path"},
		{"bad egress", map[string]string{"egressAllow": "10.0.0.0/8"}, "egressAllow: entry"},
		{"bad egress cidr", map[string]string{"egressAllow": "10.0.0.0/33:443"}, "is not a CIDR"},
		{"bad expiry", map[string]string{"expiresAt": "tomorrow"}, "expiresAt: must be an RFC 3339 time"},
		{"root user", map[string]string{"runAsUser": "0"}, "runAsUser: must be between 1 and"},
		{"port zero", map[string]string{"port": "0"}, "port: must be 1-65535, got 0"},
		{"env key given twice", map[string]string{"env": `{"A":"1","A":"2"}`}, `env: key "A" is given more than once`},
		{"egress with stray comma", map[string]string{"egressAllow": "10.0.0.0/8:5432,,0.0.0.0/0:443"}, "egressAllow: entry 1 is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := runStack(t, PreviewProject, "preview-x", previewValues(tt.overrides), devPlatformOutputs(), Preview)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "invalid config")
			assert.Contains(t, err.Error(), tt.field)
			assert.Zero(t, m.Count(), "nothing may be registered, not even the platform reference")
		})
	}
}

func TestPreviewRejectsLaunchTheTemplateCannotHost(t *testing.T) {
	outputs := devPlatformOutputs()
	outputs[OutPreviewURLTemplate] = "https://app-with-a-long-prefix-for-previews-{launch}.preview.local"
	m, err := runStack(t, PreviewProject, "preview-x", previewValues(map[string]string{"launch": "a-fairly-long-launch-identifier"}), outputs, Preview)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "with URL template")
	assert.Contains(t, err.Error(), "must be no more than 63 characters")
	for _, r := range m.Resources() {
		assert.Equal(t, tStackRef, r.Type, "only the platform was read; no Kubernetes object was created")
	}
}

func TestPreviewNeedsADeployedPlatform(t *testing.T) {
	outputs := devPlatformOutputs()
	delete(outputs, OutNamespace)
	delete(outputs, OutIngressClass)
	m, err := runStack(t, PreviewProject, "preview-x", previewValues(nil), outputs, Preview)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "lacks outputs namespace, ingressClass: deploy (or update) the platform first")
	assert.False(t, m.Has(tDeployment, "preview"))
}

func TestIDValidationMatchesStackRules(t *testing.T) {
	assert.NoError(t, ValidateLaunchID("pr-42"))
	assert.ErrorContains(t, ValidateLaunchID("../etc"), "launch:")
	assert.ErrorContains(t, ValidateLaunchID("a234567890123456789012345678901234567890123456x"), "at most 46 characters")
	assert.NoError(t, ValidateBuildID("b-7"))
	assert.ErrorContains(t, ValidateBuildID("a/b"), "buildId:")
	assert.ErrorContains(t, ValidateBuildID("a23456789012345678901234567890123456789012345678x"), "at most 48 characters")
}

// Preview DNS goes where the platform says: by default the cluster DNS
// pods and NodeLocal DNSCache's address (GKE, EKS), whose host-network
// pods no pod selector matches; a platform from before the setting keeps
// the DNS pods only.
func TestPreviewDNSEgress(t *testing.T) {
	kubeDNS := map[string]any{"namespaceSelector": map[string]any{}, "podSelector": map[string]any{"matchLabels": map[string]any{"k8s-app": "kube-dns"}}}
	nodeLocal := map[string]any{"ipBlock": map[string]any{"cidr": "169.254.20.10/32"}}
	tests := []struct {
		name    string
		setting any // the platform output; nil: absent
		want    []any
	}{
		{"the default", "kube-dns,169.254.20.10/32", []any{kubeDNS, nodeLocal}},
		{"NodeLocal DNSCache only", "169.254.20.10/32", []any{nodeLocal}},
		{"a platform from before the setting", nil, []any{kubeDNS}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			outputs := devPlatformOutputs()
			if tt.setting != nil {
				outputs[OutPreviewDNSEgress] = tt.setting
			}
			m, err := runStack(t, PreviewProject, "preview-pr-42", previewValues(nil), outputs, Preview)
			require.NoError(t, err)
			np := m.Find(t, tNetworkPolicy, "preview")
			assert.Equal(t, tt.want, np.Plain("spec.egress.0.to"))
		})
	}
}

func TestPlatformRefusesABadDNSEgress(t *testing.T) {
	for value, want := range map[string]string{
		"coredns":             `entry "coredns" must be "kube-dns" or a CIDR`,
		"kube-dns,10.0.0.1/8": "has host bits set; did you mean 10.0.0.0/8",
		"":                    `entry "" must be`,
	} {
		_, err := runPlatform(t, "dev", with(devValues(t), map[string]string{"previewDnsEgress": value}), nil)
		require.Error(t, err, value)
		assert.Contains(t, err.Error(), "previewDnsEgress", value)
		assert.Contains(t, err.Error(), want, value)
	}
}
