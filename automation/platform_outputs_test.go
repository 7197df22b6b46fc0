package automation

import (
	"encoding/json"
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

func TestPlatformOutputsStayOutWithoutAFile(t *testing.T) {
	m := &Manager{opts: Options{Now: time.Now}}
	cfg := map[string]string{}
	require.NoError(t, m.withPlatformOutputs(t.Context(), cfg))
	assert.Empty(t, cfg, "the StackReference is used: nothing is added")
}
