package server

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every limit is set on the server the service runs.
func TestServerLimitsAreSet(t *testing.T) {
	srv := newHTTPServer(http.NotFoundHandler())
	assert.Equal(t, readHeaderTimeout, srv.ReadHeaderTimeout)
	assert.Equal(t, readTimeout, srv.ReadTimeout)
	assert.Equal(t, writeTimeout, srv.WriteTimeout)
	assert.Equal(t, idleTimeout, srv.IdleTimeout)
	assert.Equal(t, maxHeaderBytes, srv.MaxHeaderBytes)
	for _, d := range []time.Duration{srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout} {
		assert.Positive(t, d)
	}
}

// serveShort runs h behind newHTTPServer's settings with the time limits
// shortened, on loopback.
func serveShort(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := newHTTPServer(h)
	srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout = 200*time.Millisecond, 200*time.Millisecond, 200*time.Millisecond
	srv.ReadHeaderTimeout = 200 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// closedWithin reads conn until the server closes it; it fails the test if
// that takes longer than limit (a generous bound: the server's own limits
// are a fraction of it).
func closedWithin(t *testing.T, conn net.Conn, limit time.Duration) string {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(limit)))
	got, err := io.ReadAll(conn)
	require.NoError(t, err, "the server kept the connection open for %s", limit)
	return string(got)
}

// Slow or idle clients are cut off: a stalled header, a stalled body, an
// idle keep-alive. Without the limits each stays open for ever.
func TestSlowClientsAreCutOff(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	})
	addr := serveShort(t, h)
	tests := []struct{ name, send string }{
		{"stalled headers", "POST /v1/previews/x HTTP/1.1\r\nHost: a\r\n"},
		{"stalled chunked body", "POST /v1/previews/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"},
		{"stalled sized body", "POST /v1/previews/x HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n{\"a\":"},
		{"idle keep-alive", "GET /x HTTP/1.1\r\nHost: a\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			require.NoError(t, err)
			defer conn.Close()
			_, err = conn.Write([]byte(tt.send))
			require.NoError(t, err)
			closedWithin(t, conn, 10*time.Second)
		})
	}
}

// A request without the token is answered 401 at once, without the body
// being read or waited for, and the connection is closed.
func TestUnauthenticatedBodyIsNotRead(t *testing.T) {
	srv := idleServer(t, nil)
	addr := serveShort(t, srv.Handler())
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Write([]byte("PUT /v1/previews/pr-1 HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n{"))
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.True(t, resp.Close, "the server closes instead of draining a body nobody asked for")
}

// The event stream outlives the write timeout: the client's going away
// ends it, not the server's clock.
func TestTheEventStreamIsNotCutByTheWriteTimeout(t *testing.T) {
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stream" {
			liftWriteDeadline(w)
		}
		_, _ = io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		<-release
		_, _ = io.WriteString(w, "second\n")
	})
	addr := serveShort(t, h)
	read := func(path string) (*bufio.Reader, net.Conn) {
		conn, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		_, err = conn.Write([]byte("GET " + path + " HTTP/1.1\r\nHost: a\r\n\r\n"))
		require.NoError(t, err)
		return bufio.NewReader(conn), conn
	}
	stream, sconn := read("/stream")
	defer sconn.Close()
	plain, pconn := read("/plain")
	defer pconn.Close()
	for _, r := range []*bufio.Reader{stream, plain} {
		resp, err := http.ReadResponse(r, nil)
		require.NoError(t, err)
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		require.NoError(t, err)
		assert.Equal(t, "first\n", line)
		if r == stream {
			stream = bufio.NewReader(resp.Body)
		} else {
			plain = bufio.NewReader(resp.Body)
		}
	}
	// The clock to wait on: a silent connection opened after both
	// requests is closed when its read limit (as long as the write limit)
	// has passed, so the plain response's deadline has passed too.
	silent, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer silent.Close()
	closedWithin(t, silent, 10*time.Second)
	close(release)
	rest, _ := io.ReadAll(plain)
	assert.NotContains(t, string(rest), "second", "a plain response is bounded by the write timeout")
	line, err := stream.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "second\n", line, "the stream still writes after the deadline a plain response hit")
}

