package stacks

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/components"
	"github.com/apphub/apphub-infra/internal/testing/testmocks"
	"github.com/apphub/apphub-infra/internal/validate"
)

const (
	tConfigMap = "kubernetes:core/v1:ConfigMap"
	tClaim     = "kubernetes:core/v1:PersistentVolumeClaim"
	tPDB       = "kubernetes:policy/v1:PodDisruptionBudget"
)

// Every secret value below contains svcSecretMark, so one assertion proves
// no error and no plain input ever repeats one.
const svcSecretMark = "s3cret"

// serviceSecretKeys are the service keys an operator sets with --secret.
var serviceSecretKeys = map[string]bool{
	"serviceToken": true, "servicePassphrase": true, "serviceDatabaseUrl": true, "serviceWebhookSecret": true,
}

// serviceValues is the dev stack with the API service turned on (one
// replica, no database) plus overrides ("\x00" deletes), and the secret
// keys with the keys in plain removed (set in plaintext).
func serviceValues(t testing.TB, overrides map[string]string, plain ...string) (map[string]string, map[string]bool) {
	values := with(devValues(t), with(map[string]string{
		"serviceEnabled":    "true",
		"serviceImage":      "ghcr.io/acme/apphubctl:v1.2.0",
		"serviceToken":      "token-0123456789-" + svcSecretMark,
		"servicePassphrase": "passphrase-" + svcSecretMark,
	}, overrides))
	secrets := map[string]bool{}
	for k := range serviceSecretKeys {
		secrets[k] = true
	}
	for _, k := range plain {
		delete(secrets, k)
	}
	return values, secrets
}

const svcExternalDB = "postgres://apphub:db-" + svcSecretMark + "@db.example.com:5432/apphub"

