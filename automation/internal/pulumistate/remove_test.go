package pulumistate

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func checkpointWith(resources string) []byte {
	return []byte(`{"version":3,"checkpoint":{"stack":"organization/p/s","latest":{"manifest":{},"resources":[` + resources + `]}}}`)
}

const rootStack = `{"urn":"urn:pulumi:s::p::pulumi:pulumi:Stack::p-s","type":"pulumi:pulumi:Stack"}`

func TestRemoveStackOnlyWhenTheFilesShowItIsSafe(t *testing.T) {
	withDeployment := rootStack + `,{"urn":"urn:pulumi:s::p::kubernetes:apps/v1:Deployment::web","type":"kubernetes:apps/v1:Deployment"}`
	tests := []struct {
		name       string
		meta       string
		checkpoint []byte
		lock       bool
		removed    bool
	}{
		{"emptied by its destroy", "1", checkpointWith(rootStack), false, true},
		{"never had resources", "1", checkpointWith(""), false, true},
		{"resources left: the CLI refuses, and so do we", "1", checkpointWith(withDeployment), false, false},
		{"a Pulumi lock is held", "1", checkpointWith(rootStack), true, false},
		{"legacy layout", "", checkpointWith(rootStack), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := backendDir(t, tt.meta, map[string][]byte{"s.json": tt.checkpoint, "s.pulumi-tags": []byte("{}")})
			history := filepath.Join(dir, ".pulumi", "history", "p", "s")
			require.NoError(t, os.MkdirAll(history, 0o700))
			require.NoError(t, os.WriteFile(filepath.Join(history, "s-1.history.json"), []byte("{}"), 0o600))
			if tt.lock {
				locks := filepath.Join(dir, ".pulumi", "locks", "organization", "p", "s")
				require.NoError(t, os.MkdirAll(locks, 0o700))
				require.NoError(t, os.WriteFile(filepath.Join(locks, "l.json"), []byte("{}"), 0o600))
			}
			removed, err := New(dir).RemoveStack("p", "s")
			require.NoError(t, err)
			assert.Equal(t, tt.removed, removed)
			stack := filepath.Join(dir, ".pulumi", "stacks", "p", "s")
			_, jsonErr := os.Stat(stack + ".json")
			_, historyErr := os.Stat(history)
			_, tagsErr := os.Stat(stack + ".pulumi-tags")
			if !tt.removed {
				assert.NoError(t, jsonErr, "nothing touched")
				assert.NoError(t, historyErr)
				assert.NoError(t, tagsErr)
				return
			}
			assert.ErrorIs(t, jsonErr, os.ErrNotExist)
			assert.ErrorIs(t, historyErr, os.ErrNotExist)
			assert.ErrorIs(t, tagsErr, os.ErrNotExist)
			bak, err := os.ReadFile(stack + ".json.bak")
			require.NoError(t, err)
			assert.Equal(t, tt.checkpoint, bak, "the checkpoint is kept as the CLI keeps it")
			exists, known := New(dir).Exists("p", "s")
			assert.True(t, known)
			assert.False(t, exists)
		})
	}
}

func TestRemoveStackWithoutAFileBackend(t *testing.T) {
	removed, err := New("").RemoveStack("p", "s")
	assert.NoError(t, err)
	assert.False(t, removed)
}
