package components

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/internal/testing/testmocks"
)

const (
	tPDB = "kubernetes:policy/v1:PodDisruptionBudget"
)

func secretString(v string) pulumi.StringInput {
	return pulumi.ToSecret(pulumi.String(v)).(pulumi.StringOutput)
}

// apiArgs is one replica without a database, then mod.
func apiArgs(mod func(*APIServiceArgs)) *APIServiceArgs {
	a := &APIServiceArgs{
		Namespace: ExistingNamespace("apphub-system"), Name: "apphub-api", Image: "ghcr.io/acme/apphubctl:v1.2.0",
		Replicas: 1, MaxConcurrent: 4, ServiceAccount: "apphub-deployer", CatalogNamespace: "apphub-catalog",
		Token: secretString("tok"), Passphrase: secretString("pass"),
		Resources: ContainerResources{CPURequest: "250m", MemoryRequest: "512Mi", CPULimit: "2", MemoryLimit: "2Gi"},
		StateSize: "5Gi",
	}
	if mod != nil {
		mod(a)
	}
	return a
}

func runAPI(t *testing.T, args *APIServiceArgs) (*testmocks.Mocks, error) {
	t.Helper()
	return run(t, func(ctx *pulumi.Context) error {
		svc, err := NewAPIService(ctx, "api", args)
		if err != nil {
			return err
		}
		assert.Equal(t, "http://"+args.Name+".apphub-system.svc.cluster.local", await(t, ctx, svc.URL).Value)
		return nil
	})
}

func TestAPIServiceRejectsBadArgs(t *testing.T) {
	tests := []struct {
		name string
		args *APIServiceArgs
		want string
	}{
		{"nil", nil, "args are required"},
		{"no namespace", apiArgs(func(a *APIServiceArgs) { a.Namespace = NamespaceRef{} }), "namespace reference"},
		{"bad name", apiArgs(func(a *APIServiceArgs) { a.Name = "API_Service" }), `name "API_Service"`},
		{"empty name", apiArgs(func(a *APIServiceArgs) { a.Name = "" }), `name ""`},
		{"bad service account", apiArgs(func(a *APIServiceArgs) { a.ServiceAccount = "Deployer" }), `service account "Deployer"`},
		{"bad catalog namespace", apiArgs(func(a *APIServiceArgs) { a.CatalogNamespace = "-catalog" }), `catalog namespace "-catalog"`},
		{"no image", apiArgs(func(a *APIServiceArgs) { a.Image = "" }), "image is required"},
		{"zero replicas", apiArgs(func(a *APIServiceArgs) { a.Replicas = 0 }), "must be positive"},
		{"zero concurrency", apiArgs(func(a *APIServiceArgs) { a.MaxConcurrent = 0 }), "must be positive"},
		{"two replicas without a database", apiArgs(func(a *APIServiceArgs) { a.Replicas = 2 }), "2 replicas need a database URL"},
		{"no token", apiArgs(func(a *APIServiceArgs) { a.Token = nil }), "token and passphrase are required"},
		{"no passphrase", apiArgs(func(a *APIServiceArgs) { a.Passphrase = nil }), "token and passphrase are required"},
		{"webhook url without secret", apiArgs(func(a *APIServiceArgs) { a.WebhookURL = "https://catalog.example.com/hooks" }), "go together"},
		{"webhook secret without url", apiArgs(func(a *APIServiceArgs) { a.WebhookSecret = secretString("wh") }), "go together"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := run(t, func(ctx *pulumi.Context) error {
				_, err := NewAPIService(ctx, "api", tt.args)
				return err
			})
			require.Error(t, err)
			assert.Contains(t, err.Error(), `api service "api"`)
			assert.Contains(t, err.Error(), tt.want)
			assert.Zero(t, m.Count(), "nothing may be registered: %v", m.Resources())
		})
	}
}

