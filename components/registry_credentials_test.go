package components

import (
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRegistryCredentialsSecretPerNamespace(t *testing.T) {
	m, err := run(t, func(ctx *pulumi.Context) error {
		_, err := NewRegistryCredentials(ctx, "registry-creds", &RegistryCredentialsArgs{
			SecretName: "apphub-registry",
			Namespaces: []NamespaceRef{ExistingNamespace("apphub"), ExistingNamespace("apphub-builds")},
			Server:     "ghcr.io",
			Username:   pulumi.String("bot"),
			Password:   pulumi.ToSecret(pulumi.String("s3cret")).(pulumi.StringOutput),
		})
		return err
	})
	require.NoError(t, err)
	secrets := m.ByType(tSecret)
	require.Len(t, secrets, 2)
	for i, ns := range []string{"apphub", "apphub-builds"} {
		s := secrets[i]
		assert.Equal(t, "registry-creds-"+ns, s.Name)
		assert.Equal(t, ns, s.Str("metadata.namespace"))
		assert.Equal(t, "apphub-registry", s.Str("metadata.name"))
		assert.Equal(t, "kubernetes.io/dockerconfigjson", s.Str("type"))
		assert.True(t, s.Secret("stringData[.dockerconfigjson]"), "docker config must be a Pulumi secret")
		assertParent(t, s, RegistryCredentialsType, "registry-creds")

		var doc map[string]map[string]map[string]string
		require.NoError(t, json.Unmarshal([]byte(s.Str("stringData[.dockerconfigjson]")), &doc))
		entry := doc["auths"]["ghcr.io"]
		assert.Equal(t, "bot", entry["username"])
		assert.Equal(t, "s3cret", entry["password"])
		assert.Equal(t, base64.StdEncoding.EncodeToString([]byte("bot:s3cret")), entry["auth"])
	}
}

func TestRegistryCredentialsSecretEvenFromPlainPassword(t *testing.T) {
	m, err := run(t, func(ctx *pulumi.Context) error {
		_, err := NewRegistryCredentials(ctx, "creds", &RegistryCredentialsArgs{
			SecretName: "reg", Namespaces: []NamespaceRef{ExistingNamespace("ns")},
			Server: "registry.example.com", Username: pulumi.String("u"), Password: pulumi.String("p"),
		})
		return err
	})
	require.NoError(t, err)
	assert.True(t, m.Find(t, tSecret, "creds-ns").Secret("stringData[.dockerconfigjson]"))
}

func TestRegistryCredentialsRejectsMissingFields(t *testing.T) {
	for name, args := range map[string]*RegistryCredentialsArgs{
		"nil":           nil,
		"no password":   {SecretName: "reg", Server: "s", Username: pulumi.String("u"), Namespaces: []NamespaceRef{ExistingNamespace("ns")}},
		"no namespaces": {SecretName: "reg", Server: "s", Username: pulumi.String("u"), Password: pulumi.String("p")},
	} {
		t.Run(name, func(t *testing.T) {
			m, err := run(t, func(ctx *pulumi.Context) error {
				_, err := NewRegistryCredentials(ctx, "creds", args)
				return err
			})
			require.Error(t, err)
			assert.Zero(t, m.Count())
		})
	}
}