func TestServiceConfigRefusals(t *testing.T) {
	tests := []struct {
		name      string
		overrides map[string]string
		plain     []string
		want      []problem
	}{
		{"postgres while disabled", map[string]string{"serviceEnabled": "false", "servicePostgres": "true"}, nil,
			[]problem{{"servicePostgres", "applies only with serviceEnabled: true"}}},
		{"database url while disabled", map[string]string{"serviceEnabled": "false", "serviceDatabaseUrl": svcExternalDB}, nil,
			[]problem{{"serviceDatabaseUrl", "applies only with serviceEnabled: true"}}},
		{"no image", map[string]string{"serviceImage": "\x00"}, nil, []problem{{"serviceImage", "is required"}}},
		{"bad image", map[string]string{"serviceImage": "GHCR.io/Acme/CLI"}, nil, []problem{{"serviceImage", "must be an image reference"}}},
		{"no token", map[string]string{"serviceToken": "\x00"}, nil, []problem{{"serviceToken", "is required when serviceEnabled"}}},
		{"no passphrase", map[string]string{"servicePassphrase": "\x00"}, nil, []problem{{"servicePassphrase", "is required when serviceEnabled"}}},
		{"no image, token or passphrase", map[string]string{"serviceImage": "\x00", "serviceToken": "\x00", "servicePassphrase": "\x00"}, nil,
			[]problem{{"serviceImage", "is required"}, {"serviceToken", "is required"}, {"servicePassphrase", "is required"}}},
		{"replicas without database", map[string]string{"serviceReplicas": "3"}, nil,
			[]problem{{"serviceReplicas", "more than one replica needs a shared database"}}},
		{"replicas out of range", map[string]string{"serviceReplicas": "0"}, nil, []problem{{"serviceReplicas", "between 1 and 20, got 0"}}},
		{"concurrency out of range", map[string]string{"serviceMaxConcurrent": "65"}, nil, []problem{{"serviceMaxConcurrent", "between 1 and 64, got 65"}}},
		{"database url not postgres", map[string]string{"serviceDatabaseUrl": "mysql://apphub:db-" + svcSecretMark + "@db.example.com:3306/apphub"}, nil,
			[]problem{{"serviceDatabaseUrl", "must be postgres://user:password@host:5432/db"}}},
		{"database url without host", map[string]string{"serviceDatabaseUrl": "postgres:///apphub?password=" + svcSecretMark}, nil,
			[]problem{{"serviceDatabaseUrl", "must be postgres://"}}},
		{"database url and postgres", map[string]string{"serviceDatabaseUrl": svcExternalDB, "servicePostgres": "true"}, nil,
			[]problem{{"servicePostgres", "must be false when serviceDatabaseUrl names the database"}}},
		{"webhook url without secret", map[string]string{"serviceWebhookUrl": "https://catalog.example.com/hooks"}, nil,
			[]problem{{"serviceWebhookSecret", "is required with serviceWebhookUrl"}}},
		{"webhook secret without url", map[string]string{"serviceWebhookSecret": "wh-" + svcSecretMark}, nil,
			[]problem{{"serviceWebhookSecret", "is set but serviceWebhookUrl is not"}}},
		{"webhook url not http", map[string]string{"serviceWebhookUrl": "ftp://catalog.example.com", "serviceWebhookSecret": "wh-" + svcSecretMark}, nil,
			[]problem{{"serviceWebhookUrl", `must be an http(s) URL, got "ftp://catalog.example.com"`}}},
		{"cpu request above limit", map[string]string{"serviceCpuRequest": "4", "serviceCpuLimit": "2"}, nil,
			[]problem{{"serviceCpuRequest", "4 must not exceed serviceCpuLimit (2)"}}},
		{"memory request above limit", map[string]string{"serviceMemoryRequest": "4Gi"}, nil,
			[]problem{{"serviceMemoryRequest", "4Gi must not exceed serviceMemoryLimit (2Gi)"}}},
		{"bad memory limit", map[string]string{"serviceMemoryLimit": "lots"}, nil, []problem{{"serviceMemoryLimit", "must be a Kubernetes quantity"}}},
		{"bad state size", map[string]string{"serviceStateSize": "0"}, nil, []problem{{"serviceStateSize", "must be greater than zero"}}},
		{"bad catalog namespace", map[string]string{"catalogNamespace": "Catalog_NS"}, nil, []problem{{"catalogNamespace", "RFC 1123"}}},
		{"empty catalog namespace", map[string]string{"catalogNamespace": ""}, nil, []problem{{"catalogNamespace", "is required"}}},
		{"bad service name", map[string]string{"serviceName": "API"}, nil, []problem{{"serviceName", "RFC 1123"}}},
		{"service name without room for -platform", map[string]string{"serviceName": strings.Repeat("a", 55)}, nil,
			[]problem{{"serviceName", "must be at most 54 characters"}}},
		{"postgres chart without version", map[string]string{"servicePostgres": "true", "postgresChartVersion": ""}, nil,
			[]problem{{"postgresChartVersion", "is required"}}},
		{"postgres tag without repository", map[string]string{"servicePostgres": "true", "postgresImageRepository": "", "postgresImageTag": "16"}, nil,
			[]problem{{"postgresImageTag", "needs postgresImageRepository"}}},
		{"node selector while disabled", map[string]string{"serviceEnabled": "false", "serviceNodeSelector": `{"pool": "platform"}`}, nil,
			[]problem{{"serviceNodeSelector", "applies only with serviceEnabled: true"}}},
		{"node selector not an object", map[string]string{"serviceNodeSelector": `pool=platform`}, nil,
			[]problem{{"serviceNodeSelector", "must be a JSON object of node labels"}}},
		{"node selector bad label", map[string]string{"serviceNodeSelector": `{"Pool Name": "platform"}`}, nil,
			[]problem{{"serviceNodeSelector", `label "Pool Name"`}}},
		{"node selector bad value", map[string]string{"serviceNodeSelector": `{"pool": "a b"}`}, nil,
			[]problem{{"serviceNodeSelector", `value "a b"`}}},
		{"tolerations not an array", map[string]string{"serviceTolerations": `{"key": "pool"}`}, nil,
			[]problem{{"serviceTolerations", "must be a JSON array of tolerations"}}},
		{"toleration unknown field", map[string]string{"serviceTolerations": `[{"key": "pool", "efect": "NoSchedule"}]`}, nil,
			[]problem{{"serviceTolerations", `unknown field "efect"`}}},
		{"toleration bad operator", map[string]string{"serviceTolerations": `[{"key": "pool", "operator": "In"}]`}, nil,
			[]problem{{"serviceTolerations", `toleration 0: operator must be "Equal" or "Exists", got "In"`}}},
		{"toleration Equal without key", map[string]string{"serviceTolerations": `[{"operator": "Equal", "value": "x"}]`}, nil,
			[]problem{{"serviceTolerations", `needs a key`}}},
		{"toleration Exists with value", map[string]string{"serviceTolerations": `[{"key": "pool", "operator": "Exists", "value": "x"}]`}, nil,
			[]problem{{"serviceTolerations", `takes no value`}}},
		{"toleration bad effect", map[string]string{"serviceTolerations": `[{"key": "pool", "value": "x", "effect": "NoRun"}]`}, nil,
			[]problem{{"serviceTolerations", `effect must be`}}},
		{"toleration seconds without NoExecute", map[string]string{"serviceTolerations": `[{"key": "pool", "value": "x", "effect": "NoSchedule", "tolerationSeconds": 30}]`}, nil,
			[]problem{{"serviceTolerations", `tolerationSeconds applies only to effect "NoExecute"`}}},
		{"plaintext token", nil, []string{"serviceToken"}, []problem{{"serviceToken", "must be set as a secret"}}},
		{"plaintext passphrase", nil, []string{"servicePassphrase"}, []problem{{"servicePassphrase", "must be set as a secret"}}},
		{"plaintext database url", map[string]string{"serviceDatabaseUrl": svcExternalDB}, []string{"serviceDatabaseUrl"},
			[]problem{{"serviceDatabaseUrl", "must be set as a secret"}}},
		{"plaintext webhook secret", map[string]string{"serviceWebhookUrl": "https://catalog.example.com/hooks", "serviceWebhookSecret": "wh-" + svcSecretMark},
			[]string{"serviceWebhookSecret"}, []problem{{"serviceWebhookSecret", "must be set as a secret"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			values, secrets := serviceValues(t, tt.overrides, tt.plain...)
			assertRefused(t, values, secrets, tt.want)
		})
	}
}

// assertRefused checks that the config is refused with exactly the wanted
// fields, that no error repeats a secret, and that the program registers
// nothing.
func assertRefused(t *testing.T, values map[string]string, secrets map[string]bool, want []problem) {
	t.Helper()
	_, err := ParsePlatformConfig(MapSource{Values: values, Secrets: secrets})
	var errs validate.Errors
	require.True(t, errors.As(err, &errs), "want validate.Errors, got %v", err)
	got := map[string][]string{}
	for _, fe := range errs {
		got[fe.Field] = append(got[fe.Field], fe.Rule)
	}
	for _, w := range want {
		assert.Contains(t, strings.Join(got[w.field], " | "), w.rule, "field %q in %v", w.field, got)
	}
	assert.Len(t, got, len(want), "exactly the expected fields: %v", got)
	assert.NotContains(t, err.Error(), svcSecretMark, "a secret never appears in an error")

	cfg, secretKeys := testmocks.ProjectConfig("apphub", values, secrets)
	m := testmocks.New()
	err = m.Run(t, "apphub", "dev", cfg, secretKeys, NewPlatformProgram(PlatformOptions{LookPath: allTools}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "invalid config")
	assert.NotContains(t, err.Error(), svcSecretMark)
	assert.Zero(t, m.Count(), "no resource may be registered: %v", m.Resources())
}

func TestServiceConfigAccepted(t *testing.T) {
	tests := []struct {
		name      string
		overrides map[string]string
		replicas  int
		database  bool
	}{
		{"one replica on a volume", nil, 1, false},
		{"three replicas on in-cluster postgres", map[string]string{"serviceReplicas": "3", "servicePostgres": "true"}, 3, true},
		{"two replicas on an external database", map[string]string{"serviceReplicas": "2", "serviceDatabaseUrl": svcExternalDB}, 2, true},
		{"postgresql scheme", map[string]string{"serviceDatabaseUrl": "postgresql://apphub:" + svcSecretMark + "@db:5432/apphub"}, 1, true},
		{"signed webhooks", map[string]string{"serviceWebhookUrl": "https://catalog.example.com/hooks", "serviceWebhookSecret": "wh-" + svcSecretMark}, 1, false},
		{"bad state size is moot with a database", map[string]string{"serviceDatabaseUrl": svcExternalDB, "serviceStateSize": "lots"}, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			values, secrets := serviceValues(t, tt.overrides)
			cfg, err := ParsePlatformConfig(MapSource{Values: values, Secrets: secrets})
			require.NoError(t, err)
			assert.True(t, cfg.Service.Enabled)
			assert.Equal(t, tt.replicas, cfg.Service.Replicas)
			assert.Equal(t, tt.database, cfg.hasDatabase())
			assert.Equal(t, "apphub-api", cfg.Service.Name, "default name")
			assert.Equal(t, "apphub-catalog", cfg.Service.CatalogNamespace, "default catalog namespace")
			assert.Equal(t, "[secret]", cfg.Service.Token.String())
			assert.NotContains(t, fmtConfig(cfg), svcSecretMark, "a parsed config never prints a secret")
		})
	}
	// As a stack file holds it: secure values count as set, whatever they hold.
	values, secrets := serviceValues(t, map[string]string{"serviceDatabaseUrl": svcExternalDB, "serviceReplicas": "2"})
	assert.NoError(t, CheckPlatformValues(values, secrets))
	// Off by default: the dev stack runs no service and asks for nothing.
	cfg, err := ParsePlatformConfig(MapSource{Values: devValues(t)})
	require.NoError(t, err)
	assert.False(t, cfg.Service.Enabled)
}

// The service's pods go where serviceNodeSelector and serviceTolerations
// say, and nowhere in particular without them.
func TestServicePlacementRender(t *testing.T) {
	tests := []struct {
		name             string
		overrides        map[string]string
		selector, tolers any
	}{
		{"no placement", nil, nil, nil},
		{"a tainted pool", map[string]string{
			"serviceNodeSelector": `{"apphub.io/pool": "platform"}`,
			"serviceTolerations":  `[{"key": "apphub.io/pool", "operator": "Equal", "value": "platform", "effect": "NoSchedule"}, {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60}]`,
		}, map[string]any{"apphub.io/pool": "platform"}, []any{
			map[string]any{"key": "apphub.io/pool", "operator": "Equal", "value": "platform", "effect": "NoSchedule"},
			map[string]any{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": float64(60)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			values, secrets := serviceValues(t, tt.overrides)
			run, err := runPlatform(t, "dev", values, secrets)
			require.NoError(t, err)
			dep := run.mocks.Find(t, tDeployment, "api")
			assert.Equal(t, tt.selector, dep.Plain("spec.template.spec.nodeSelector"))
			assert.Equal(t, tt.tolers, dep.Plain("spec.template.spec.tolerations"))
		})
	}
}

func fmtConfig(cfg *PlatformConfig) string { return fmt.Sprintf("%+v %#v", *cfg, *cfg) }

// serviceRender is one platform render with the service on.
type serviceRender struct {
	name      string
	overrides map[string]string
	replicas  int
	// database is "", "external" or "postgres".
	database string
}

func TestPlatformServiceRender(t *testing.T) {
	for _, tt := range []serviceRender{
		{"external database", map[string]string{"serviceReplicas": "2", "serviceDatabaseUrl": svcExternalDB}, 2, "external"},
		{"in-cluster postgres", map[string]string{"serviceReplicas": "2", "servicePostgres": "true"}, 2, "postgres"},
		{"single replica on a volume", nil, 1, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			values, secrets := serviceValues(t, tt.overrides)
			run, err := runPlatform(t, "dev", values, secrets)
			require.NoError(t, err)
			assertServiceDeployment(t, run.mocks, tt)
			assertServiceSecret(t, run.mocks, tt)
			assertPlatformConfigMap(t, run.mocks)
			assertServiceNetwork(t, run.mocks)
			assertServiceDatabase(t, run.mocks, tt)
			assert.Equal(t, "http://apphub-api.apphub-system.svc.cluster.local", run.out(OutServiceURL))
			assert.Equal(t, tt.replicas, run.out(OutServiceReplicas), "what platform status checks")
			for _, r := range run.mocks.Resources() {
				if strings.HasPrefix(r.Type, "kubernetes:") {
					assert.Contains(t, r.Provider, "pulumi:providers:kubernetes::k8s", "%s %s must use the explicit provider", r.Type, r.Name)
				}
			}
		})
	}
}

func assertServiceDeployment(t *testing.T, m *testmocks.Mocks, tt serviceRender) {
	t.Helper()
	dep := m.Find(t, tDeployment, "api")
	assert.Contains(t, dep.Parent, components.APIServiceType+"::api")
	assert.Equal(t, "apphub-api", dep.Str("metadata.name"))
	assert.Equal(t, "apphub-system", dep.Str("metadata.namespace"))
	assert.Equal(t, float64(tt.replicas), dep.Num("spec.replicas"))
	if tt.database == "" {
		assert.Equal(t, map[string]any{"type": "Recreate"}, dep.Plain("spec.strategy"), "one replica on a RWO volume is replaced, never doubled")
	} else {
		assert.Equal(t, map[string]any{"type": "RollingUpdate", "rollingUpdate": map[string]any{"maxUnavailable": float64(0), "maxSurge": float64(1)}},
			dep.Plain("spec.strategy"))
	}
	pod := "spec.template.spec."
	assert.Equal(t, "apphub-deployer", dep.Str(pod+"serviceAccountName"))
	assert.False(t, dep.Has(pod+"imagePullSecrets"), "dev has no registry credentials")
	assert.Equal(t, true, dep.Plain(pod+"securityContext.runAsNonRoot"))
	c := pod + "containers.0."
	assert.Equal(t, "ghcr.io/acme/apphubctl:v1.2.0", dep.Str(c+"image"))
	args := dep.Strings(c + "args")
	assert.NotContains(t, args, "--platform-outputs-file", "the service reads the platform's ConfigMap")
	assert.Equal(t, "/etc/apphub/secrets/token", argAfter(args, "--token-file"))
	assert.Equal(t, "4", argAfter(args, "--max-concurrent"))
	assert.NotContains(t, args, "--webhook-url")
	for probe, path := range map[string]string{"readinessProbe": "/readyz", "livenessProbe": "/healthz"} {
		assert.Equal(t, map[string]any{"path": path, "port": "http"}, dep.Plain(c+probe+".httpGet"), probe)
	}
	for _, ctr := range []string{c, pod + "initContainers.0."} {
		assert.Equal(t, true, dep.Plain(ctr+"securityContext.readOnlyRootFilesystem"), ctr)
		assert.Equal(t, false, dep.Plain(ctr+"securityContext.allowPrivilegeEscalation"), ctr)
		assert.Equal(t, []string{"ALL"}, dep.Strings(ctr+"securityContext.capabilities.drop"), ctr)
	}
	env := envByName(dep, c+"env")
	assert.Equal(t, secretRef("PULUMI_CONFIG_PASSPHRASE", "apphub-api", "passphrase"), env["PULUMI_CONFIG_PASSPHRASE"])
	if tt.database == "" {
		assert.NotContains(t, env, "APPHUB_DATABASE_URL")
	} else {
		assert.Equal(t, secretRef("APPHUB_DATABASE_URL", "apphub-api", "database-url"), env["APPHUB_DATABASE_URL"])
	}
	for name, e := range env {
		assert.NotContains(t, fmt.Sprint(e["value"]), svcSecretMark, "env %s carries a secret in plain text", name)
	}
}

// argAfter is the value following flag on a command line.
func argAfter(args []string, flag string) string {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// envByName indexes a container's env list by variable name.
func envByName(r testmocks.Resource, path string) map[string]map[string]any {
	out := map[string]map[string]any{}
	list, _ := r.Plain(path).([]any)
	for _, e := range list {
		m := e.(map[string]any)
		out[m["name"].(string)] = m
	}
	return out
}

// secretRef is an env var read from a Secret's key.
func secretRef(env, secret, key string) map[string]any {
	return map[string]any{"name": env, "valueFrom": map[string]any{"secretKeyRef": map[string]any{"name": secret, "key": key}}}
}

func assertServiceSecret(t *testing.T, m *testmocks.Mocks, tt serviceRender) {
	t.Helper()
	sec := m.Find(t, tSecret, "api")
	assert.Equal(t, "apphub-api", sec.Str("metadata.name"))
	assert.Equal(t, "apphub-system", sec.Str("metadata.namespace"))
	assert.Equal(t, "Opaque", sec.Str("type"))
	assert.True(t, sec.Secret("stringData"), "the service's credentials are secret in state")
	assert.Subset(t, sec.AdditionalSecrets, []string{"data", "stringData"})
	assert.Equal(t, "token-0123456789-"+svcSecretMark, sec.Str("stringData.token"))
	assert.Equal(t, "passphrase-"+svcSecretMark, sec.Str("stringData.passphrase"))
	assert.Equal(t, tt.database != "", sec.Has("stringData.database-url"))
	assert.False(t, sec.Has("stringData.webhook-secret"))

	claim := m.Has(tClaim, "api-state")
	assert.Equal(t, tt.database == "", claim, "the state volume exists only without a database")
	dep := m.Find(t, tDeployment, "api")
	if claim {
		pvc := m.Find(t, tClaim, "api-state")
		assert.Equal(t, "apphub-api-state", pvc.Str("metadata.name"))
		assert.Equal(t, "5Gi", pvc.Str("spec.resources.requests.storage"))
		assert.Equal(t, []string{"ReadWriteOnce"}, pvc.Strings("spec.accessModes"))
		assert.Equal(t, "apphub-api-state", dep.Str("spec.template.spec.volumes.0.persistentVolumeClaim.claimName"))
		assert.Contains(t, dep.Dependencies, pvc.URN)
	} else {
		assert.True(t, dep.Has("spec.template.spec.volumes.0.emptyDir"), "state is scratch space with a database")
	}
	assert.Contains(t, dep.Dependencies, sec.URN, "the pods wait for their Secret")
}

// assertPlatformConfigMap checks the one copy of the platform that
// preview and build operations read: in the system namespace, no secret,
// no connection, readable as a preview stack's platformOutputs.
func assertPlatformConfigMap(t *testing.T, m *testmocks.Mocks) {
	t.Helper()
	cm := m.Find(t, tConfigMap, "platform-outputs")
	assert.Equal(t, PlatformConfigMap, cm.Str("metadata.name"))
	assert.Equal(t, "apphub-system", cm.Str("metadata.namespace"))
	raw := cm.Str("data[outputs.json]")
	assert.False(t, cm.Secret("data[outputs.json]"), "the ConfigMap holds no secret")
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(raw), &doc), raw)
	assert.Equal(t, "apphub", doc[OutNamespace])
	assert.Equal(t, "apphub-builds", doc[OutBuildNamespace])
	assert.Equal(t, "apphub-registry:5000", doc[OutRegistryPushAddress])
	assert.Equal(t, "http://{launch}.apphub.localhost", doc[OutPreviewURLTemplate])
	assert.Equal(t, float64(900), doc[OutBuildTimeoutSeconds])
	for _, k := range []string{OutKubeconfig, OutKubeContext, OutRedisURL, OutServiceURL} {
		assert.NotContains(t, doc, k, "the ConfigMap leaves out %s", k)
	}
	pv, err := PlatformFromJSON(raw)
	require.NoError(t, err, "previews and builds can read what the ConfigMap holds")
	assert.Equal(t, "apphub-preview", pv.PreviewServiceAccount)
	assert.Empty(t, pv.KubeContext, "every reader brings its own connection")
}

