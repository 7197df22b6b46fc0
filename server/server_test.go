//go:build clitest

package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/automation"
	"github.com/apphub/apphub-infra/internal/testing/testprograms"
	"github.com/apphub/apphub-infra/queue"
)

// The API is tested end to end: a real Manager driving the real Pulumi CLI
// on a file backend, with programs that need no provider plugin.

const token = "test-token-0123456789"

type env struct {
	state string
	m     *automation.Manager
	srv   *Server
	url   string
	stop  context.CancelFunc
	done  chan error
}

func newManager(t *testing.T, state, backend string) *automation.Manager {
	root, _ := filepath.Abs("..")
	_, err := os.Stat(filepath.Join(root, "bin", "pulumi"))
	require.NoError(t, err, "bin/pulumi is missing: build it with `make pulumi` (make test does)")
	m, err := automation.New(automation.Options{
		StateDir: state, BackendURL: backend, Passphrase: "p", PulumiRoot: root, ProjectDir: t.TempDir(),
		SkipPluginInstall: true, LaunchMode: automation.ModeKubernetes, BuildMode: automation.ModeKubernetes,
		PreviewProgram: testprograms.Preview, BuildProgram: testprograms.Build,
		KubeClient: testprograms.KubeClient(testprograms.PlatformCluster(testprograms.PlatformOutputs())),
	})
	require.NoError(t, err)
	return m
}

// start runs a server over state on a loopback port, with its queue and
// stacks in state (SQLite, file backend).
func start(t *testing.T, state string, grace time.Duration) *env {
	return startOn(t, state, "", "file://"+state, grace)
}

// startOn runs a server with the given queue database and stack backend.
func startOn(t *testing.T, state, database, backend string, grace time.Duration) *env {
	t.Helper()
	e := &env{state: state, done: make(chan error, 1)}
	e.m = newManager(t, state, backend)
	srv, err := New(context.Background(), e.m, Options{Token: token, StateDir: state, DatabaseURL: database, ShutdownGrace: grace,
		TakeoverAfter: 2 * time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	e.srv = srv
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	e.url = "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	e.stop = cancel
	go func() { e.done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-e.done })
	return e
}

func (e *env) do(t *testing.T, method, path string, body any, tok string) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		if s, ok := body.(string); ok {
			r = bytes.NewBufferString(s)
		} else {
			b, _ := json.Marshal(body)
			r = bytes.NewReader(b)
		}
	}
	req, err := http.NewRequest(method, e.url+path, r)
	require.NoError(t, err)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// wait polls an operation until it finishes.
