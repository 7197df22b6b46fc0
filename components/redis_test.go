package components

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func redisArgs(mod func(*RedisArgs)) *RedisArgs {
	a := &RedisArgs{
		Namespace:       ExistingNamespace("apphub-system"),
		ReleaseName:     "apphub-redis",
		Chart:           ChartRef{Chart: "oci://registry-1.docker.io/bitnamicharts/redis", Version: "20.13.4"},
		PersistenceSize: "8Gi",
		TimeoutSeconds:  600,
	}
	if mod != nil {
		mod(a)
	}
	return a
}

func TestRedisWithoutAuth(t *testing.T) {
	m, err := run(t, func(ctx *pulumi.Context) error {
		r, err := NewRedis(ctx, "redis", redisArgs(nil))
		if err != nil {
			return err
		}
		url := await(t, ctx, r.URL)
		assert.Equal(t, "redis://apphub-redis-master.apphub-system.svc.cluster.local:6379/0", url.Value)
		assert.False(t, url.Secret, "a URL without a password need not be secret")
		return nil
	})
	require.NoError(t, err)
	assert.Empty(t, m.ByType(tPassword))
	assert.Empty(t, m.ByType(tSecret))

	rel := m.Find(t, tRelease, "redis")
	assert.Equal(t, "apphub-redis", rel.Str("name"))
	assert.Equal(t, "apphub-system", rel.Str("namespace"))
	assert.Equal(t, "oci://registry-1.docker.io/bitnamicharts/redis", rel.Str("chart"))
	assert.Equal(t, "20.13.4", rel.Str("version"))
	assert.Equal(t, float64(600), rel.Num("timeout"))
	atomic, _ := rel.Bool("atomic")
	assert.True(t, atomic)
	assert.Equal(t, "standalone", rel.Str("values.architecture"))
	assert.Equal(t, map[string]any{"enabled": false}, rel.Plain("values.auth"))
	assert.Equal(t, map[string]any{"enabled": false}, rel.Plain("values.master.persistence"))
	assert.False(t, rel.Has("values.image"), "no override keeps the chart's image")
	assert.False(t, rel.Has("values.global"))
	assertParent(t, rel, RedisType, "redis")
}

func TestRedisWithAuthPersistenceAndImage(t *testing.T) {
	m, err := run(t, func(ctx *pulumi.Context) error {
		r, err := NewRedis(ctx, "redis", redisArgs(func(a *RedisArgs) {
			a.AuthEnabled = true
			a.Persistence = true
			a.StorageClass = "gp3"
			a.ImageRegistry = "docker.io"
			a.ImageRepository = "bitnamilegacy/redis"
			a.ImageTag = "7.4.2-debian-12-r0"
		}))
		if err != nil {
			return err
		}
		url := await(t, ctx, r.URL)
		assert.True(t, url.Secret, "REDIS_URL with a password must be secret")
		assert.Equal(t, "redis://:mock-password-redis-password@apphub-redis-master.apphub-system.svc.cluster.local:6379/0", url.Value)
		assert.True(t, await(t, ctx, r.Password).Secret)
		return nil
	})
	require.NoError(t, err)

	pw := m.Find(t, tPassword, "redis-password")
	assert.Equal(t, float64(32), pw.Num("length"))
	special, _ := pw.Bool("special")
	assert.False(t, special)

	sec := m.Find(t, tSecret, "redis-auth")
	assert.Equal(t, "apphub-redis-auth", sec.Str("metadata.name"))
	assert.Equal(t, "apphub-system", sec.Str("metadata.namespace"))
	assert.True(t, sec.Secret("stringData.redis-password"))
	assert.Equal(t, "mock-password-redis-password", sec.Str("stringData.redis-password"))

	rel := m.Find(t, tRelease, "redis")
	assert.Equal(t, map[string]any{
		"enabled": true, "existingSecret": "apphub-redis-auth", "existingSecretPasswordKey": "redis-password",
	}, rel.Plain("values.auth"), "the password reaches the chart through the Secret, never through values")
	assert.Equal(t, map[string]any{"enabled": true, "size": "8Gi", "storageClass": "gp3"}, rel.Plain("values.master.persistence"))
	assert.Equal(t, map[string]any{"registry": "docker.io", "repository": "bitnamilegacy/redis", "tag": "7.4.2-debian-12-r0"}, rel.Plain("values.image"))
	allow, _ := rel.Bool("values.global.security.allowInsecureImages")
	assert.True(t, allow)
	assert.Contains(t, rel.Dependencies, sec.URN, "the release must wait for its auth secret")
}

func TestRedisLocalChartHasNoVersion(t *testing.T) {
	m, err := run(t, func(ctx *pulumi.Context) error {
		_, err := NewRedis(ctx, "redis", redisArgs(func(a *RedisArgs) { a.Chart = ChartRef{Chart: "./charts/redis"} }))
		return err
	})
	require.NoError(t, err)
	rel := m.Find(t, tRelease, "redis")
	assert.Equal(t, "./charts/redis", rel.Str("chart"))
	assert.False(t, rel.Has("version"))
}

func TestRedisRejectsBadArgs(t *testing.T) {
	tests := map[string]*RedisArgs{
		"nil":            nil,
		"https chart":    redisArgs(func(a *RedisArgs) { a.Chart.Chart = "https://charts.bitnami.com/bitnami/redis" }),
		"no version":     redisArgs(func(a *RedisArgs) { a.Chart.Version = "" }),
		"release naming": redisArgs(func(a *RedisArgs) { a.ReleaseName = "queues" }),
	}
	for name, args := range tests {
		t.Run(name, func(t *testing.T) {
			m, err := run(t, func(ctx *pulumi.Context) error {
				_, err := NewRedis(ctx, "redis", args)
				return err
			})
			require.Error(t, err)
			assert.Zero(t, m.Count())
		})
	}
}
