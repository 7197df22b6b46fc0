package components

import (
	"net/url"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func postgresArgs(mod func(*PostgresArgs)) *PostgresArgs {
	a := &PostgresArgs{
		Namespace:   ExistingNamespace("apphub-system"),
		ReleaseName: "apphub-api-postgresql",
		Chart:       ChartRef{Chart: "oci://registry-1.docker.io/bitnamicharts/postgresql", Version: "16.7.0"},
		Database:    "apphub", Username: "apphub",
		Persistence: true, PersistenceSize: "8Gi",
		TimeoutSeconds: 600,
	}
	if mod != nil {
		mod(a)
	}
	return a
}

const wantPostgresURL = "postgres://apphub:mock-password-postgres-password@apphub-api-postgresql.apphub-system.svc.cluster.local:5432/apphub?sslmode=disable"

func TestPostgresRelease(t *testing.T) {
	m, err := run(t, func(ctx *pulumi.Context) error {
		pg, err := NewPostgres(ctx, "postgres", postgresArgs(nil))
		if err != nil {
			return err
		}
		assert.Equal(t, "apphub-api-postgresql.apphub-system.svc.cluster.local", await(t, ctx, pg.Host).Value)
		u := await(t, ctx, pg.URL)
		assert.True(t, u.Secret, "the URL holds the password")
		assert.Equal(t, wantPostgresURL, u.Value)
		return nil
	})
	require.NoError(t, err)

	rel := m.Find(t, tRelease, "postgres")
	assertParent(t, rel, PostgresType, "postgres")
	assert.Equal(t, "apphub-api-postgresql", rel.Str("name"))
	assert.Equal(t, "apphub-system", rel.Str("namespace"))
	assert.Equal(t, "oci://registry-1.docker.io/bitnamicharts/postgresql", rel.Str("chart"))
	assert.Equal(t, "16.7.0", rel.Str("version"))
	assert.Equal(t, float64(600), rel.Num("timeout"))
	assert.Equal(t, float64(5), rel.Num("maxHistory"))
	for _, flag := range []string{"atomic", "cleanupOnFail"} {
		v, _ := rel.Bool(flag)
		assert.True(t, v, flag)
	}
	assert.Equal(t, map[string]any{
		"architecture": "standalone",
		"auth":         map[string]any{"username": "apphub", "database": "apphub", "existingSecret": "apphub-api-postgresql-auth"},
		"primary": map[string]any{
			"persistence": map[string]any{"enabled": true, "size": "8Gi"},
			"resources": map[string]any{
				"requests": map[string]any{"cpu": "250m", "memory": "256Mi"},
				"limits":   map[string]any{"cpu": "1", "memory": "1Gi"},
			},
		},
	}, rel.Plain("values"), "no password and no image override in the values")
	assert.False(t, rel.Secret("values"), "nothing secret went into the values")

	pws := m.ByType(tPassword)
	require.Len(t, pws, 2)
	for i, name := range []string{"postgres-admin-password", "postgres-password"} {
		assert.Equal(t, name, pws[i].Name)
		assert.Equal(t, float64(32), pws[i].Num("length"))
		special, _ := pws[i].Bool("special")
		assert.False(t, special, "alphanumeric: safe inside the URL")
		assertParent(t, pws[i], PostgresType, "postgres")
	}

	sec := m.Find(t, tSecret, "postgres-auth")
	assert.Equal(t, "apphub-api-postgresql-auth", sec.Str("metadata.name"))
	assert.Equal(t, "apphub-system", sec.Str("metadata.namespace"))
	assert.Equal(t, "database", sec.Str("metadata.labels[app.kubernetes.io/component]"))
	assert.Equal(t, "mock-password-postgres-password", sec.Str("stringData.password"))
	assert.Equal(t, "mock-password-postgres-admin-password", sec.Str("stringData.postgres-password"))
	assert.True(t, sec.Secret("stringData.password"))
	assert.True(t, sec.Secret("stringData.postgres-password"))
	assert.Subset(t, sec.AdditionalSecrets, []string{"data", "stringData"})
	assert.Contains(t, rel.Dependencies, sec.URN, "the release waits for its auth secret")
}

func TestPostgresOverrides(t *testing.T) {
	m, err := run(t, func(ctx *pulumi.Context) error {
		_, err := NewPostgres(ctx, "db", postgresArgs(func(a *PostgresArgs) {
			a.StorageClass = "standard-rwo"
			a.ImageRegistry, a.ImageRepository, a.ImageTag = "mirror.example.com", "bitnamilegacy/postgresql", "17.5.0"
		}))
		return err
	})
	require.NoError(t, err)
	rel := m.Find(t, tRelease, "db")
	assert.Equal(t, map[string]any{"enabled": true, "size": "8Gi", "storageClass": "standard-rwo"}, rel.Plain("values.primary.persistence"))
	assert.Equal(t, map[string]any{"registry": "mirror.example.com", "repository": "bitnamilegacy/postgresql", "tag": "17.5.0"}, rel.Plain("values.image"))
	allow, _ := rel.Bool("values.global.security.allowInsecureImages")
	assert.True(t, allow, "bitnami charts refuse a substituted image without it")
	m.Find(t, tPassword, "db-password")
	m.Find(t, tPassword, "db-admin-password")

	m, err = run(t, func(ctx *pulumi.Context) error {
		_, err := NewPostgres(ctx, "db", postgresArgs(func(a *PostgresArgs) { a.Persistence = false; a.StorageClass = "ignored" }))
		return err
	})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"enabled": false}, m.Find(t, tRelease, "db").Plain("values.primary.persistence"))
}