func (e *env) wait(t *testing.T, id string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		code, op := e.do(t, "GET", "/v1/operations/"+id, nil, token)
		require.Equal(t, http.StatusOK, code)
		if s := op["status"]; s == queue.StatusSucceeded || s == queue.StatusFailed || s == queue.StatusCanceled {
			return op
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("operation %s did not finish", id)
	return nil
}

func TestAuthAndHealth(t *testing.T) {
	t.Parallel()
	e := start(t, t.TempDir(), time.Second)
	code, body := e.do(t, "GET", "/healthz", nil, "")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ok", body["status"])
	for _, tok := range []string{"", "wrong", token + "x"} {
		code, body = e.do(t, "GET", "/v1/previews", nil, tok)
		assert.Equal(t, http.StatusUnauthorized, code, "token %q", tok)
		assert.Equal(t, "unauthorized", body["kind"])
	}
	code, _ = e.do(t, "GET", "/v1/previews", nil, token)
	assert.Equal(t, http.StatusOK, code)
	code, _ = e.do(t, "GET", "/v1/operations/20261201T082152-0123456789abcdef", nil, token)
	assert.Equal(t, http.StatusNotFound, code)
	code, _ = e.do(t, "GET", "/v1/previews/missing", nil, token)
	assert.Equal(t, http.StatusNotFound, code)
	code, _ = e.do(t, "GET", "/v1/builds/missing", nil, token)
	assert.Equal(t, http.StatusNotFound, code)
	for _, dir := range []string{"apphub-preview/preview-missing", "apphub-build/build-missing"} {
		_, err := os.Stat(filepath.Join(e.m.Options().WorkDir, dir))
		assert.True(t, os.IsNotExist(err), "a lookup leaves no work directory: %s", dir)
	}
}

func TestPreviewAsyncLifecycle(t *testing.T) {
	t.Parallel()
	e := start(t, t.TempDir(), time.Second)
	code, op := e.do(t, "PUT", "/v1/previews/pr-7", map[string]any{"image": "registry.test/app:1"}, token)
	require.Equal(t, http.StatusAccepted, code, "%v", op)
	assert.Contains(t, []any{queue.StatusQueued, queue.StatusRunning}, op["status"])
	id := op["id"].(string)
	recorded, err := e.srv.Queue().Get(context.Background(), id)
	require.NoError(t, err)
	require.NotNil(t, recorded, "accepted means recorded")

	// Follow the events as NDJSON until the operation ends.
	req, _ := http.NewRequest("GET", e.url+"/v1/operations/"+id+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var lines []map[string]any
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var l map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &l))
		lines = append(lines, l)
	}
	resp.Body.Close()
	require.NotEmpty(t, lines)
	last := lines[len(lines)-1]
	assert.Equal(t, "operation", last["type"])
	assert.Equal(t, queue.StatusSucceeded, last["operation"].(map[string]any)["status"])
	sawResource := false
	for _, l := range lines {
		if l["type"] == "resource-done" {
			sawResource = true
		}
	}
	assert.True(t, sawResource, "engine events are streamed: %v", lines)

	done := e.wait(t, id)
	assert.Equal(t, "http://pr-7.preview.test", done["result"].(map[string]any)["url"])
	assert.NotEmpty(t, done["finishedAt"])

	code, got := e.do(t, "GET", "/v1/previews/pr-7", nil, token)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ready", got["preview"].(map[string]any)["state"])
	code, list := e.do(t, "GET", "/v1/previews", nil, token)
	require.Equal(t, http.StatusOK, code)
	assert.Len(t, list["previews"], 1)

	code, del := e.do(t, "DELETE", "/v1/previews/pr-7", nil, token)
	require.Equal(t, http.StatusAccepted, code)
	assert.Equal(t, queue.StatusSucceeded, e.wait(t, del["id"].(string))["status"])
	code, _ = e.do(t, "GET", "/v1/previews/pr-7", nil, token)
	assert.Equal(t, http.StatusNotFound, code)
	code, del = e.do(t, "DELETE", "/v1/previews/pr-7", nil, token)
	require.Equal(t, http.StatusAccepted, code)
	assert.Equal(t, true, e.wait(t, del["id"].(string))["result"].(map[string]any)["alreadyGone"])
}

func TestBadRequestsAndConflict(t *testing.T) {
	t.Parallel()
	e := start(t, t.TempDir(), time.Second)
	code, body := e.do(t, "PUT", "/v1/previews/Bad_Launch", map[string]any{"image": "registry.test/app:1"}, token)
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Equal(t, "launch", body["fields"].([]any)[0].(map[string]any)["field"])
	code, body = e.do(t, "PUT", "/v1/previews/ok", map[string]any{"image": "nginx", "port": 80}, token)
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Len(t, body["fields"], 2, "every field error at once: %v", body)
	code, _ = e.do(t, "PUT", "/v1/previews/ok", `{"image":"registry.test/app:1","imgae":"typo"}`, token)
	assert.Equal(t, http.StatusBadRequest, code, "unknown fields are rejected")
	code, _ = e.do(t, "PUT", "/v1/previews/ok", map[string]any{"launch": "other", "image": "registry.test/app:1"}, token)
	assert.Equal(t, http.StatusBadRequest, code)
	code, body = e.do(t, "POST", "/v1/builds", map[string]any{"id": "b1", "gitUrl": "git@github.com:a/b.git", "imageRepository": "apps/web", "imageTag": "1"}, token)
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Equal(t, "gitUrl", body["fields"].([]any)[0].(map[string]any)["field"])

	code, first := e.do(t, "PUT", "/v1/previews/slow", map[string]any{"image": "registry.test/app:1", "env": map[string]string{"TEST_SLEEP_MS": "3000"}}, token)
	require.Equal(t, http.StatusAccepted, code)
	code, body = e.do(t, "PUT", "/v1/previews/slow", map[string]any{"image": "registry.test/app:2"}, token)
	assert.Equal(t, http.StatusConflict, code)
	assert.Equal(t, first["id"], body["operation"].(map[string]any)["id"], "the conflict names the operation in the way")
	code, _ = e.do(t, "DELETE", "/v1/previews/slow", nil, token)
	assert.Equal(t, http.StatusConflict, code)
	assert.Equal(t, queue.StatusSucceeded, e.wait(t, first["id"].(string))["status"])
}

