package stacks

import (
	"crypto/tls"
	"crypto/x509"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	tStatefulSet = "kubernetes:apps/v1:StatefulSet"
	tRandomBytes = "random:index/randomBytes:RandomBytes"
)

func TestPlatformPersistentBuilder(t *testing.T) {
	values := devValues(t)
	values["builderReplicas"] = "2"
	values["builderStorageSize"] = "50Gi"
	values["builderCacheMaxSize"] = "30Gi"
	values["storageClass"] = "fast"
	run, err := runPlatform(t, "dev", values, nil)
	require.NoError(t, err)
	m := run.mocks

	sts := m.Find(t, tStatefulSet, "builder")
	assert.Equal(t, "apphub-builds", sts.Str("metadata.namespace"))
	assert.Equal(t, 2.0, sts.Num("spec.replicas"))
	assert.Equal(t, "Delete", sts.Str("spec.persistentVolumeClaimRetentionPolicy.whenDeleted"), "the cache goes with its builder")
	assert.Equal(t, "50Gi", sts.Str("spec.volumeClaimTemplates.0.spec.resources.requests.storage"))
	assert.Equal(t, "fast", sts.Str("spec.volumeClaimTemplates.0.spec.storageClassName"))
	args := sts.Strings("spec.template.spec.containers.0.args")
	// 30Gi = 32212 MB kept at most; GC also when under 5368 MB (a tenth of
	// 50Gi) is free; never below 3221 MB.
	assert.Equal(t, []string{"--oci-worker-gc-keepstorage", "3221,5368,32212"}, args[len(args)-2:])
	assert.Contains(t, args, "tcp://0.0.0.0:1234")
	assert.Equal(t, "Unconfined", sts.Str("spec.template.spec.containers.0.securityContext.seccompProfile.type"))
	assert.Equal(t, []string{"buildctl", "debug", "workers"}, sts.Strings("spec.template.spec.containers.0.readinessProbe.exec.command"))
	assert.Equal(t, []string{"chown", "1000:1000", "/state"}, sts.Strings("spec.template.spec.initContainers.0.command"))
	assert.Equal(t, []string{"CHOWN"}, sts.Strings("spec.template.spec.initContainers.0.securityContext.capabilities.add"))
	assert.Equal(t, map[string]any{"cpu": "2", "memory": "4Gi"}, sts.Plain("spec.template.spec.containers.0.resources.limits"))
	for _, dep := range []string{m.Find(t, tNamespace, "builds").URN, m.Find(t, tQuota, "builds-quota").URN, m.Find(t, tLimitRange, "builds-limits").URN} {
		assert.Contains(t, sts.Dependencies, dep, "the namespace and its limits come first")
	}

	np := m.Find(t, tNetworkPolicy, "builder")
	assert.Equal(t, []any{map[string]any{
		"from":  []any{map[string]any{"podSelector": map[string]any{"matchExpressions": []any{map[string]any{"key": "apphub.io/build", "operator": "Exists"}}}}},
		"ports": []any{map[string]any{"port": 1234.0, "protocol": "TCP"}},
	}}, np.Plain("spec.ingress"), "only build Job pods of the build namespace reach the daemon")

	// Both sides' Secrets are Pulumi secrets, and their certificates make a
	// working mutual TLS pair for the Service's name.
	pair := func(name string) (tls.Certificate, *x509.CertPool) {
		sec := m.Find(t, tSecret, "builder-"+name+"-certs")
		assert.True(t, sec.Secret("stringData"), "%s keys stay Pulumi secrets", name)
		data := sec.Plain("stringData").(map[string]any)
		cert, err := tls.X509KeyPair([]byte(data["cert.pem"].(string)), []byte(data["key.pem"].(string)))
		require.NoError(t, err)
		pool := x509.NewCertPool()
		require.True(t, pool.AppendCertsFromPEM([]byte(data["ca.pem"].(string))))
		return cert, pool
	}
	server, pool := pair("server")
	client, _ := pair("client")
	leaf, err := x509.ParseCertificate(server.Certificate[0])
	require.NoError(t, err)
	_, err = leaf.Verify(x509.VerifyOptions{DNSName: "apphub-buildkitd.apphub-builds.svc", Roots: pool})
	require.NoError(t, err, "the address build Jobs dial matches the server certificate")
	cleaf, err := x509.ParseCertificate(client.Certificate[0])
	require.NoError(t, err)
	_, err = cleaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	require.NoError(t, err)
	_, err = leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	assert.Error(t, err, "the server's certificate cannot act as a client")

	// The same seed gives the same files: an update changes nothing.
	again, err := runPlatform(t, "dev", values, nil)
	require.NoError(t, err)
	assert.Equal(t, m.Find(t, tSecret, "builder-client-certs").Plain("stringData"),
		again.mocks.Find(t, tSecret, "builder-client-certs").Plain("stringData"))
}

func TestPlatformEphemeralBuilder(t *testing.T) {
	values := devValues(t)
	values["builderMode"] = "ephemeral"
	run, err := runPlatform(t, "dev", values, nil)
	require.NoError(t, err)
	for _, typ := range []string{tStatefulSet, tNetworkPolicy, tSecret, tRandomBytes} {
		assert.Empty(t, run.mocks.ByType(typ), "%s: nothing long-running in ephemeral mode", typ)
	}
	assert.NotContains(t, run.outputs, OutBuilderAddress)
	assert.NotContains(t, run.outputs, OutBuilderClientSecret)
}

func TestBuilderConfigRefusals(t *testing.T) {
	tests := []struct {
		name   string
		values map[string]string
		want   map[string]string
	}{
		{"unknown mode", map[string]string{"builderMode": "shared"}, map[string]string{"builderMode": "must be one of"}},
		{"too many replicas", map[string]string{"builderReplicas": "6"}, map[string]string{"builderReplicas": "between 1 and 5"}},
		{"cache above the volume", map[string]string{"builderStorageSize": "10Gi", "builderCacheMaxSize": "11Gi"},
			map[string]string{"builderCacheMaxSize": "must not exceed builderStorageSize"}},
		{"cache too small", map[string]string{"builderStorageSize": "1Gi"}, map[string]string{"builderCacheMaxSize": "at least 1 GB"}},
		{"bad size", map[string]string{"builderStorageSize": "lots"}, map[string]string{"builderStorageSize": ""}},
		{"request above limit", map[string]string{"builderMemoryRequest": "5Gi"}, map[string]string{"builderMemoryRequest": ""}},
		{"limit above the LimitRange", map[string]string{"builderCpuLimit": "3"}, map[string]string{"builderCpuLimit": "containerMaxCpu"}},
		{"replicas beyond the build quota", map[string]string{"builderReplicas": "3"},
			map[string]string{"builderMemoryLimit": "4Gi × builderReplicas 3 = 12Gi must not exceed buildQuotaMemoryLimit (8Gi)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			values := devValues(t)
			for k, v := range tt.values {
				values[k] = v
			}
			run, err := runPlatform(t, "dev", values, nil)
			require.Error(t, err)
			for field, msg := range tt.want {
				assert.Contains(t, err.Error(), field)
				assert.Contains(t, err.Error(), msg)
			}
			assert.Zero(t, run.mocks.Count(), "nothing is created")
		})
	}
	// Ephemeral mode ignores the persistent builder's settings.
	values := devValues(t)
	values["builderMode"], values["builderReplicas"] = "ephemeral", "9"
	_, err := runPlatform(t, "dev", values, nil)
	require.NoError(t, err)
}
