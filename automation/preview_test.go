//go:build clitest

package automation

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPreviewLifecycle(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, nil)
	ctx := t.Context()
	spec := PreviewSpec{Launch: "pr-1", Image: "registry.test/app:1", Env: map[string]string{"A": "1"}}

	start := time.Now()
	res, err := m.PreviewUp(ctx, spec)
	require.NoError(t, err)
	t.Logf("create: %.1fs", time.Since(start).Seconds())
	assert.Equal(t, StateReady, res.State)
	assert.Equal(t, "http://pr-1.preview.test", res.URL)
	assert.Equal(t, "apphub", res.Namespace)
	assert.Equal(t, "succeeded", res.LastUpdate.Result)
	assert.Equal(t, 2, res.LastUpdate.Changes["create"], "stack and stash created")

	got, err := m.PreviewGet(ctx, "pr-1")
	require.NoError(t, err)
	assert.Equal(t, StateReady, got.State)
	assert.Equal(t, res.URL, got.URL)
	assert.Equal(t, "update", got.LastUpdate.Kind)

	again, err := m.PreviewUp(ctx, spec)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"same": 2}, again.LastUpdate.Changes, "an identical request changes nothing")

	list, err := m.PreviewList(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, "pr-1", list[0].Launch)

	start = time.Now()
	gone, err := m.PreviewDestroy(ctx, "pr-1")
	require.NoError(t, err)
	t.Logf("destroy: %.1fs", time.Since(start).Seconds())
	assert.Equal(t, StateDestroyed, gone.State)
	assert.False(t, gone.AlreadyGone)

	_, err = m.PreviewGet(ctx, "pr-1")
	assert.True(t, IsNotFound(err), "got %v", err)
	again2, err := m.PreviewDestroy(ctx, "pr-1")
	require.NoError(t, err, "destroying a missing preview succeeds")
	assert.True(t, again2.AlreadyGone)
	list, err = m.PreviewList(ctx)
	require.NoError(t, err)
	assert.Empty(t, list)
}
