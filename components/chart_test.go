package components

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestChartRefProblems(t *testing.T) {
	tests := []struct {
		name string
		ref  ChartRef
		want map[string]string // part -> substring of its problem
	}{
		{"oci with version", ChartRef{Chart: "oci://ghcr.io/a/b", Version: "0.14.2"}, nil},
		{"local archive", ChartRef{Chart: "../shared/pulumi/charts/redis-20.13.4.tgz"}, nil},
		{"local dir ignores version", ChartRef{Chart: "/charts/redis", Version: "garbage"}, nil},
		{"repository", ChartRef{Chart: "redis", Version: "20.13.4", Repository: "https://charts.example.com/stable"}, nil},
		{"empty", ChartRef{}, map[string]string{ChartPartChart: "is required"}},
		{"https chart", ChartRef{Chart: "https://charts.example.com/redis", Version: "1.0.0"}, map[string]string{ChartPartChart: "must be an oci://"}},
		{"bare name", ChartRef{Chart: "redis", Version: "1.0.0"}, map[string]string{ChartPartChart: "or a chart name with a repository"}},
		{"oci without host", ChartRef{Chart: "oci://", Version: "1.0.0"}, map[string]string{ChartPartChart: "oci://<registry>"}},
		{"oci without version", ChartRef{Chart: "oci://ghcr.io/a/b"}, map[string]string{ChartPartVersion: "is required"}},
		{"garbage version", ChartRef{Chart: "oci://ghcr.io/a/b", Version: "not-a-version"}, map[string]string{ChartPartVersion: `exact chart version such as 1.2.3, got "not-a-version"`}},
		{"range is not a pin", ChartRef{Chart: "oci://ghcr.io/a/b", Version: "^1.2"}, map[string]string{ChartPartVersion: "exact chart version"}},
		{"repository not a URL", ChartRef{Chart: "redis", Version: "1.0.0", Repository: "charts.example.com"}, map[string]string{ChartPartRepository: "http(s)://"}},
		{"repository with a path chart", ChartRef{Chart: "a/b", Version: "1.0.0", Repository: "https://c.example.com"}, map[string]string{ChartPartChart: "chart name in the repository"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.ref.Problems()
			require.Len(t, got, len(tt.want), "%v", got)
			for part, sub := range tt.want {
				assert.Contains(t, got[part], sub)
			}
			if tt.want == nil {
				assert.NoError(t, tt.ref.Err())
			} else {
				assert.Error(t, tt.ref.Err())
			}
		})
	}
}

func TestRedisChartFromRepository(t *testing.T) {
	m, err := run(t, func(ctx *pulumi.Context) error {
		_, err := NewRedis(ctx, "redis", redisArgs(func(a *RedisArgs) {
			a.Chart = ChartRef{Chart: "redis", Version: "20.13.4", Repository: "https://mirror.example.com/bitnami"}
		}))
		return err
	})
	require.NoError(t, err)
	rel := m.Find(t, tRelease, "redis")
	assert.Equal(t, "redis", rel.Str("chart"))
	assert.Equal(t, "20.13.4", rel.Str("version"))
	assert.Equal(t, "https://mirror.example.com/bitnami", rel.Str("repositoryOpts.repo"))
}