func TestAPIServiceSingleReplicaOnVolume(t *testing.T) {
	m, err := runAPI(t, apiArgs(func(a *APIServiceArgs) { a.StorageClass = "local-path" }))
	require.NoError(t, err)
	for _, token := range []string{tSecret, tPVC, tDeployment, tService, tPDB, tNetworkPolicy} {
		for _, r := range m.ByType(token) {
			assertParent(t, r, APIServiceType, "api")
			assert.Equal(t, "apphub-system", r.Str("metadata.namespace"), "%s %s", r.Type, r.Name)
			assert.Equal(t, map[string]any{
				LabelManagedBy: ManagedBy, LabelPartOf: PartOf, LabelName: "apphub-api", LabelComponent: "api",
			}, r.Plain("metadata.labels"), "%s %s", r.Type, r.Name)
		}
	}
	sec := m.Find(t, tSecret, "api")
	assert.Equal(t, "apphub-api", sec.Str("metadata.name"))
	assert.True(t, sec.Secret("stringData"))
	assert.Equal(t, map[string]any{"token": "tok", "passphrase": "pass"}, sec.Plain("stringData"), "no database URL, no webhook secret")
	assert.Subset(t, sec.AdditionalSecrets, []string{"data", "stringData"})

	pvc := m.Find(t, tPVC, "api-state")
	assert.Equal(t, "apphub-api-state", pvc.Str("metadata.name"))
	assert.Equal(t, map[string]any{
		"accessModes": []any{"ReadWriteOnce"}, "storageClassName": "local-path",
		"resources": map[string]any{"requests": map[string]any{"storage": "5Gi"}},
	}, pvc.Plain("spec"))

	dep := m.Find(t, tDeployment, "api")
	assert.Equal(t, "Recreate", dep.Str("spec.strategy.type"))
	assert.False(t, dep.Has("spec.strategy.rollingUpdate"))
	assert.Equal(t, float64(1), dep.Num("spec.replicas"))
	assert.Equal(t, "apphub-api-state", dep.Str("spec.template.spec.volumes.0.persistentVolumeClaim.claimName"))
	assert.Subset(t, dep.Dependencies, []string{sec.URN, pvc.URN}, "the pods wait for their config and volume")
	assert.Equal(t, []string{"HOME", "PULUMI_HOME", "PULUMI_SKIP_UPDATE_CHECK", "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION", "PULUMI_CONFIG_PASSPHRASE", "APPHUB_PLATFORM_NAMESPACE"},
		envNames(dep), "no APPHUB_DATABASE_URL without a database")
	assert.False(t, dep.Has("spec.template.spec.imagePullSecrets"))
}

func envNames(dep testmocks.Resource) []string {
	var out []string
	for _, e := range dep.Plain("spec.template.spec.containers.0.env").([]any) {
		out = append(out, e.(map[string]any)["name"].(string))
	}
	return out
}