func assertServiceNetwork(t *testing.T, m *testmocks.Mocks) {
	t.Helper()
	selector := map[string]any{"app.kubernetes.io/name": "apphub-api", "app.kubernetes.io/component": "api"}
	svc := m.Find(t, tService, "api")
	assert.Equal(t, "apphub-system", svc.Str("metadata.namespace"))
	assert.Equal(t, selector, svc.Plain("spec.selector"))
	assert.Equal(t, []any{map[string]any{"name": "http", "port": float64(80), "targetPort": "http", "protocol": "TCP"}}, svc.Plain("spec.ports"))

	pdb := m.Find(t, tPDB, "api")
	assert.Equal(t, float64(1), pdb.Num("spec.maxUnavailable"))
	assert.Equal(t, selector, pdb.Plain("spec.selector.matchLabels"))

	np := m.Find(t, tNetworkPolicy, "api")
	assert.Equal(t, selector, np.Plain("spec.podSelector.matchLabels"))
	assert.Equal(t, []string{"Ingress"}, np.Strings("spec.policyTypes"))
	assert.Equal(t, []any{map[string]any{
		"from":  []any{map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "apphub-catalog"}}}},
		"ports": []any{map[string]any{"protocol": "TCP", "port": float64(8080)}},
	}}, np.Plain("spec.ingress"), "only the catalog's namespace reaches the API port")
}

