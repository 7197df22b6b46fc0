package stacks

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/components"
	"github.com/apphub/apphub-infra/internal/testing/testca"
	"github.com/apphub/apphub-infra/internal/testing/testmocks"
)

const (
	tProvider       = "pulumi:providers:kubernetes"
	tNamespace      = "kubernetes:core/v1:Namespace"
	tQuota          = "kubernetes:core/v1:ResourceQuota"
	tLimitRange     = "kubernetes:core/v1:LimitRange"
	tServiceAccount = "kubernetes:core/v1:ServiceAccount"
	tSecret         = "kubernetes:core/v1:Secret"
	tDeployment     = "kubernetes:apps/v1:Deployment"
	tRole           = "kubernetes:rbac.authorization.k8s.io/v1:Role"
	tRoleBinding    = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
	tRelease        = "kubernetes:helm.sh/v3:Release"
	tPassword       = "random:index/randomPassword:RandomPassword"
	tCommand        = "command:local:Command"
)

type platformRun struct {
	mocks   *testmocks.Mocks
	outputs map[string]testmocks.Value
}

// runPlatform runs the platform program under mocks with stack config
// values (plain keys) and returns what it registered and exported.
func runPlatform(t *testing.T, stack string, values map[string]string, secrets map[string]bool) (platformRun, error) {
	t.Helper()
	cfg, secretKeys := testmocks.ProjectConfig("apphub", values, secrets)
	run := platformRun{mocks: testmocks.New(), outputs: map[string]testmocks.Value{}}
	err := run.mocks.Run(t, "apphub", stack, cfg, secretKeys, func(ctx *pulumi.Context) error {
		c, err := LoadPlatformConfig(ctx)
		if err != nil {
			return err
		}
		res, err := NewPlatform(ctx, c)
		if err != nil {
			return err
		}
		run.outputs, err = testmocks.AwaitMap(ctx.Context(), res.Exports)
		return err
	})
	return run, err
}

func (r platformRun) out(key string) any { return r.outputs[key].Value }