func TestAPIServicePodSpec(t *testing.T) {
	m, err := runAPI(t, apiArgs(nil))
	require.NoError(t, err)
	dep := m.Find(t, tDeployment, "api")
	pod := "spec.template.spec."
	assert.Equal(t, "apphub-deployer", dep.Str(pod+"serviceAccountName"))
	automount, _ := dep.Bool(pod + "automountServiceAccountToken")
	assert.True(t, automount, "serve talks to the API server as the deployer")
	links, _ := dep.Bool(pod + "enableServiceLinks")
	assert.False(t, links)
	assert.Equal(t, map[string]any{
		"runAsNonRoot": true, "runAsUser": float64(65532), "runAsGroup": float64(65532), "fsGroup": float64(65532),
		"seccompProfile": map[string]any{"type": "RuntimeDefault"},
	}, dep.Plain(pod+"securityContext"))
	restricted := map[string]any{
		"allowPrivilegeEscalation": false, "runAsNonRoot": true, "readOnlyRootFilesystem": true,
		"capabilities": map[string]any{"drop": []any{"ALL"}}, "seccompProfile": map[string]any{"type": "RuntimeDefault"},
	}
	assert.Equal(t, restricted, dep.Plain(pod+"containers.0.securityContext"))
	assert.Equal(t, restricted, dep.Plain(pod+"initContainers.0.securityContext"))
	assert.Equal(t, []string{"ln", "-sfn", "/opt/pulumi-home/plugins", "/var/lib/pulumi-home/plugins"}, dep.Strings(pod+"initContainers.0.command"))

	c := pod + "containers.0."
	assert.Equal(t, []string{
		"serve", "--addr", ":8080", "--state-dir", "/var/lib/apphub",
		"--token-file", "/etc/apphub/secrets/token",
		"--skip-plugin-install", "--max-concurrent", "4", "--output", "json",
	}, dep.Strings(c+"args"))
	assert.Equal(t, map[string]any{"name": "http", "containerPort": float64(8080), "protocol": "TCP"}, dep.Plain(c+"ports.0"))
	assert.Equal(t, "/readyz", dep.Str(c+"readinessProbe.httpGet.path"))
	assert.Equal(t, "/healthz", dep.Str(c+"livenessProbe.httpGet.path"))
	assert.Equal(t, float64(6), dep.Num(c+"livenessProbe.failureThreshold"), "a short database outage does not restart every replica")
	assert.Equal(t, map[string]any{"cpu": "250m", "memory": "512Mi"}, dep.Plain(c+"resources.requests"))
	assert.Equal(t, map[string]any{"cpu": "2", "memory": "2Gi"}, dep.Plain(c+"resources.limits"))
	mounts := map[string]any{}
	for _, vm := range dep.Plain(c + "volumeMounts").([]any) {
		vm := vm.(map[string]any)
		mounts[vm["mountPath"].(string)] = vm["readOnly"]
	}
	assert.Equal(t, map[string]any{
		"/var/lib/apphub": false, "/var/lib/pulumi-home": false, "/tmp": false,
		"/etc/apphub/secrets": true,
	}, mounts, "writable paths are volumes, config is read-only")
	assert.Equal(t, map[string]any{"secretName": "apphub-api", "items": []any{map[string]any{"key": "token", "path": "token"}}},
		dep.Plain(pod+"volumes.3.secret"), "only the token is a file; the passphrase is an env var")
	assert.Contains(t, dep.Plain(c+"env"), map[string]any{"name": "APPHUB_PLATFORM_NAMESPACE",
		"valueFrom": map[string]any{"fieldRef": map[string]any{"fieldPath": "metadata.namespace"}}},
		"the service finds the platform's ConfigMap in its own namespace")
}

func TestAPIServiceWithDatabaseAndWebhook(t *testing.T) {
	m, err := runAPI(t, apiArgs(func(a *APIServiceArgs) {
		a.Replicas = 3
		a.DatabaseURL = secretString("postgres://apphub:pw@db:5432/apphub")
		a.WebhookURL = "https://catalog.example.com/hooks"
		a.WebhookSecret = secretString("whsec")
		a.ImagePullSecret = "apphub-registry"
	}))
	require.NoError(t, err)
	assert.Empty(t, m.ByType(tPVC), "state lives in the database")
	sec := m.Find(t, tSecret, "api")
	assert.Equal(t, map[string]any{"token": "tok", "passphrase": "pass", "database-url": "postgres://apphub:pw@db:5432/apphub", "webhook-secret": "whsec"},
		sec.Plain("stringData"))
	assert.True(t, sec.Secret("stringData.database-url"))
	assert.True(t, sec.Secret("stringData.webhook-secret"))

	dep := m.Find(t, tDeployment, "api")
	pod := "spec.template.spec."
	assert.Equal(t, float64(3), dep.Num("spec.replicas"))
	assert.Equal(t, map[string]any{"type": "RollingUpdate", "rollingUpdate": map[string]any{"maxUnavailable": float64(0), "maxSurge": float64(1)}},
		dep.Plain("spec.strategy"))
	assert.Equal(t, map[string]any{}, dep.Plain(pod+"volumes.0.emptyDir"), "state is scratch space")
	assert.Equal(t, []any{
		map[string]any{"key": "token", "path": "token"},
		map[string]any{"key": "webhook-secret", "path": "webhook-secret"},
	}, dep.Plain(pod+"volumes.3.secret.items"))
	args := dep.Strings(pod + "containers.0.args")
	assert.Equal(t, []string{"--webhook-url", "https://catalog.example.com/hooks", "--webhook-secret-file", "/etc/apphub/secrets/webhook-secret"}, args[len(args)-4:])
	assert.NotContains(t, strings.Join(args, " "), "whsec", "the secret is read from a file, never on the command line")
	assert.Contains(t, dep.Plain(pod+"containers.0.env"), map[string]any{"name": "APPHUB_DATABASE_URL", "valueFrom": map[string]any{
		"secretKeyRef": map[string]any{"name": "apphub-api", "key": "database-url"},
	}})
	assert.Equal(t, []any{map[string]any{"name": "apphub-registry"}}, dep.Plain(pod+"imagePullSecrets"))
}