func assertServiceDatabase(t *testing.T, m *testmocks.Mocks, tt serviceRender) {
	t.Helper()
	sec := m.Find(t, tSecret, "api")
	if tt.database != "postgres" {
		assert.False(t, m.Has(tRelease, "postgres"))
		assert.False(t, m.Has(tPassword, "postgres-password"))
		if tt.database == "external" {
			assert.Equal(t, svcExternalDB, sec.Str("stringData.database-url"))
		}
		return
	}
	rel := m.Find(t, tRelease, "postgres")
	assert.Equal(t, "apphub-api-postgresql", rel.Str("name"))
	assert.Equal(t, "apphub-system", rel.Str("namespace"))
	assert.Equal(t, "oci://registry-1.docker.io/bitnamicharts/postgresql", rel.Str("chart"))
	assert.Equal(t, "16.7.0", rel.Str("version"))
	assert.Equal(t, map[string]any{"username": "apphub", "database": "apphub", "existingSecret": "apphub-api-postgresql-auth"},
		rel.Plain("values.auth"), "passwords reach the chart through the Secret only")
	values, _ := json.Marshal(rel.Plain("values"))
	assert.NotContains(t, string(values), "mock-password", "no password in the release's values")
	assert.Equal(t, "bitnamilegacy/postgresql", rel.Str("values.image.repository"))

	auth := m.Find(t, tSecret, "postgres-auth")
	assert.Equal(t, "apphub-api-postgresql-auth", auth.Str("metadata.name"))
	assert.True(t, auth.Secret("stringData.password"))
	assert.True(t, auth.Secret("stringData.postgres-password"))
	assert.Contains(t, rel.Dependencies, auth.URN)

	want := components.PostgresURL("apphub", "mock-password-postgres-password", "apphub-api-postgresql.apphub-system.svc.cluster.local", "apphub")
	assert.Equal(t, "postgres://apphub:mock-password-postgres-password@apphub-api-postgresql.apphub-system.svc.cluster.local:5432/apphub?sslmode=disable", want)
	assert.Equal(t, want, sec.Str("stringData.database-url"))
	assert.True(t, sec.Secret("stringData.database-url"))
}