func TestPlatformDev(t *testing.T) {
	run, err := runPlatform(t, "dev", devValues(t), nil)
	require.NoError(t, err)
	m := run.mocks

	// The provider is configured from the local cluster's kubeconfig, so
	// every Kubernetes object waits for the cluster to exist.
	cluster := m.Find(t, tCommand, "cluster")
	assert.Contains(t, cluster.Str("create"), "k3d cluster create apphub --image 'rancher/k3s:v1.34.1-k3s1' --servers 1 --agents 2")
	assert.Contains(t, cluster.Str("create"), "--runtime-label 'apphub.io/owner=organization/apphub/dev@server:0'", "the cluster records the stack that created it")
	prov := m.Find(t, tProvider, "k8s")
	assert.Equal(t, "k3d-apphub", prov.Str("context"))
	assert.Equal(t, testmocks.MockKubeconfig("run"), prov.Str("kubeconfig"))
	assert.True(t, prov.Secret("kubeconfig"))
	assert.Contains(t, prov.Dependencies, cluster.URN)
	for _, r := range m.Resources() {
		if strings.HasPrefix(r.Type, "kubernetes:") {
			assert.Contains(t, r.Provider, "pulumi:providers:kubernetes::k8s", "%s %s must use the explicit provider", r.Type, r.Name)
		}
	}

	levels := map[string]string{}
	for _, ns := range m.ByType(tNamespace) {
		labels := ns.Plain("metadata.labels").(map[string]any)
		levels[ns.Str("metadata.name")] = labels["pod-security.kubernetes.io/enforce"].(string) + "/" + labels["pod-security.kubernetes.io/warn"].(string)
	}
	assert.Equal(t, map[string]string{
		"apphub":        "restricted/restricted",
		"apphub-builds": "privileged/baseline",
		"apphub-system": "baseline/restricted",
	}, levels)

	quota := m.Find(t, tQuota, "previews-quota")
	assert.Equal(t, map[string]any{"requests.cpu": "2", "requests.memory": "4Gi", "limits.cpu": "4", "limits.memory": "8Gi", "pods": "50", "persistentvolumeclaims": "0"}, quota.Plain("spec.hard"), "previews may hold no claims")
	assert.Equal(t, "apphub", quota.Str("metadata.namespace"))
	buildQuota := m.Find(t, tQuota, "builds-quota")
	assert.Equal(t, "10", buildQuota.Str("spec.hard.pods"))
	lr := m.Find(t, tLimitRange, "builds-limits")
	assert.Equal(t, map[string]any{"cpu": "2", "memory": "4Gi"}, lr.Plain("spec.limits.0.max"))

	// k3d brings its own registry and dev has no credentials: the only
	// Secrets are the builder's certificates.
	assert.False(t, m.Has(tDeployment, "registry"))
	var secrets []string
	for _, s := range m.ByType(tSecret) {
		secrets = append(secrets, s.Str("metadata.name"))
	}
	assert.ElementsMatch(t, []string{"apphub-buildkitd-server", "apphub-buildkitd-client"}, secrets)

	rel := m.Find(t, tRelease, "redis")
	assert.Equal(t, "apphub-system", rel.Str("namespace"))
	assert.Equal(t, map[string]any{"enabled": false}, rel.Plain("values.auth"))
	assert.Equal(t, "bitnamilegacy/redis", rel.Str("values.image.repository"))
	assert.Empty(t, m.ByType(tPassword))

	assert.Equal(t, map[string]any{
		OutNamespace:              "apphub",
		OutBuildNamespace:         "apphub-builds",
		OutSystemNamespace:        "apphub-system",
		OutIngressNamespace:       "kube-system",
		OutBuilderServiceAccount:  "apphub-builder",
		OutPreviewServiceAccount:  "apphub-preview",
		OutDeployerServiceAccount: "apphub-deployer",
		OutBuilderImage:           "moby/buildkit:v0.23.2-rootless",
		OutBuildTimeoutSeconds:    900,
		OutBuildJobTTLSeconds:     3600,
		OutBuilderAddress:         "tcp://apphub-buildkitd.apphub-builds.svc:1234",
		OutBuilderClientSecret:    "apphub-buildkitd-client",
		OutContainerMaxCPU:        "2",
		OutContainerMaxMemory:     "4Gi",
		OutPreviewURLTemplate:     "http://{launch}.apphub.localhost",
		OutPreviewDNSEgress:       "kube-dns,169.254.20.10/32",
		OutPreviewReadyTimeout:    300,
		OutIngressClass:           "traefik",
		OutRegistryPushAddress:    "apphub-registry:5000",
		OutRegistryPullAddress:    "apphub-registry:5000",
		OutRegistryHostAddress:    "apphub-registry.localhost:5050",
		OutRegistryInsecure:       true,
		OutRegistryKind:           "k3d",
		OutRedisURL:               "redis://apphub-redis-master.apphub-system.svc.cluster.local:6379/0",
		OutKubeContext:            "k3d-apphub",
		OutKubeconfig:             testmocks.MockKubeconfig("run"),
	}, plainOutputs(run))
	assert.False(t, run.outputs[OutRedisURL].Secret)
	assert.True(t, run.outputs[OutKubeconfig].Secret, "the kubeconfig output stays secret")
	assert.False(t, m.Has(tRelease, "arc-controller"), "ARC is off without GitHub settings")
	assertPlatformConfigMap(t, m)
}

func plainOutputs(r platformRun) map[string]any {
	out := map[string]any{}
	for k, v := range r.outputs {
		out[k] = v.Value
	}
	return out
}