// A build's log follow lasts as long as the build, past the write timeout
// that bounds a plain response.
func TestABuildLogFollowIsNotCutByTheWriteTimeout(t *testing.T) {
	backend := &recordingBackend{logsGate: make(chan struct{})}
	srv, err := New(context.Background(), backend, Options{Token: apiToken, StateDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	t.Cleanup(srv.Queue().Close)
	addr := serveShort(t, srv.Handler())
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Write([]byte("GET /v1/builds/b-1/logs?follow=true HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " + apiToken + "\r\n\r\n"))
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body := bufio.NewReader(resp.Body)
	line, err := body.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "logs of b-1 (follow=true)\n", line)
	// As in the event stream's test: once a silent connection opened
	// after the request is closed, the write deadline has passed.
	silent, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer silent.Close()
	closedWithin(t, silent, 10*time.Second)
	close(backend.logsGate)
	line, err = body.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "more of b-1\n", line, "the follow still writes after the write deadline")
}

// RFC 7235: the scheme's name is case-insensitive.
func TestBearerSchemeIsCaseInsensitive(t *testing.T) {
	srv := idleServer(t, nil)
	h := srv.Handler()
	for header, want := range map[string]int{
		"Bearer " + apiToken:       http.StatusOK,
		"bearer " + apiToken:       http.StatusOK,
		"BEARER " + apiToken:       http.StatusOK,
		"Bearer  " + apiToken:      http.StatusOK,
		"Basic " + apiToken:        http.StatusUnauthorized,
		"Bearer" + apiToken:        http.StatusUnauthorized,
		"Bearer " + apiToken + "x": http.StatusUnauthorized,
		apiToken:                   http.StatusUnauthorized,
	} {
		req := httptest.NewRequest(http.MethodGet, "/v1/previews", nil)
		req.Header.Set("Authorization", header)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		assert.Equal(t, want, rec.Code, "%q", header)
	}
}

// The queue UI refuses state changes from other sites (the probe paused
// the queue and cancelled jobs with Basic credentials, a foreign Origin and
// a text/plain body), cannot be framed, and bounds bodies.
func TestQueueUIRefusesCrossSiteWrites(t *testing.T) {
	srv, ctx := uiServer(t)
	require.NoError(t, srv.Queue().Start(ctx))
	defer func() { _ = srv.Queue().Stop(time.Second) }()
	h := srv.Handler()
	do := func(method, path, body string, headers map[string]string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Host = "apphub.internal:8787"
		req.SetBasicAuth("admin", "ui-secret")
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	textPlain := map[string]string{"Content-Type": "text/plain"}
	for name, hdr := range map[string]map[string]string{
		"foreign Origin":           {"Origin": "https://evil.example", "Content-Type": "text/plain"},
		"Sec-Fetch-Site cross":     {"Sec-Fetch-Site": "cross-site", "Content-Type": "text/plain"},
		"Sec-Fetch-Site same-site": {"Sec-Fetch-Site": "same-site", "Content-Type": "text/plain"},
	} {
		for _, target := range [][2]string{{http.MethodPut, "/ui/api/queues/default/pause"}, {http.MethodPost, "/ui/api/jobs/cancel"}} {
			rec := do(target[0], target[1], `{"job_ids":["1"]}`, hdr)
			assert.Equal(t, http.StatusForbidden, rec.Code, "%s %s", name, target[1])
		}
	}
	pausedAt := func() string {
		rec := do(http.MethodGet, "/ui/api/queues/default", "", nil)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var q struct {
			PausedAt *string `json:"paused_at"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &q))
		if q.PausedAt == nil {
			return ""
		}
		return *q.PausedAt
	}
	assert.Empty(t, pausedAt(), "no cross-site request paused the queue")

	same := do(http.MethodPut, "/ui/api/queues/default/pause", `{}`, map[string]string{"Sec-Fetch-Site": "same-origin", "Content-Type": "application/json"})
	assert.Less(t, same.Code, 300, "the UI itself still works: %s", same.Body.String())
	assert.NotEmpty(t, pausedAt(), "the same request from the UI's own page pauses")
	script := do(http.MethodPost, "/ui/api/jobs/cancel", `{"job_ids":["1"]}`, textPlain)
	assert.NotEqual(t, http.StatusForbidden, script.Code, "a non-browser client (no Origin, no Sec-Fetch-Site) is not a cross-site request")

	page := do(http.MethodGet, "/ui/", "", nil)
	assert.Equal(t, http.StatusOK, page.Code)
	assert.Equal(t, "DENY", page.Header().Get("X-Frame-Options"))
	assert.Contains(t, page.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'")

	big := do(http.MethodPost, "/ui/api/jobs/cancel", `{"job_ids":["`+strings.Repeat("1", maxUIBody)+`"]}`, map[string]string{"Content-Type": "application/json"})
	assert.GreaterOrEqual(t, big.Code, 400, "an oversized body is refused")
	assert.Less(t, big.Code, 500)
}