func TestPlatformServiceInProd(t *testing.T) {
	// Pulumi.prod.yaml runs the service: two replicas on in-cluster
	// PostgreSQL, images from a registry with credentials.
	values, secrets := prodValues(t)
	run, err := runPlatform(t, "prod", values, secrets)
	require.NoError(t, err)
	m := run.mocks

	pull := map[string]testmocks.Resource{}
	for _, s := range m.ByType(tSecret) {
		if s.Str("type") == "kubernetes.io/dockerconfigjson" {
			pull[s.Str("metadata.namespace")] = s
		}
	}
	assert.ElementsMatch(t, []string{"apphub", "apphub-builds", "apphub-system"}, namespacesOf(pull), "the service's namespace gets the pull secret too")
	sys := pull["apphub-system"]
	assert.Equal(t, "apphub-registry", sys.Str("metadata.name"))
	assert.True(t, sys.Secret("stringData[.dockerconfigjson]"))
	assert.Equal(t, "registry-credentials-system", sys.Name)

	dep := m.Find(t, tDeployment, "api")
	assert.Equal(t, []any{map[string]any{"name": "apphub-registry"}}, dep.Plain("spec.template.spec.imagePullSecrets"))
	assert.Equal(t, float64(2), dep.Num("spec.replicas"))
	assert.Equal(t, "RollingUpdate", dep.Str("spec.strategy.type"))
	assert.Empty(t, m.ByType(tClaim), "two replicas keep their state in PostgreSQL")
	rel := m.Find(t, tRelease, "postgres")
	assert.Equal(t, map[string]any{"enabled": true, "size": "20Gi", "storageClass": "standard-rwo"}, rel.Plain("values.primary.persistence"))
	assert.True(t, m.Find(t, tSecret, "api").Secret("stringData.database-url"))

	// Prod's Redis URL holds a password: the platform file must not carry it.
	cm := m.Find(t, tConfigMap, "platform-outputs")
	raw := cm.Str("data[outputs.json]")
	assert.False(t, cm.Secret("data[outputs.json]"))
	assert.NotContains(t, raw, "mock-password")
	assert.NotContains(t, raw, "apphub-prod", "no kube context")
	pv, err := PlatformFromJSON(raw)
	require.NoError(t, err)
	assert.Equal(t, "apphub-registry", pv.RegistrySecret)
	assert.Equal(t, "https://{launch}.preview.apphub.example.com", pv.URLTemplate.String())
	assert.Equal(t, "preview-wildcard-tls", pv.TLSSecret)
	assert.Equal(t, "http://apphub-api.apphub-system.svc.cluster.local", run.out(OutServiceURL))
}