func TestPlatformProd(t *testing.T) {
	values, secrets := prodValues(t)
	run, err := runPlatform(t, "prod", values, secrets)
	require.NoError(t, err)
	m := run.mocks

	assert.Equal(t, "apphub-prod", m.Find(t, tProvider, "k8s").Str("context"))
	assert.Empty(t, m.ByType(tCommand), "prod uses an existing cluster: nothing to create")
	_, hasKubeconfig := run.outputs[OutKubeconfig]
	assert.False(t, hasKubeconfig)

	secretsByNS := map[string]testmocks.Resource{}
	for _, s := range m.ByType(tSecret) {
		if s.Str("type") == "kubernetes.io/dockerconfigjson" {
			secretsByNS[s.Str("metadata.namespace")] = s
		}
	}
	require.Len(t, secretsByNS, 3, "pull secret in previews, push secret in builds, the API service's image pull in system")
	for _, ns := range []string{"apphub", "apphub-builds", "apphub-system"} {
		s := secretsByNS[ns]
		assert.Equal(t, "apphub-registry", s.Str("metadata.name"))
		assert.True(t, s.Secret("stringData[.dockerconfigjson]"))
		var doc map[string]map[string]map[string]string
		require.NoError(t, json.Unmarshal([]byte(s.Str("stringData[.dockerconfigjson]")), &doc))
		assert.Equal(t, "apphub-ci", doc["auths"]["ghcr.io"]["username"], "logs in to the registry host, not the namespace path")
	}

	preview := m.Find(t, tServiceAccount, "preview-identity")
	assert.Equal(t, "apphub-registry", preview.Str("imagePullSecrets.0.name"))

	builderRole := m.Find(t, tRole, "builder-identity-builds")
	rules := builderRole.Plain("rules").([]any)
	assert.Contains(t, rules, map[string]any{"apiGroups": []any{""}, "resources": []any{"secrets"}, "verbs": []any{"get"}, "resourceNames": []any{"apphub-registry"}})

	rel := m.Find(t, tRelease, "redis")
	assert.Equal(t, true, rel.Plain("values.auth.enabled"))
	assert.Equal(t, map[string]any{"enabled": true, "size": "20Gi", "storageClass": "standard-rwo"}, rel.Plain("values.master.persistence"))
	m.Find(t, tPassword, "redis-password")

	assert.True(t, run.outputs[OutRedisURL].Secret, "REDIS_URL with a password is a secret output")
	assert.Contains(t, run.out(OutRedisURL), ":mock-password-redis-password@")
	assert.Equal(t, "https://{launch}.preview.apphub.example.com", run.out(OutPreviewURLTemplate))
	assert.Equal(t, "preview-wildcard-tls", run.out(OutPreviewTLSSecret))
	assert.Equal(t, "ghcr.io/acme-apphub", run.out(OutRegistryPushAddress))
	assert.Equal(t, false, run.out(OutRegistryInsecure), "an external registry is reached over TLS")
	assert.Equal(t, "apphub-registry", run.out(OutRegistrySecret))
	assert.Equal(t, 1200, run.out(OutBuildTimeoutSeconds))
	assert.Equal(t, "nginx", run.out(OutIngressClass))
}

