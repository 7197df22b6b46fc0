//go:build clitest

package server

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/internal/testing/pgtest"
	"github.com/apphub/apphub-infra/queue"
)

func TestCancelRunningPreviewLeavesTheStackUsable(t *testing.T) {
	t.Parallel()
	e := start(t, t.TempDir(), time.Second)
	code, op := e.do(t, "PUT", "/v1/previews/cancel-me", map[string]any{"image": "registry.test/app:1", "env": map[string]string{"TEST_SLEEP_MS": "20000"}}, token)
	require.Equal(t, http.StatusAccepted, code, "%v", op)
	id := op["id"].(string)
	// The program runs (inside its sleep) once the engine's event for the
	// root stack resource is recorded.
	require.Eventually(t, func() bool {
		evs, _, _ := e.srv.Queue().Events(context.Background(), id, 0)
		for _, ev := range evs {
			if ev.Type == "resource-start" && ev.Resource == "pulumi:pulumi:Stack" {
				return true
			}
		}
		return false
	}, 30*time.Second, 50*time.Millisecond)
	code, body := e.do(t, "DELETE", "/v1/operations/"+id, nil, token)
	require.Equal(t, http.StatusAccepted, code, "%v", body)
	done := e.wait(t, id)
	assert.Equal(t, queue.StatusCanceled, done["status"])
	assert.Equal(t, "canceled by request", done["reason"])
	code, body = e.do(t, "DELETE", "/v1/operations/"+id, nil, token)
	assert.Equal(t, http.StatusConflict, code, "a finished operation cannot be canceled: %v", body)

	code, next := e.do(t, "PUT", "/v1/previews/cancel-me", map[string]any{"image": "registry.test/app:2"}, token)
	require.Equal(t, http.StatusAccepted, code, "%v", next)
	assert.Equal(t, queue.StatusSucceeded, e.wait(t, next["id"].(string))["status"], "the next operation on the stack succeeds")
	code, list := e.do(t, "GET", "/v1/operations?stack=preview-cancel-me", nil, token)
	require.Equal(t, http.StatusOK, code)
	require.Len(t, list["operations"], 2)
	assert.Equal(t, next["id"], list["operations"].([]any)[0].(map[string]any)["id"], "newest first")
}

// Two replicas on separate hosts' state dirs share one PostgreSQL: the
// queue and, through Pulumi's DIY postgres backend, the stacks.
func TestReplicasShareQueueAndStacksInPostgres(t *testing.T) {
	t.Parallel()
	pg := pgtest.Require(t)
	db, err := pg.NewDatabase(context.Background(), "server")
	require.NoError(t, err)
	a := startOn(t, filepath.Join(t.TempDir(), "a"), db, db, time.Second)
	b := startOn(t, filepath.Join(t.TempDir(), "b"), db, db, time.Second)

	code, op := a.do(t, "PUT", "/v1/previews/shared", map[string]any{"image": "registry.test/app:1", "env": map[string]string{"TEST_SLEEP_MS": "1500"}}, token)
	require.Equal(t, http.StatusAccepted, code, "%v", op)
	code, busy := b.do(t, "PUT", "/v1/previews/shared", map[string]any{"image": "registry.test/app:2"}, token)
	assert.Equal(t, http.StatusConflict, code, "one operation per stack, whichever replica is asked")
	assert.Equal(t, op["id"], busy["operation"].(map[string]any)["id"])
	assert.Equal(t, queue.StatusSucceeded, b.wait(t, op["id"].(string))["status"], "any replica reads any operation")

	code, got := b.do(t, "GET", "/v1/previews/shared", nil, token)
	require.Equal(t, http.StatusOK, code, "%v", got)
	assert.Equal(t, "ready", got["preview"].(map[string]any)["state"], "the stack is in the shared backend")
	code, upd := b.do(t, "PUT", "/v1/previews/shared", map[string]any{"image": "registry.test/app:2"}, token)
	require.Equal(t, http.StatusAccepted, code, "%v", upd)
	assert.Equal(t, queue.StatusSucceeded, a.wait(t, upd["id"].(string))["status"], "updated from the replica that did not create it")
	code, del := a.do(t, "DELETE", "/v1/previews/shared", nil, token)
	require.Equal(t, http.StatusAccepted, code)
	assert.Equal(t, queue.StatusSucceeded, b.wait(t, del["id"].(string))["status"])
	code, list := b.do(t, "GET", "/v1/previews", nil, token)
	require.Equal(t, http.StatusOK, code)
	assert.Empty(t, list["previews"], "destroyed and removed from the backend")
}