func namespacesOf(m map[string]testmocks.Resource) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestPlatformFromJSON(t *testing.T) {
	tests := []struct {
		name  string
		edit  map[string]any // nil value deletes
		raw   string         // used instead of the outputs when set
		errs  []string
		check func(*testing.T, *PlatformValues)
	}{
		{name: "service platform file", check: func(t *testing.T, pv *PlatformValues) {
			assert.Equal(t, "apphub", pv.Namespace)
			assert.Equal(t, "apphub-builds", pv.BuildNamespace)
			assert.Equal(t, "http://{launch}.apphub.localhost", pv.URLTemplate.String())
			assert.Equal(t, 900, pv.BuildTimeoutSeconds)
			assert.True(t, pv.RegistryInsecure)
			assert.Nil(t, pv.kubeconfig)
		}},
		{name: "host template and scheme", edit: map[string]any{OutPreviewURLTemplate: nil, OutPreviewHostTemplate: "{launch}.preview.test", OutPreviewScheme: "https"},
			check: func(t *testing.T, pv *PlatformValues) {
				assert.Equal(t, "https://{launch}.preview.test", pv.URLTemplate.String())
			}},
		{name: "kubeconfig stays secret", edit: map[string]any{OutKubeconfig: "apiVersion: v1\n", OutRegistrySecret: "pull"},
			check: func(t *testing.T, pv *PlatformValues) {
				require.NotNil(t, pv.kubeconfig)
				assert.Equal(t, "pull", pv.RegistrySecret)
			}},
		{name: "array", raw: "[1]", errs: []string{"must be a JSON object"}},
		{name: "not JSON", raw: `{"namespace":`, errs: []string{"must be a JSON object"}},
		{name: "null", raw: "null", errs: []string{"must be a JSON object"}},
		{name: "string", raw: `"apphub"`, errs: []string{"must be a JSON object"}},
		{name: "empty object", raw: "{}", errs: []string{`platform stack "(outputs passed as config)" lacks outputs namespace, buildNamespace`, "builderImage"}},
		{name: "missing outputs", edit: map[string]any{OutNamespace: nil, OutIngressClass: nil},
			errs: []string{"lacks outputs namespace, ingressClass: deploy (or update) the platform first"}},
		{name: "empty namespace", edit: map[string]any{OutNamespace: ""}, errs: []string{"lacks outputs namespace:"}},
		{name: "timeout as a string", edit: map[string]any{OutBuildTimeoutSeconds: "900"}, errs: []string{"lacks outputs buildTimeoutSeconds"}},
		{name: "bad template", edit: map[string]any{OutPreviewURLTemplate: "http://preview.local"}, errs: []string{"preview URL template"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := tt.raw
			if raw == "" {
				raw = platformFileJSON(t, tt.edit)
			}
			pv, err := PlatformFromJSON(raw)
			if len(tt.errs) > 0 {
				require.Error(t, err)
				for _, e := range tt.errs {
					assert.Contains(t, err.Error(), e)
				}
				return
			}
			require.NoError(t, err)
			tt.check(t, pv)
		})
	}
}