func TestPlatformRBACRules(t *testing.T) {
	run, err := runPlatform(t, "dev", devValues(t), nil)
	require.NoError(t, err)
	m := run.mocks
	ro := []any{"get", "list", "watch"}
	rw := []any{"get", "list", "watch", "create", "update", "patch", "delete"}
	rule := func(groups []any, resources []any, verbs []any) map[string]any {
		return map[string]any{"apiGroups": groups, "resources": resources, "verbs": verbs}
	}
	core := []any{""}
	tests := []struct {
		role, namespace string
		rules           []any
	}{
		{"preview-identity-previews", "apphub", []any{rule(core, []any{"configmaps"}, ro)}},
		{"builder-identity-builds", "apphub-builds", []any{
			rule(core, []any{"configmaps"}, ro),
			rule([]any{"batch"}, []any{"jobs"}, ro),
			rule(core, []any{"pods"}, ro),
			rule(core, []any{"pods/log"}, []any{"get"}),
		}},
		{"deployer-identity-previews", "apphub", []any{
			rule([]any{"apps"}, []any{"deployments"}, rw),
			rule([]any{"apps"}, []any{"replicasets"}, ro),
			rule(core, []any{"services", "configmaps"}, rw),
			rule(core, []any{"pods", "endpoints", "events", "persistentvolumeclaims"}, ro),
			rule(core, []any{"pods/log"}, []any{"get"}),
			rule(core, []any{"resourcequotas", "limitranges"}, ro),
			rule([]any{"discovery.k8s.io"}, []any{"endpointslices"}, ro),
			rule([]any{"networking.k8s.io"}, []any{"ingresses", "networkpolicies"}, rw),
		}},
		{"deployer-identity-builds", "apphub-builds", []any{
			rule([]any{"batch"}, []any{"jobs"}, rw),
			rule(core, []any{"pods", "events"}, ro),
			rule(core, []any{"pods/log"}, []any{"get"}),
		}},
		// The service reads the platform's ConfigMap and nothing else there.
		{"deployer-identity-system", "apphub-system", []any{
			map[string]any{"apiGroups": core, "resources": []any{"configmaps"}, "verbs": []any{"get"}, "resourceNames": []any{PlatformConfigMap}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.role, func(t *testing.T) {
			role := m.Find(t, tRole, tt.role)
			assert.Equal(t, tt.namespace, role.Str("metadata.namespace"))
			assert.Equal(t, tt.rules, role.Plain("rules"))
			rb := m.Find(t, tRoleBinding, tt.role)
			assert.Equal(t, role.Str("metadata.name"), rb.Str("roleRef.name"))
		})
	}
	assert.Len(t, m.ByType(tRole), len(tests), "no other roles exist")
	for _, r := range m.ByType(tRole) {
		for _, rr := range r.Plain("rules").([]any) {
			res := rr.(map[string]any)["resources"].([]any)
			assert.NotContains(t, res, "pods/exec")
			if strings.HasPrefix(r.Name, "preview") {
				assert.NotContains(t, res, "secrets", "previews never read Secrets")
			}
		}
	}
	deployer := m.Find(t, tServiceAccount, "deployer-identity")
	assert.Equal(t, "apphub-system", deployer.Str("metadata.namespace"))
	auto, _ := deployer.Bool("automountServiceAccountToken")
	assert.True(t, auto)
	preview := m.Find(t, tServiceAccount, "preview-identity")
	auto, _ = preview.Bool("automountServiceAccountToken")
	assert.False(t, auto)
}

func TestPlatformInClusterRegistry(t *testing.T) {
	values := with(devValues(t), map[string]string{
		"clusterKind": "existing", "kubeContext": "lab", "registryKind": "in-cluster",
		"registryNodePort": "31000", "storageClass": "local-path", "kubeconfig": "/etc/lab/kubeconfig",
	})
	run, err := runPlatform(t, "lab", values, map[string]bool{"kubeconfig": true})
	require.NoError(t, err)
	m := run.mocks
	dep := m.Find(t, tDeployment, "registry")
	assert.Equal(t, "apphub-system", dep.Str("metadata.namespace"))
	assert.Contains(t, dep.Parent, components.RegistryType+"::registry")
	assert.Equal(t, "local-path", m.Find(t, "kubernetes:core/v1:PersistentVolumeClaim", "registry").Str("spec.storageClassName"))
	assert.Equal(t, "apphub-registry.apphub-system.svc.cluster.local:5000", run.out(OutRegistryPushAddress))
	assert.Equal(t, "localhost:31000", run.out(OutRegistryPullAddress))
	_, hasHost := run.outputs[OutRegistryHostAddress]
	assert.False(t, hasHost)
	prov := m.Find(t, tProvider, "k8s")
	assert.Equal(t, "lab", prov.Str("context"))
	assert.True(t, prov.Secret("kubeconfig"), "a kubeconfig may hold credentials: keep it secret")
}

// A plain-HTTP registry on a private network that needs no login, and
// namespaces steered to node pools by their annotations (the real-node
// tier's platform).
func TestPlatformInsecureRegistryAndNamespaceAnnotations(t *testing.T) {
	values := with(devValues(t), map[string]string{
		"clusterKind": "existing", "kubeContext": "lab", "registryKind": "external",
		"registryServer": "10.88.0.1:5000", "registryInsecure": "true",
		"previewNamespaceAnnotations": `{"scheduler.alpha.kubernetes.io/node-selector": "pool=previews"}`,
		"buildNamespaceAnnotations":   `{"scheduler.alpha.kubernetes.io/node-selector": "pool=builds,arch=amd64"}`,
	})
	run, err := runPlatform(t, "lab", values, nil)
	require.NoError(t, err)
	m := run.mocks
	assert.Equal(t, true, run.out(OutRegistryInsecure))
	assert.Equal(t, "10.88.0.1:5000", run.out(OutRegistryPushAddress))
	_, hasSecret := run.outputs[OutRegistrySecret]
	assert.False(t, hasSecret, "no credentials, no pull secret")
	for _, s := range m.ByType(tSecret) {
		assert.NotEqual(t, "kubernetes.io/dockerconfigjson", s.Str("type"), s.Name)
	}
	tests := []struct {
		ns   string
		want any
	}{
		{"previews", map[string]any{"scheduler.alpha.kubernetes.io/node-selector": "pool=previews"}},
		{"builds", map[string]any{"scheduler.alpha.kubernetes.io/node-selector": "pool=builds,arch=amd64"}},
		{"system", nil},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, m.Find(t, tNamespace, tt.ns).Plain("metadata.annotations"), tt.ns)
	}
}

func TestPlatformBuildCABundle(t *testing.T) {
	ca := testca.New(t)
	run, err := runPlatform(t, "dev", with(devValues(t), map[string]string{"buildCaBundle": ca.CertPEM}), nil)
	require.NoError(t, err)
	cm := run.mocks.Find(t, tConfigMap, "build-ca")
	assert.Equal(t, "apphub-builds", cm.Str("metadata.namespace"))
	assert.Equal(t, components.BuildCAConfigMap, cm.Str("metadata.name"))
	assert.Equal(t, strings.TrimSpace(ca.CertPEM), cm.Str("data[ca.crt]"))
	assert.Equal(t, components.BuildCAConfigMap, run.out(OutBuildCAConfigMap))

	run, err = runPlatform(t, "dev", devValues(t), nil)
	require.NoError(t, err)
	_, has := run.outputs[OutBuildCAConfigMap]
	assert.False(t, has, "no bundle, no ConfigMap to mount")
}

func TestPlatformSettingsReachResourcesAndTheShellDoesNot(t *testing.T) {
	// The catalog's variables in the shell must not rename anything.
	t.Setenv("APPHUB_K8S_NAMESPACE", "from-the-shell")
	t.Setenv("APPHUB_K8S_LAUNCH_SERVICE_ACCOUNT", "from-the-shell")
	values := with(devValues(t), map[string]string{
		"namespace": "launches", "previewServiceAccount": "launcher", "builderServiceAccount": "buildbot",
		"previewUrlTemplate": "", "previewHostTemplate": "{launch}.preview.test", "previewScheme": "https",
	})
	run, err := runPlatform(t, "dev", values, nil)
	require.NoError(t, err)
	m := run.mocks
	assert.Equal(t, "launches", m.Find(t, tNamespace, "previews").Str("metadata.name"))
	sa := m.Find(t, tServiceAccount, "preview-identity")
	assert.Equal(t, "launcher", sa.Str("metadata.name"))
	assert.Equal(t, "launches", sa.Str("metadata.namespace"))
	assert.Equal(t, "buildbot", m.Find(t, tRoleBinding, "builder-identity-builds").Str("subjects.0.name"))
	assert.Equal(t, "{launch}.preview.test", run.out(OutPreviewHostTemplate))
	assert.Equal(t, "https", run.out(OutPreviewScheme))
	_, hasURL := run.outputs[OutPreviewURLTemplate]
	assert.False(t, hasURL, "one preview URL style is exported, the one in force")
}

func TestPlatformInvalidConfigRegistersNothing(t *testing.T) {
	tests := map[string]map[string]string{
		"bad namespace":        with(devValues(t), map[string]string{"namespace": "-bad-"}),
		"bad template":         with(devValues(t), map[string]string{"previewUrlTemplate": "http://preview.local"}),
		"plaintext password":   with(devValues(t), map[string]string{"registryUsername": "u", "registryPassword": "p"}),
		"existing w/o context": with(devValues(t), map[string]string{"clusterKind": "existing", "registryKind": "in-cluster"}),
	}
	for name, values := range tests {
		t.Run(name, func(t *testing.T) {
			m := testmocks.New()
			cfg := map[string]string{}
			for k, v := range values {
				cfg["apphub:"+k] = v
			}
			err := m.Run(t, "apphub", "dev", cfg, nil, NewPlatformProgram(PlatformOptions{LookPath: allTools}))
			require.Error(t, err)
			assert.Contains(t, err.Error(), "invalid config")
			assert.Zero(t, m.Count(), "no resource may be registered: %v", m.Resources())
		})
	}
}

func TestCatalogEnv(t *testing.T) {
	vars, err := CatalogEnv(map[string]any{
		OutNamespace:             "apphub",
		OutBuilderImage:          "moby/buildkit:v0.23.2-rootless",
		OutBuilderServiceAccount: "apphub-builder",
		OutPreviewServiceAccount: "apphub-preview",
		OutBuildTimeoutSeconds:   float64(900),
		OutBuildJobTTLSeconds:    float64(3600),
		OutPreviewURLTemplate:    "https://{launch}.preview.local",
		OutIngressClass:          "traefik",
		OutRegistrySecret:        "apphub-registry",
		OutRedisURL:              "redis://:p'w@apphub-redis-master.apphub-system.svc.cluster.local:6379/0",
		OutRegistryPushAddress:   "not-a-catalog-setting:5000",
	})
	require.NoError(t, err)
	got := map[string]string{}
	for _, v := range vars {
		got[v.Name] = v.Value
	}
	assert.Equal(t, map[string]string{
		"APPHUB_BUILD_EXECUTION_MODE":        "kubernetes",
		"APPHUB_LAUNCH_EXECUTION_MODE":       "kubernetes",
		"APPHUB_K8S_NAMESPACE":               "apphub",
		"APPHUB_K8S_BUILDER_IMAGE":           "moby/buildkit:v0.23.2-rootless",
		"APPHUB_K8S_BUILDER_SERVICE_ACCOUNT": "apphub-builder",
		"APPHUB_K8S_LAUNCH_SERVICE_ACCOUNT":  "apphub-preview",
		"APPHUB_K8S_BUILD_TIMEOUT_SECONDS":   "900",
		"APPHUB_K8S_BUILD_JOB_TTL_SECONDS":   "3600",
		"APPHUB_K8S_PREVIEW_URL_TEMPLATE":    "https://{launch}.preview.local",
		"APPHUB_K8S_INGRESS_CLASS":           "traefik",
		"APPHUB_K8S_REGISTRY_SECRET":         "apphub-registry",
		"REDIS_URL":                          "redis://:p'w@apphub-redis-master.apphub-system.svc.cluster.local:6379/0",
	}, got)
	lines := ExportLines(vars)
	assert.Contains(t, lines, "export APPHUB_K8S_NAMESPACE='apphub'\n")
	assert.Contains(t, lines, `export REDIS_URL='redis://:p'\''w@apphub-redis-master`)

	_, err = CatalogEnv(map[string]any{})
	assert.ErrorContains(t, err, "has it been deployed")
}

func TestPlatformMinikube(t *testing.T) {
	values := with(devValues(t), map[string]string{
		"clusterKind": "minikube", "registryKind": "minikube", "ingressClass": "nginx", "ingressNamespace": "ingress-nginx",
		"previewUrlTemplate": "http://preview.minikube.local/{launch}",
	})
	run, err := runPlatform(t, "dev", values, nil)
	require.NoError(t, err)
	cmd := run.mocks.Find(t, tCommand, "cluster")
	assert.Contains(t, cmd.Str("create"), "minikube start --profile apphub --kubernetes-version 'v1.34.1' --cpus 4 --memory 8g --addons ingress --addons registry")
	assert.Equal(t, "apphub", run.mocks.Find(t, tProvider, "k8s").Str("context"))
	assert.Equal(t, "localhost:5000", run.out(OutRegistryPullAddress))
	assert.Equal(t, "registry.kube-system.svc.cluster.local:80", run.out(OutRegistryPushAddress))
}

func arcValues(t *testing.T) (map[string]string, map[string]bool) {
	v := with(devValues(t), map[string]string{
		"arcGithubConfigUrl":         "https://github.com/acme",
		"arcGithubAppId":             "123456",
		"arcGithubAppInstallationId": "7890123",
		"arcGithubAppPrivateKey":     "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n",
		"arcMaxRunners":              "3",
	})
	return v, map[string]bool{"arcGithubAppId": true, "arcGithubAppInstallationId": true, "arcGithubAppPrivateKey": true}
}

func TestPlatformWithARC(t *testing.T) {
	values, secrets := arcValues(t)
	run, err := runPlatform(t, "dev", values, secrets)
	require.NoError(t, err)
	m := run.mocks
	set := m.Find(t, tRelease, "arc-runners")
	assert.Equal(t, "apphub-runners", set.Str("values.runnerScaleSetName"))
	assert.Equal(t, float64(1), set.Num("values.minRunners"))
	assert.Equal(t, float64(3), set.Num("values.maxRunners"))
	assert.Contains(t, set.Provider, "pulumi:providers:kubernetes::k8s", "ARC goes to the same cluster")
	sec := m.Find(t, tSecret, "arc-github-app")
	assert.True(t, sec.Secret("stringData.github_app_private_key"))
	assert.Equal(t, "123456", sec.Str("stringData.github_app_id"))
	assert.Equal(t, "apphub-runners", run.out(OutRunnerScaleSet))
	assert.Equal(t, "arc-systems", run.out(OutARCControllerNamespace), "what platform status checks")
	assert.Equal(t, "arc-runners", run.out(OutARCRunnersNamespace))
	assert.Equal(t, 1, run.out(OutARCMinRunners))
	assert.Equal(t, 3, run.out(OutARCMaxRunners))
}

func TestPlatformRejectsPartialARC(t *testing.T) {
	for _, missing := range []string{"arcGithubConfigUrl", "arcGithubAppId", "arcGithubAppInstallationId", "arcGithubAppPrivateKey"} {
		t.Run(missing, func(t *testing.T) {
			values, secrets := arcValues(t)
			delete(values, missing)
			_, err := ParsePlatformConfig(MapSource{Values: values, Secrets: secrets})
			require.Error(t, err)
			assert.Contains(t, err.Error(), missing+": is required when ARC is configured")
		})
	}
	values, secrets := arcValues(t)
	values["arcGithubAppId"] = "my-app"
	_, err := ParsePlatformConfig(MapSource{Values: values, Secrets: secrets})
	assert.ErrorContains(t, err, "arcGithubAppId: must be a positive number")
	assert.NotContains(t, err.Error(), "my-app", "secret values are not echoed")
}

func TestPlatformMissingToolsRegisterNothing(t *testing.T) {
	tests := []struct {
		name   string
		values map[string]string
		want   []string
	}{
		{"k3d", devValues(t), []string{`"k3d"`, `"docker"`}},
		{"minikube", with(devValues(t), map[string]string{"clusterKind": "minikube", "registryKind": "minikube"}), []string{`"minikube"`, `"kubectl"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testmocks.New()
			cfg := map[string]string{}
			for k, v := range tt.values {
				cfg["apphub:"+k] = v
			}
			err := m.Run(t, "apphub", "dev", cfg, nil, NewPlatformProgram(PlatformOptions{LookPath: noTools}))
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Contains(t, err.Error(), "not on PATH")
			assert.Zero(t, m.Count())
		})
	}
	// An existing cluster needs no local tools.
	prod, secrets := prodValues(t)
	cfg, err := ParsePlatformConfig(MapSource{Values: prod, Secrets: secrets})
	require.NoError(t, err)
	assert.NoError(t, cfg.CheckTools(noTools))
}