func TestAPIServiceServeArgs(t *testing.T) {
	a := apiArgs(func(a *APIServiceArgs) { a.MaxConcurrent = 8 })
	assert.NotContains(t, a.ServeArgs(), "--webhook-url")
	assert.Contains(t, strings.Join(a.ServeArgs(), " "), "--max-concurrent 8")
	a.WebhookURL = "http://catalog.apphub-catalog.svc/hooks"
	assert.Contains(t, strings.Join(a.ServeArgs(), " "), "--webhook-url http://catalog.apphub-catalog.svc/hooks --webhook-secret-file /etc/apphub/secrets/webhook-secret")
}

func TestAPIServiceServicePDBAndPolicy(t *testing.T) {
	m, err := runAPI(t, apiArgs(func(a *APIServiceArgs) { a.CatalogNamespace = "catalog" }))
	require.NoError(t, err)
	selector := map[string]any{LabelName: "apphub-api", LabelComponent: "api"}
	dep := m.Find(t, tDeployment, "api")
	assert.Equal(t, selector, dep.Plain("spec.selector.matchLabels"))

	svc := m.Find(t, tService, "api")
	assert.Equal(t, "ClusterIP", svc.Str("spec.type"))
	assert.Equal(t, selector, svc.Plain("spec.selector"))
	assert.Equal(t, []any{map[string]any{"name": "http", "port": float64(80), "targetPort": "http", "protocol": "TCP"}}, svc.Plain("spec.ports"))
	cfg := []string{m.Find(t, tSecret, "api").URN}
	assert.Subset(t, svc.Dependencies, cfg, "the Service waits with the Deployment for the config")

	pdb := m.Find(t, tPDB, "api")
	assert.Equal(t, map[string]any{"maxUnavailable": float64(1), "selector": map[string]any{"matchLabels": selector}}, pdb.Plain("spec"))

	np := m.Find(t, tNetworkPolicy, "api")
	assert.Equal(t, map[string]any{
		"podSelector": map[string]any{"matchLabels": selector},
		"policyTypes": []any{"Ingress"},
		"ingress": []any{map[string]any{
			"from":  []any{map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "catalog"}}}},
			"ports": []any{map[string]any{"protocol": "TCP", "port": float64(8080)}},
		}},
	}, np.Plain("spec"), "only the catalog namespace, only the API port; egress stays open")
}

func TestAPIServiceSecretEvenFromPlainInputs(t *testing.T) {
	m, err := runAPI(t, apiArgs(func(a *APIServiceArgs) {
		a.Token, a.Passphrase = pulumi.String("tok"), pulumi.String("pass")
		a.DatabaseURL = pulumi.String("postgres://apphub:pw@db:5432/apphub")
		a.WebhookURL, a.WebhookSecret = "https://catalog.example.com/hooks", pulumi.String("whsec")
	}))
	require.NoError(t, err)
	sec := m.Find(t, tSecret, "api")
	for _, key := range []string{"token", "passphrase", "database-url", "webhook-secret"} {
		assert.True(t, sec.Secret("stringData."+key), "%s stays a secret even if a caller passes it in plain text", key)
	}
	assert.False(t, m.Find(t, tDeployment, "api").Secret("spec"), "the pod spec only names the Secret")
}