// platformFileJSON is the dev platform's outputs as the service's platform
// file holds them (no connection, no Redis URL), edited (nil deletes).
func platformFileJSON(t *testing.T, edit map[string]any) string {
	t.Helper()
	outs := devPlatformOutputs()
	for _, k := range []string{OutKubeconfig, OutKubeContext, OutRedisURL} {
		delete(outs, k)
	}
	for k, v := range edit {
		if v == nil {
			delete(outs, k)
		} else {
			outs[k] = v
		}
	}
	b, err := json.Marshal(outs)
	require.NoError(t, err)
	return string(b)
}

func TestPreviewFromPlatformOutputs(t *testing.T) {
	// The SDK fills the provider's kubeconfig from $KUBECONFIG (CI sets it
	// for the cluster tier); the pod has none.
	t.Setenv("KUBECONFIG", "")
	require.NoError(t, os.Unsetenv("KUBECONFIG"))
	// The file the platform gives the service, for a platform whose
	// previews live in "launches".
	values, secrets := serviceValues(t, map[string]string{"namespace": "launches"})
	platform, err := runPlatform(t, "dev", values, secrets)
	require.NoError(t, err)
	outputs := platform.mocks.Find(t, tConfigMap, "platform-outputs").Str("data[outputs.json]")

	// No StackReference is answered: reading one would fail the run.
	m, err := runStack(t, PreviewProject, "preview-pr-42", previewValues(map[string]string{"platformOutputs": outputs}), nil, Preview)
	require.NoError(t, err)
	assert.Empty(t, m.ByType(tStackRef), "the outputs file replaces the StackReference")
	dep := m.Find(t, tDeployment, "preview")
	assert.Equal(t, "launches", dep.Str("metadata.namespace"), "namespace from the platform outputs")
	assert.Equal(t, "apphub-preview", dep.Str("spec.template.spec.serviceAccountName"))
	assert.Equal(t, "pr-42.apphub.localhost", m.Find(t, tIngress, "preview").Str("spec.rules.0.host"))
	prov := m.Find(t, tProvider, "k8s")
	assert.False(t, prov.Has("context"), "in the cluster the service's own identity is used")
	assert.False(t, prov.Has("kubeconfig"))
}

func TestBuildFromPlatformOutputs(t *testing.T) {
	m, out, err := runBuild(t, buildValues(map[string]string{"platformOutputs": platformFileJSON(t, nil)}), nil)
	require.NoError(t, err)
	assert.Empty(t, m.ByType(tStackRef))
	assert.Equal(t, "apphub-builds", m.Find(t, tJob, "build").Str("metadata.namespace"))
	assert.Equal(t, "apphub-registry:5000/apps/web:abc123", out[OutImage])
}

func TestPreviewRefusesPlatformOutputsThatAreNoObject(t *testing.T) {
	for _, raw := range []string{"[1]", "null", `{"namespace":`} {
		t.Run(raw, func(t *testing.T) {
			_, err := ParsePreviewConfig(MapSource{Values: previewValues(map[string]string{"platformOutputs": raw})})
			var errs validate.Errors
			require.True(t, errors.As(err, &errs), "%v", err)
			assert.Equal(t, []string{"platformOutputs"}, errs.Fields())
			assert.Contains(t, err.Error(), "platformOutputs: platform outputs must be a JSON object")

			m, err := runStack(t, PreviewProject, "preview-pr-42", previewValues(map[string]string{"platformOutputs": raw}), devPlatformOutputs(), Preview)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "invalid config")
			assert.Zero(t, m.Count(), "nothing may be registered, not even the platform reference")
		})
	}
}