func TestBuildAsync(t *testing.T) {
	t.Parallel()
	e := start(t, t.TempDir(), time.Second)
	code, op := e.do(t, "POST", "/v1/builds", map[string]any{"id": "b-9", "gitUrl": "https://git.test/acme/web.git", "imageRepository": "apps/web", "imageTag": "abc"}, token)
	require.Equal(t, http.StatusAccepted, code, "%v", op)
	done := e.wait(t, op["id"].(string))
	assert.Equal(t, queue.StatusSucceeded, done["status"])
	code, got := e.do(t, "GET", "/v1/builds/b-9", nil, token)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "registry.test:5000/apps/web:abc", got["build"].(map[string]any)["image"])

	code, list := e.do(t, "GET", "/v1/builds", nil, token)
	require.Equal(t, http.StatusOK, code)
	require.Len(t, list["builds"], 1)
	assert.Equal(t, "b-9", list["builds"].([]any)[0].(map[string]any)["id"])
	code, del := e.do(t, "DELETE", "/v1/builds/b-9", nil, token)
	require.Equal(t, http.StatusAccepted, code, "%v", del)
	gone := e.wait(t, del["id"].(string))
	assert.Equal(t, queue.StatusSucceeded, gone["status"])
	assert.Equal(t, "destroyed", gone["result"].(map[string]any)["state"])
	code, _ = e.do(t, "GET", "/v1/builds/b-9", nil, token)
	assert.Equal(t, http.StatusNotFound, code, "the stack is removed from the backend")
	code, list = e.do(t, "GET", "/v1/builds", nil, token)
	require.Equal(t, http.StatusOK, code)
	assert.Empty(t, list["builds"])
	code, del = e.do(t, "DELETE", "/v1/builds/b-9", nil, token)
	require.Equal(t, http.StatusAccepted, code)
	assert.Equal(t, true, e.wait(t, del["id"].(string))["result"].(map[string]any)["alreadyGone"])
}

func TestRestartResumesAcceptedOperations(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	// A server that stops while an operation runs leaves it queued on disk.
	first := start(t, state, 100*time.Millisecond)
	code, op := first.do(t, "PUT", "/v1/previews/resume", map[string]any{"image": "registry.test/app:1", "env": map[string]string{"TEST_SLEEP_MS": "4000"}}, token)
	require.Equal(t, http.StatusAccepted, code)
	id := op["id"].(string)
	ctx := context.Background()
	require.Eventually(t, func() bool {
		o, _ := first.srv.Queue().Get(ctx, id)
		return o != nil && o.Status == queue.StatusRunning
	}, 20*time.Second, 50*time.Millisecond)
	first.stop()
	require.NoError(t, <-first.done)
	first.done <- nil // for the cleanup

	// Between the two runs, with no worker: the operation is back in the
	// queue, and a request accepted but never started (crash right after
	// the 202) joins it.
	idle, err := queue.Open(ctx, queue.Config{StateDir: state})
	require.NoError(t, err)
	onDisk, err := idle.Get(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, queue.StatusQueued, onDisk.Status, "interrupted by shutdown: back in the queue")
	crashed, err := idle.Enqueue(ctx, queue.KindBuildRun, "b-r", automation.BuildSpec{ID: "b-r", GitURL: "https://git.test/x.git", ImageRepository: "apps/x", ImageTag: "1"})
	require.NoError(t, err)
	idle.Close()

	second := start(t, state, time.Second)
	resumed := second.wait(t, id)
	assert.Equal(t, queue.StatusSucceeded, resumed["status"])
	assert.Equal(t, float64(2), resumed["attempts"], "run once before the restart, once after")
	assert.Equal(t, queue.StatusSucceeded, second.wait(t, crashed.ID)["status"])
	code, got := second.do(t, "GET", "/v1/previews/resume", nil, token)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ready", got["preview"].(map[string]any)["state"])
}
