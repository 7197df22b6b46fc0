package pulumistate

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const salt = "v1:aqdaxIFebxI=:v1:nLXa/KP79l9RSzZx:fpoIx3nQbsXq0hrfyLH+JZ9DXprfZQ=="

func TestCreateStackOnlyWhereTheFilesAllowIt(t *testing.T) {
	tests := []struct {
		name, meta, salt string
		existing         bool
		created          bool
	}{
		{"a new stack", "1", salt, false, true},
		{"no salt from this passphrase yet", "1", "", false, false},
		{"a salt of another kind", "1", "kms:xyz", false, false},
		{"the stack exists", "1", salt, true, false},
		{"legacy layout", "", salt, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string][]byte{}
			if tt.existing {
				files["s.json"] = checkpointWith(rootStack)
			}
			dir := backendDir(t, tt.meta, files)
			created, err := New(dir).CreateStack("p", "s", "v3.246.0", tt.salt, time.Unix(0, 0))
			require.NoError(t, err)
			assert.Equal(t, tt.created, created)
			file := filepath.Join(dir, ".pulumi", "stacks", "p", "s.json")
			if !tt.created {
				if !tt.existing {
					assert.NoFileExists(t, file)
				}
				return
			}
			exists, known := New(dir).Exists("p", "s")
			assert.True(t, exists && known)
			dep, err := New(dir).Deployment("p", "s")
			require.NoError(t, err)
			assert.Empty(t, dep.Resources)
			assert.Equal(t, "v3.246.0", dep.Manifest.Version)
			assert.Equal(t, "fdff24cbc2e581e4dbd46a7783ddc8b6da2118aafb9fc71776e6de461d7ee519", dep.Manifest.Magic)
			var state struct{ Salt string }
			require.NoError(t, json.Unmarshal(dep.SecretsProviders.State, &state))
			assert.Equal(t, salt, state.Salt)
			for _, f := range []string{file + ".attrs", file + ".bak", file + ".bak.attrs"} {
				_, err := os.Stat(f)
				assert.NoError(t, err, f)
			}
		})
	}
}
