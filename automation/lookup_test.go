//go:build clitest

package automation

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/stacks"
)

// workDirs lists what is under the Manager's work directory for project.
func workDirs(t *testing.T, m *Manager, project string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(m.Options().WorkDir, project))
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestLookupsWriteNothing(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, nil)
	ctx := t.Context()
	lookups := func(t *testing.T) {
		t.Helper()
		_, err := m.PreviewGet(ctx, "nope")
		assert.True(t, IsNotFound(err), "got %v", err)
		_, err = m.BuildGet(ctx, "nope")
		assert.True(t, IsNotFound(err), "got %v", err)
		gone, err := m.PreviewDestroy(ctx, "nope")
		require.NoError(t, err)
		assert.True(t, gone.AlreadyGone)
	}

	// A backend nothing was written to yet: no stack, no CLI call needed.
	lookups(t)
	list, err := m.PreviewList(ctx)
	require.NoError(t, err)
	assert.Empty(t, list)
	assert.Empty(t, workDirs(t, m, stacks.PreviewProject), "no work directory for a lookup")
	assert.Empty(t, workDirs(t, m, stacks.BuildProject))
	_, err = os.Stat(filepath.Join(m.Options().StateDir, ".pulumi", "stacks", stacks.PreviewProject, "preview-nope.json"))
	assert.True(t, os.IsNotExist(err), "no stack")

	// With another preview deployed, lookups of unknown ids still leave
	// only that preview's work directory.
	_, err = m.PreviewUp(ctx, PreviewSpec{Launch: "real", Image: "registry.test/app:1"})
	require.NoError(t, err)
	lookups(t)
	list, err = m.PreviewList(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, []string{"preview-real"}, workDirs(t, m, stacks.PreviewProject))

	// A deployed stack whose work directory is gone is read without
	// recreating it.
	require.NoError(t, os.RemoveAll(filepath.Join(m.Options().WorkDir, stacks.PreviewProject, "preview-real")))
	got, err := m.PreviewGet(ctx, "real")
	require.NoError(t, err)
	assert.Equal(t, StateReady, got.State)
	assert.Empty(t, workDirs(t, m, stacks.PreviewProject))
}
