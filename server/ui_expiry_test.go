package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/automation"
	"github.com/apphub/apphub-infra/queue"
)

func TestQueueUIIsBehindItsToken(t *testing.T) {
	srv, _ := uiServer(t)
	h := srv.Handler()
	tests := []struct {
		name, path, auth string
		want             int
	}{
		{"no credentials", "/ui/", "", http.StatusUnauthorized},
		{"the API token is not the UI's", "/ui/", "Bearer " + apiToken, http.StatusUnauthorized},
		{"wrong basic password", "/ui/", basic("admin", "nope"), http.StatusUnauthorized},
		{"bearer UI token", "/ui/", "Bearer ui-secret", http.StatusOK},
		{"basic UI token (a browser)", "/ui/", basic("admin", "ui-secret"), http.StatusOK},
		{"UI API", "/ui/api/jobs?state=available&limit=5", "Bearer ui-secret", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tt.path, nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			assert.Equal(t, tt.want, rec.Code, rec.Body.String())
			if tt.want == http.StatusUnauthorized {
				assert.Contains(t, rec.Header().Get("WWW-Authenticate"), "realm=")
			}
			if tt.path == "/ui/" && tt.want == http.StatusOK {
				assert.Contains(t, rec.Body.String(), "<html", "River's UI page")
			}
		})
	}
}

// uiServer is an idle server with the queue UI mounted behind the token
// "ui-secret"; ctx lives as long as the test.
func uiServer(t *testing.T) (*Server, context.Context) {
	t.Helper()
	srv := idleServer(t, func(o *Options) { o.UIToken = "ui-secret" })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	require.NoError(t, srv.startUI(ctx))
	return srv, ctx
}

func basic(user, pass string) string {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.SetBasicAuth(user, pass)
	return req.Header.Get("Authorization")
}

// expiringBackend lists three previews: old (expired), fresh, and busy
// (expired, but an operation is under way on it).
type expiringBackend struct {
	recordingBackend
	mu        sync.Mutex
	destroyed []string
}

func (b *expiringBackend) PreviewList(context.Context) ([]automation.PreviewListItem, error) {
	return []automation.PreviewListItem{{Launch: "old"}, {Launch: "fresh"}, {Launch: "busy"}}, nil
}

func (b *expiringBackend) PreviewGet(_ context.Context, launch string) (*automation.PreviewResult, error) {
	return &automation.PreviewResult{Launch: launch, ExpiresAt: "2026-01-01T00:00:00Z", Expired: launch != "fresh"}, nil
}

func (b *expiringBackend) PreviewDestroy(_ context.Context, launch string) (*automation.PreviewResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.destroyed = append(b.destroyed, launch)
	return &automation.PreviewResult{Launch: launch}, nil
}

func (b *expiringBackend) BuildList(context.Context) ([]automation.BuildListItem, error) {
	ago := func(d time.Duration) string { return time.Now().Add(-d).UTC().Format(time.RFC3339) }
	return []automation.BuildListItem{
		{ID: "b-old", LastUpdate: ago(26 * time.Hour)},
		{ID: "b-recent", LastUpdate: ago(time.Hour)},
		{ID: "b-running", LastUpdate: ago(48 * time.Hour), UpdateInProgress: true},
	}, nil
}

func (b *expiringBackend) BuildDestroy(_ context.Context, id string) (*automation.BuildResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.destroyed = append(b.destroyed, id)
	return &automation.BuildResult{ID: id}, nil
}

func TestExpiredPreviewsAreDestroyedByTheService(t *testing.T) {
	b := &expiringBackend{}
	srv, err := New(context.Background(), b, Options{Token: apiToken, StateDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	defer srv.Queue().Close()
	ctx := context.Background()
	_, err = srv.Queue().Enqueue(ctx, queue.KindPreviewUp, "busy", automation.PreviewSpec{Launch: "busy", Image: "r/a:1"})
	require.NoError(t, err)

	require.NoError(t, srv.expire(ctx))
	ops, err := srv.Queue().List(ctx, queue.Filter{Status: queue.StatusQueued})
	require.NoError(t, err)
	var targets []string
	for _, op := range ops {
		targets = append(targets, op.Kind+" "+op.Target)
	}
	assert.ElementsMatch(t, []string{"preview-destroy preview/old", "preview-up preview/busy", "build-destroy build/b-old"}, targets,
		"the expired preview gets a destroy; the fresh one nothing; the busy one waits for the next round; "+
			"a build past the default 25 h retention is destroyed, a recent or running one is not")

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	require.NoError(t, srv.Queue().Start(wctx))
	defer func() { _ = srv.Queue().Stop(time.Second) }()
	require.Eventually(t, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		got := append([]string(nil), b.destroyed...)
		sort.Strings(got)
		return strings.Join(got, ",") == "b-old,old"
	}, 2*time.Minute, 20*time.Millisecond) // a ceiling on a hang, not a timing gate
}

func TestBuildLogsAreServedAsText(t *testing.T) {
	srv, backend, _ := apiUnderTest(t)
	for _, tt := range []struct {
		path, want, contentType string
		code                    int
	}{
		{"/v1/builds/b-1/logs", "logs of b-1 (follow=false)\n", "text/plain; charset=utf-8", http.StatusOK},
		{"/v1/builds/b-1/logs?follow=true", "logs of b-1 (follow=true)\n", "text/plain; charset=utf-8", http.StatusOK},
		{"/v1/builds/b-gone/logs", `"kind":"not-found"`, "application/json", http.StatusNotFound},
	} {
		req := httptest.NewRequest(http.MethodGet, tt.path, nil)
		req.Header.Set("Authorization", "Bearer "+apiToken)
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		assert.Equal(t, tt.code, rec.Code, tt.path)
		assert.Equal(t, tt.contentType, rec.Header().Get("Content-Type"), tt.path)
		assert.Contains(t, rec.Body.String(), tt.want, tt.path)
	}
	assert.Equal(t, []string{"BuildLogs", "BuildLogs", "BuildLogs"}, backend.Calls())
}
