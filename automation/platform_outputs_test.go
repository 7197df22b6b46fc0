package automation

import (
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The in-cluster service reads the platform from a file; preview and build
// stacks then get the outputs as config instead of a StackReference.
func TestPlatformOutputsFromAFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "platform.json")
	require.NoError(t, os.WriteFile(good, []byte(`{"namespace":"apphub","buildJobTtlSeconds":3600}`), 0o600))
	broken := filepath.Join(dir, "broken.json")
	require.NoError(t, os.WriteFile(broken, []byte(`["apphub"]`), 0o600))

	tests := []struct {
		name, file string
		kind       ErrorKind
		want       map[string]any
	}{
		{"a JSON object", good, "", map[string]any{"namespace": "apphub", "buildJobTtlSeconds": float64(3600)}},
		{"missing", filepath.Join(dir, "absent.json"), KindNotFound, nil},
		{"not an object", broken, KindFailed, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// No CLI call is involved: a bare Manager with the option.
			m := &Manager{opts: Options{PlatformOutputsFile: tt.file, Now: time.Now}}
			cfg := map[string]string{"launch": "web-1"}
			err := m.withPlatformOutputs(t.Context(), cfg)
			if tt.kind != "" {
				require.Error(t, err)
				assert.Equal(t, tt.kind, KindOf(err))
				assert.Contains(t, err.Error(), tt.file, "the error names the file")
				assert.NotContains(t, cfg, "platformOutputs")
				return
			}
			require.NoError(t, err)
			var got map[string]any
			require.NoError(t, json.Unmarshal([]byte(cfg["platformOutputs"]), &got))
			assert.Equal(t, tt.want, got)
			assert.Equal(t, "web-1", cfg["launch"], "the rest of the config stays")
		})
	}
}

// Without a file, the outputs the Manager has cached travel as config
// only when that is safe in plaintext; otherwise the StackReference reads
// them.
func TestPlatformOutputsAsConfigOnlyWhenPlain(t *testing.T) {
	tests := []struct {
		name   string
		outs   map[string]any
		secret map[string]bool
		inline bool
	}{
		{"no secrets", map[string]any{"namespace": "apphub"}, nil, true},
		{"a kubeconfig path", map[string]any{"kubeconfig": "/etc/kube/config"}, map[string]bool{"kubeconfig": true}, true},
		{"kubeconfig contents", map[string]any{"kubeconfig": "apiVersion: v1\nkind: Config\nclusters: []\n"}, map[string]bool{"kubeconfig": true}, false},
		{"a Redis password", map[string]any{"redisUrl": "redis://:pw@redis:6379/0"}, map[string]bool{"redisUrl": true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Now()
			m := &Manager{opts: Options{Now: func() time.Time { return now }}, outs: tt.outs, outsSecret: tt.secret, outsAt: now}
			cfg := map[string]string{}
			require.NoError(t, m.withPlatformOutputs(t.Context(), cfg))
			if !tt.inline {
				assert.Empty(t, cfg, "the StackReference reads them: nothing secret in plain config")
				return
			}
			var got map[string]any
			require.NoError(t, json.Unmarshal([]byte(cfg["platformOutputs"]), &got))
			assert.Equal(t, tt.outs, got)
		})
	}
}

// A stale copy is answered at once and refreshed in the background; a
// refresh that started before the copy was dropped does not bring the old
// outputs back.
func TestPlatformOutputsRefreshInTheBackground(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "platform.json")
	require.NoError(t, os.WriteFile(file, []byte(`{"namespace":"old"}`), 0o600))
	now := time.Now()
	clock := func() time.Time { return now }
	m := &Manager{opts: Options{PlatformOutputsFile: file, Now: clock, Logger: slog.New(slog.DiscardHandler)}}
	got, err := m.platformOutputs(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "old", got["namespace"])

	require.NoError(t, os.WriteFile(file, []byte(`{"namespace":"new"}`), 0o600))
	now = now.Add(platformOutputsTTL)
	got, err = m.platformOutputs(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "old", got["namespace"], "the stale copy, at once")
	require.Eventually(t, func() bool {
		got, _ := m.platformOutputs(t.Context())
		return got["namespace"] == "new"
	}, 5*time.Second, 10*time.Millisecond, "then the refreshed one")

	m.forgetPlatformOutputs()
	m.refreshPlatformOutputs(m.outsGen - 1) // a refresh from before the drop
	assert.Nil(t, m.outs, "a late refresh does not undo the drop")
}
