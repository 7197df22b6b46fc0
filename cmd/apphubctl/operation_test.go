package main

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/queue"
)

func TestMigrateAndOperationCommandsOnTheQueue(t *testing.T) {
	noPulumi(t)
	state := t.TempDir()
	code, out, stderr := run("--state-dir", state, "-o", "json", "migrate")
	require.Equal(t, exitOK, code, stderr)
	assert.JSONEq(t, `{"migrated":true,"driver":"sqlite"}`, out)

	q, err := queue.Open(context.Background(), queue.Config{StateDir: state})
	require.NoError(t, err)
	op, err := q.Enqueue(context.Background(), queue.KindPreviewUp, "pr-9", map[string]string{"image": "r/a:1"})
	require.NoError(t, err)
	q.Close()

	code, out, stderr = run("--state-dir", state, "-o", "json", "operation", "list", "--stack", "preview-pr-9")
	require.Equal(t, exitOK, code, stderr)
	var list struct{ Operations []queue.Operation }
	require.NoError(t, json.Unmarshal([]byte(out), &list))
	require.Len(t, list.Operations, 1)
	assert.Equal(t, op.ID, list.Operations[0].ID)
	assert.Equal(t, "preview/pr-9", list.Operations[0].Target)

	code, out, _ = run("--state-dir", state, "-o", "json", "operation", "list", "--status", "running")
	require.Equal(t, exitOK, code)
	assert.JSONEq(t, `{"operations":[]}`, out)

	code, out, _ = run("--state-dir", state, "-o", "json", "operation", "cancel", op.ID)
	require.Equal(t, exitOK, code, out)
	var got queue.Operation
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, queue.StatusCanceled, got.Status)

	code, _, _ = run("--state-dir", state, "operation", "cancel", op.ID)
	assert.Equal(t, exitConflict, code, "already finished")
	code, out, _ = run("--state-dir", state, "-o", "json", "operation", "get", op.ID)
	require.Equal(t, exitOK, code)
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, "canceled by request", got.Reason)
	code, _, _ = run("--state-dir", state, "operation", "get", "20261201T082152-0123456789abcdef")
	assert.Equal(t, exitNotFound, code)
}