// The platform outputs file must agree with the StackReference: the same
// values either way.
func TestPlatformOutputsFileMatchesStackReference(t *testing.T) {
	fromFile, err := PlatformFromJSON(platformFileJSON(t, nil))
	require.NoError(t, err)
	var fromRef *PlatformValues
	_, err = runStack(t, PreviewProject, "preview-pr-42", previewValues(nil), devPlatformOutputs(), func(ctx *pulumi.Context) error {
		var err error
		fromRef, err = LoadPlatform(ctx, "organization/apphub/dev", "")
		return err
	})
	require.NoError(t, err)
	require.NotNil(t, fromRef.kubeconfig, "the reference carries the connection")
	fromRef.kubeconfig, fromRef.KubeContext = nil, ""
	assert.Equal(t, fromRef, fromFile)
}

// What holds data is protected in prod (Pulumi.prod.yaml sets protect):
// the namespaces, the service's database and, with an in-cluster
// registry, its volume; nothing else, and nothing in dev.
func TestProtectionCoversWhatHoldsData(t *testing.T) {
	values, secrets := prodValues(t)
	require.Equal(t, "true", values["protect"], "Pulumi.prod.yaml protects by default")
	withRegistry := with(values, map[string]string{"registryKind": "in-cluster", "registryServer": "", "registryUsername": "", "registryPassword": ""})
	delete(secrets, "registryPassword")
	run, err := runPlatform(t, "prod", withRegistry, secrets)
	require.NoError(t, err)
	protected := map[string]bool{}
	for _, r := range run.mocks.Resources() {
		if r.Protect {
			protected[r.Type+" "+r.Name] = true
		}
	}
	for _, ns := range run.mocks.ByType(tNamespace) {
		assert.True(t, ns.Protect, "namespace %s", ns.Name)
	}
	var releases []string
	for _, rel := range run.mocks.ByType(tRelease) {
		if rel.Protect {
			releases = append(releases, rel.Name)
		}
	}
	assert.Equal(t, []string{"postgres"}, releases, "the database's release, not Redis's")
	assert.True(t, protected["kubernetes:core/v1:PersistentVolumeClaim registry"], "the registry's volume: %v", protected)
	assert.False(t, protected["kubernetes:apps/v1:Deployment registry"], "the registry's Deployment is replaceable")
	assert.False(t, protected["kubernetes:apps/v1:Deployment api"], "the service is replaceable")

	dev, err := runPlatform(t, "dev", devValues(t), nil)
	require.NoError(t, err)
	for _, r := range dev.mocks.Resources() {
		assert.False(t, r.Protect, "dev protects nothing: %s %s", r.Type, r.Name)
	}
}

// A stack names its platform one way: the outputs the Manager passes, or a
// fully qualified StackReference (a short name would resolve against the
// current user's organisation on Pulumi Cloud).
func TestPreviewPlatformSource(t *testing.T) {
	outputs := platformFileJSON(t, nil)
	tests := []struct {
		name   string
		values map[string]string
		field  string
		reason string
	}{
		{"both", map[string]string{"platformOutputs": outputs, "platformStack": devPlatformRef}, "platformStack", "not both"},
		{"a bare stack name", map[string]string{"platformStack": "dev"}, "platformStack", "fully qualified"},
		{"two parts", map[string]string{"platformStack": "apphub/dev"}, "platformStack", "<organization>/<project>/<stack>"},
		{"an empty part", map[string]string{"platformStack": "acme//dev"}, "platformStack", "fully qualified"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePreviewConfig(MapSource{Values: previewValues(tt.values)})
			var errs validate.Errors
			require.True(t, errors.As(err, &errs), "%v", err)
			assert.Equal(t, []string{tt.field}, errs.Fields())
			assert.Contains(t, err.Error(), tt.reason)
			_, err = ParseBuildConfig(MapSource{Values: buildValues(tt.values)})
			require.Error(t, err, "builds follow the same rule")
		})
	}
	t.Run("neither", func(t *testing.T) {
		m := platformMocks(devPlatformOutputs())
		cfg, _ := testmocks.ProjectConfig(PreviewProject, previewValues(nil), nil)
		err := m.Run(t, PreviewProject, "preview-pr-42", cfg, nil, Preview)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "platformOutputs or platformStack")
		assert.Zero(t, m.Count(), "nothing registered")
	})
	t.Run("another organisation's platform", func(t *testing.T) {
		m := platformMocks(nil)
		m.StackOutputs["acme/apphub/prod"] = devPlatformOutputs()
		cfg, _ := testmocks.ProjectConfig(PreviewProject, previewValues(map[string]string{"platformStack": "acme/apphub/prod"}), nil)
		require.NoError(t, m.Run(t, PreviewProject, "preview-pr-42", cfg, nil, Preview))
		assert.Equal(t, "acme/apphub/prod", m.Find(t, tStackRef, "acme/apphub/prod").Name)
	})
}

// The platform refuses a service token apphubctl serve would refuse, at
// pulumi up instead of when the pods start.
func TestServiceTokenIsAToken(t *testing.T) {
	for token, rule := range map[string]string{"short": "at least 16 characters", "0123456789 abcdefgh": "visible ASCII"} {
		values, secrets := serviceValues(t, map[string]string{"serviceToken": token})
		_, err := runPlatform(t, "dev", values, secrets)
		require.Error(t, err, token)
		assert.Contains(t, err.Error(), "serviceToken", token)
		assert.Contains(t, err.Error(), rule, token)
	}
}
