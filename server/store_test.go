package server

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTokenRequired(t *testing.T) {
	_, err := New(nil, Options{StateDir: t.TempDir()})
	assert.ErrorContains(t, err, "bearer token is required")
}

func TestStorePersistsAndRejectsBusyTargets(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ops")
	st, err := openStore(dir)
	require.NoError(t, err)
	op, err := st.create(KindPreviewUp, "pr-1", map[string]string{"image": "r/a:1"})
	require.NoError(t, err)
	assert.Equal(t, StatusQueued, op.Status)
	assert.Equal(t, "preview/pr-1", op.Target)

	_, err = st.create(KindPreviewDestroy, "pr-1", "pr-1")
	assert.ErrorIs(t, err, errBusy, "one unfinished operation per preview")
	_, err = st.create(KindBuildRun, "pr-1", map[string]string{})
	assert.NoError(t, err, "builds and previews are separate targets")

	reopened, err := openStore(dir)
	require.NoError(t, err)
	assert.Len(t, reopened.unfinished(), 2, "queued operations survive a restart")
	require.NoError(t, reopened.update(op.ID, func(o *Operation) { o.Status = StatusSucceeded }))
	_, err = reopened.create(KindPreviewDestroy, "pr-1", "pr-1")
	assert.NoError(t, err, "a finished operation no longer blocks its target")
	latest, ok := reopened.latest(KindPreviewDestroy, "pr-1")
	require.True(t, ok)
	assert.Equal(t, KindPreviewDestroy, latest.Kind)
}