func TestPostgresRejectsBadArgs(t *testing.T) {
	tests := []struct {
		name string
		args *PostgresArgs
		want string
	}{
		{"nil", nil, "args are required"},
		{"release without postgresql", postgresArgs(func(a *PostgresArgs) { a.ReleaseName = "apphub-db" }), `release name "apphub-db" must contain "postgresql"`},
		{"no database", postgresArgs(func(a *PostgresArgs) { a.Database = "" }), "database and username are required"},
		{"no username", postgresArgs(func(a *PostgresArgs) { a.Username = "" }), "database and username are required"},
		{"no namespace", postgresArgs(func(a *PostgresArgs) { a.Namespace = NamespaceRef{} }), "namespace reference"},
		{"https chart", postgresArgs(func(a *PostgresArgs) { a.Chart.Chart = "https://charts.bitnami.com/bitnami/postgresql" }), "chart"},
		{"no version", postgresArgs(func(a *PostgresArgs) { a.Chart.Version = "" }), "version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := run(t, func(ctx *pulumi.Context) error {
				_, err := NewPostgres(ctx, "postgres", tt.args)
				return err
			})
			require.Error(t, err)
			assert.Contains(t, err.Error(), `postgres "postgres"`)
			assert.Contains(t, err.Error(), tt.want)
			assert.Zero(t, m.Count(), "nothing may be registered: %v", m.Resources())
		})
	}
}

func TestPostgresURL(t *testing.T) {
	tests := []struct {
		name, user, password, host, database, want string
	}{
		{"generated password", "apphub", "mock-password-postgres-password", "apphub-api-postgresql.apphub-system.svc.cluster.local", "apphub", wantPostgresURL},
		{"plain", "u", "p", "db", "d", "postgres://u:p@db:5432/d?sslmode=disable"},
		{"reserved characters are escaped", "app user", "p@ss/w:rd?#", "db.ns.svc.cluster.local", "apphub",
			"postgres://app%20user:p%40ss%2Fw%3Ard%3F%23@db.ns.svc.cluster.local:5432/apphub?sslmode=disable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PostgresURL(tt.user, tt.password, tt.host, tt.database)
			assert.Equal(t, tt.want, got)
			u, err := url.Parse(got)
			require.NoError(t, err)
			pw, _ := u.User.Password()
			assert.Equal(t, tt.password, pw, "the password survives the round trip")
			assert.Equal(t, tt.user, u.User.Username())
			assert.Equal(t, tt.host+":5432", u.Host)
			assert.Equal(t, "/"+tt.database, u.Path)
			assert.Equal(t, "disable", u.Query().Get("sslmode"))
		})
	}
}
