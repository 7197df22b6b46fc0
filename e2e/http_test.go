//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/automation"
	"github.com/apphub/apphub-infra/queue"
	"github.com/apphub/apphub-infra/server"
)

const apiToken = "e2e-token-0123456789"

// api is the HTTP API on a loopback port over the tier's Manager.
type api struct{ url string }

func startAPI(t testing.TB, e *env, m *automation.Manager) *api {
	t.Helper()
	srv, err := server.New(t.Context(), m, server.Options{Token: apiToken, StateDir: t.TempDir(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return &api{url: "http://" + ln.Addr().String()}
}

func (a *api) do(t testing.TB, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.url+path, r)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+apiToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// wait polls an accepted operation until it finishes.
func (a *api) wait(t testing.TB, accepted map[string]any) map[string]any {
	t.Helper()
	id, _ := accepted["id"].(string)
	require.NotEmpty(t, id, "202 names the operation: %v", accepted)
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		code, op := a.do(t, http.MethodGet, "/v1/operations/"+id, nil)
		require.Equal(t, http.StatusOK, code)
		if s := op["status"]; s == queue.StatusSucceeded || s == queue.StatusFailed {
			return op
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("operation %s did not finish in 5 minutes", id)
	return nil
}

func previewOverHTTP(_ context.Context, t *testing.T, e *env, m *automation.Manager) {
	a := startAPI(t, e, m)
	const launch = "e2e-http"
	name := "preview-" + launch

	code, body := a.do(t, http.MethodPut, "/v1/previews/"+launch, map[string]any{"image": "registry.test/apps/web:1", "replicas": 1})
	require.Equal(t, http.StatusAccepted, code, "%v", body)
	op := a.wait(t, body)
	require.Equal(t, queue.StatusSucceeded, op["status"], "%v", op["reason"])
	assert.NotEmpty(t, op["events"], "engine events are attached to the operation")
	code, got := a.do(t, http.MethodGet, "/v1/previews/"+launch, nil)
	require.Equal(t, http.StatusOK, code)
	preview, _ := got["preview"].(map[string]any)
	assert.Equal(t, "http://"+launch+".preview.e2e.local", preview["url"], "%v", got)
	assert.Equal(t, automation.StateReady, preview["state"])
	assert.Equal(t, "1", kubectl(t, "get", "deploy", "-n", "apphub", name, "-o", "jsonpath={.status.readyReplicas}"))

	code, body = a.do(t, http.MethodPut, "/v1/previews/"+launch, map[string]any{"image": "registry.test/apps/web:2", "replicas": 1})
	require.Equal(t, http.StatusAccepted, code, "%v", body)
	require.Equal(t, queue.StatusSucceeded, a.wait(t, body)["status"])
	assert.Equal(t, "registry.test/apps/web:2", kubectl(t, "get", "deploy", "-n", "apphub", name, "-o", "jsonpath={.spec.template.spec.containers[0].image}"))

	// Above the platform's LimitRange: 400 naming the field, nothing queued.
	code, body = a.do(t, http.MethodPut, "/v1/previews/"+launch, map[string]any{"image": "registry.test/apps/web:3", "memoryLimit": "9Gi"})
	require.Equal(t, http.StatusBadRequest, code, "%v", body)
	fields, _ := body["fields"].([]any)
	require.Len(t, fields, 1, "%v", body)
	assert.Equal(t, "memoryLimit", fields[0].(map[string]any)["field"])
	assert.Equal(t, "registry.test/apps/web:2", kubectl(t, "get", "deploy", "-n", "apphub", name, "-o", "jsonpath={.spec.template.spec.containers[0].image}"),
		"the refused request changed nothing")

	code, body = a.do(t, http.MethodDelete, "/v1/previews/"+launch, nil)
	require.Equal(t, http.StatusAccepted, code, "%v", body)
	require.Equal(t, queue.StatusSucceeded, a.wait(t, body)["status"])
	assert.Empty(t, kubectl(t, "get", "deploy,svc,ingress,networkpolicy", "-n", "apphub", "-l", "apphub.io/launch="+launch, "-o", "name"))
	code, _ = a.do(t, http.MethodGet, "/v1/previews/"+launch, nil)
	assert.Equal(t, http.StatusNotFound, code)
}

// waitStream follows an accepted operation's event stream, which ends when
// the operation does, and returns the finished operation: no polling delay
// in what a benchmark times.
func (a *api) waitStream(t testing.TB, accepted map[string]any) map[string]any {
	t.Helper()
	id, _ := accepted["id"].(string)
	require.NotEmpty(t, id, "202 names the operation: %v", accepted)
	req, err := http.NewRequest(http.MethodGet, a.url+"/v1/operations/"+id+"/events", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+apiToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	code, op := a.do(t, http.MethodGet, "/v1/operations/"+id, nil)
	require.Equal(t, http.StatusOK, code)
	return op
}
