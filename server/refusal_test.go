package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/automation"
	"github.com/apphub/apphub-infra/queue"
)

// recordingBackend stands in for the Manager: the server must refuse bad
// input itself, so a refused request never reaches it.
type recordingBackend struct {
	mu    sync.Mutex
	calls []string
	// called is closed and replaced on every call, so a test waits for
	// the queue's worker to call rather than polling on a clock.
	called chan struct{}
	// logsGate, when set, holds a log follow open after its first line
	// until closed (a build still running).
	logsGate chan struct{}
}

func (b *recordingBackend) record(call string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, call)
	if b.called != nil {
		close(b.called)
		b.called = nil
	}
}

// awaitCalls blocks until n calls were made or ctx ends, and returns them.
func (b *recordingBackend) awaitCalls(ctx context.Context, n int) []string {
	for {
		b.mu.Lock()
		if len(b.calls) >= n || ctx.Err() != nil {
			calls := append([]string(nil), b.calls...)
			b.mu.Unlock()
			return calls
		}
		if b.called == nil {
			b.called = make(chan struct{})
		}
		ch := b.called
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
		}
	}
}

func (b *recordingBackend) Calls() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.calls...)
}

var errNotHere = errors.New("the recording backend runs nothing")

func (b *recordingBackend) PreviewUp(context.Context, automation.PreviewSpec) (*automation.PreviewResult, error) {
	b.record("PreviewUp")
	return nil, errNotHere
}

func (b *recordingBackend) PreviewDestroy(context.Context, string) (*automation.PreviewResult, error) {
	b.record("PreviewDestroy")
	return nil, errNotHere
}

func (b *recordingBackend) PreviewGet(_ context.Context, launch string) (*automation.PreviewResult, error) {
	b.record("PreviewGet")
	return nil, &automation.Error{Kind: automation.KindNotFound, Op: "preview get", Stack: automation.PreviewStack(launch)}
}

func (b *recordingBackend) PreviewList(context.Context) ([]automation.PreviewListItem, error) {
	b.record("PreviewList")
	return nil, nil
}

func (b *recordingBackend) BuildRun(context.Context, automation.BuildSpec) (*automation.BuildResult, error) {
	b.record("BuildRun")
	return nil, errNotHere
}

func (b *recordingBackend) BuildGet(_ context.Context, id string) (*automation.BuildResult, error) {
	b.record("BuildGet")
	return nil, &automation.Error{Kind: automation.KindNotFound, Op: "build get", Stack: automation.BuildStack(id)}
}

func (b *recordingBackend) BuildList(context.Context) ([]automation.BuildListItem, error) {
	b.record("BuildList")
	return nil, nil
}

func (b *recordingBackend) BuildDestroy(context.Context, string) (*automation.BuildResult, error) {
	b.record("BuildDestroy")
	return nil, errNotHere
}

func (b *recordingBackend) BuildLogs(_ context.Context, id string, follow bool, w io.Writer) error {
	b.record("BuildLogs")
	if id == "b-gone" {
		return &automation.Error{Kind: automation.KindNotFound, Op: "build logs", Stack: automation.BuildStack(id), Reason: "no pods"}
	}
	_, err := fmt.Fprintf(w, "logs of %s (follow=%t)\n", id, follow)
	if err == nil && follow && b.logsGate != nil {
		<-b.logsGate // a build still running
		_, err = fmt.Fprintf(w, "more of %s\n", id)
	}
	return err
}

// apiUnderTest serves the handler over a recording backend.
// The queue is the real one (River on SQLite in a temp dir), working
// operations, so an accepted request reaches the backend.
func apiUnderTest(t *testing.T) (*Server, *recordingBackend, *queue.Queue) {
	t.Helper()
	b := &recordingBackend{}
	srv, err := New(context.Background(), b, Options{Token: apiToken, StateDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, srv.Queue().Start(ctx))
	t.Cleanup(func() { _ = srv.Queue().Stop(time.Second); cancel(); srv.Queue().Close() })
	return srv, b, srv.Queue()
}

// idleServer is a server whose queue records and never works: enough for
// the routes up to the 202. mod adjusts the options; the queue is closed
// when the test ends.
func idleServer(t *testing.T, mod func(*Options)) *Server {
	t.Helper()
	opts := Options{Token: apiToken, StateDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if mod != nil {
		mod(&opts)
	}
	srv, err := New(context.Background(), &recordingBackend{}, opts)
	require.NoError(t, err)
	t.Cleanup(srv.Queue().Close)
	return srv
}

func recorded(t *testing.T, q *queue.Queue) []*queue.Operation {
	t.Helper()
	ops, err := q.List(context.Background(), queue.Filter{})
	require.NoError(t, err)
	return ops
}

func call(t *testing.T, h http.Handler, method, path, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+apiToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out), "body: %s", rec.Body.String())
	return rec.Code, out
}

// fieldRules maps each field of a 400 to its rules.
func fieldRules(t *testing.T, body map[string]any) map[string][]string {
	t.Helper()
	raw, ok := body["fields"].([]any)
	require.True(t, ok, "a 400 lists fields[]: %v", body)
	out := map[string][]string{}
	for _, f := range raw {
		fe := f.(map[string]any)
		field, rule := fe["field"].(string), fe["rule"].(string)
		out[field] = append(out[field], rule)
	}
	return out
}

// apiToken is the bearer token of these tests (the clitest tier has its own).
const apiToken = "refusal-token-0123456789"

const (
	goodPreview = `"image":"registry.test/app:1"`
	goodBuild   = `"id":"b-1","gitUrl":"https://git.test/acme/web.git","imageRepository":"apps/web","imageTag":"1"`
)

// want is one expected field problem: the field as the caller wrote it and
// a fragment of its rule.
type want struct{ field, rule string }

func TestBadRequestsAreRefusedWholeAndCreateNothing(t *testing.T) {
	bigEnv := `{` + goodPreview + `,"env":{"A":"` + strings.Repeat("x", maxBody) + `"}}`
	tests := []struct {
		name, method, path, body string
		want                     []want
	}{
		// Preview bodies.
		{"port zero", "PUT", "/v1/previews/pr-1", `{` + goodPreview + `,"port":0}`, []want{{"port", "must not be zero"}}},
		{"privileged port", "PUT", "/v1/previews/pr-1", `{` + goodPreview + `,"port":80}`, []want{{"port", "1024 or above"}}},
		{"port as string", "PUT", "/v1/previews/pr-1", `{` + goodPreview + `,"port":"8080"}`, []want{{"port", "must be an integer: got string"}}},
		{"fractional port", "PUT", "/v1/previews/pr-1", `{` + goodPreview + `,"port":8080.5}`, []want{{"port", "must be an integer"}}},
		{"trailing object", "PUT", "/v1/previews/pr-1", `{` + goodPreview + `} {}`, []want{{"body", "exactly one JSON object"}}},
		{"trailing garbage", "PUT", "/v1/previews/pr-1", `{` + goodPreview + `}x`, []want{{"body", "exactly one JSON object"}}},
		{"case-variant key", "PUT", "/v1/previews/pr-1", `{"IMAGE":"registry.test/app:1"}`, []want{{"IMAGE", `did you mean "image"`}, {"image", "is required"}}},
		{"case-variant ttl", "PUT", "/v1/previews/pr-1", `{` + goodPreview + `,"TTLSeconds":60}`, []want{{"TTLSeconds", `did you mean "ttlSeconds"`}}},
		{"unknown key", "PUT", "/v1/previews/pr-1", `{` + goodPreview + `,"imgae":"typo"}`, []want{{"imgae", "is not a field"}}},
		{"duplicate key", "PUT", "/v1/previews/pr-1", `{` + goodPreview + `,"image":"registry.test/app:2"}`, []want{{"image", "more than once"}}},
		{"negative ttl with others", "PUT", "/v1/previews/pr-1", `{"image":"nginx","ttlSeconds":-5,"port":80}`,
			[]want{{"ttlSeconds", "must not be negative"}, {"port", "1024 or above"}, {"image", "tag or digest"}}},
		{"ttl beyond a year", "PUT", "/v1/previews/pr-1", `{` + goodPreview + `,"ttlSeconds":99999999}`, []want{{"ttlSeconds", "at most"}}},
		{"null replicas", "PUT", "/v1/previews/pr-1", `{` + goodPreview + `,"replicas":null}`, []want{{"replicas", "must not be null"}}},
		{"duplicate env key", "PUT", "/v1/previews/pr-1", `{` + goodPreview + `,"env":{"A":"1","A":"2"}}`, []want{{"env", `key "A" is given more than once`}}},
		{"env number", "PUT", "/v1/previews/pr-1", `{` + goodPreview + `,"env":{"A":1}}`, []want{{"env", "an object of strings"}}},
		{"env reserved", "PUT", "/v1/previews/pr-1", `{` + goodPreview + `,"env":{"PORT":"1"}}`, []want{{"env", "set by the platform"}}},
		{"empty cpu request", "PUT", "/v1/previews/pr-1", `{` + goodPreview + `,"cpuRequest":""}`, []want{{"cpuRequest", "must not be zero or empty"}}},
		{"padded image", "PUT", "/v1/previews/pr-1", `{"image":" registry.test/app:1"}`, []want{{"image", "whitespace"}}},
		{"egress entry with comma", "PUT", "/v1/previews/pr-1", `{` + goodPreview + `,"egressAllow":["10.0.0.0/8:5432,0.0.0.0/0:443"]}`, []want{{"egressAllow", "without commas"}}},
		{"empty egress entry", "PUT", "/v1/previews/pr-1", `{` + goodPreview + `,"egressAllow":[""]}`, []want{{"egressAllow", "entry 0"}}},
		{"launch differs from path", "PUT", "/v1/previews/pr-1", `{` + goodPreview + `,"launch":"other"}`, []want{{"launch", "must match the path"}}},
		{"token flag as string", "PUT", "/v1/previews/pr-1", `{` + goodPreview + `,"mountServiceAccountToken":"yes"}`, []want{{"mountServiceAccountToken", "true or false"}}},
		{"health path with space", "PUT", "/v1/previews/pr-1", `{` + goodPreview + `,"healthPath":"/a b"}`, []want{{"healthPath", "absolute path"}}},
		{"array body", "PUT", "/v1/previews/pr-1", `[]`, []want{{"body", "must be a JSON object"}}},
		{"empty body", "PUT", "/v1/previews/pr-1", ``, []want{{"body", "must be a JSON object"}}},
		{"cut-off body", "PUT", "/v1/previews/pr-1", `{"image":`, []want{{"body", "not valid JSON"}}},
		{"not UTF-8", "PUT", "/v1/previews/pr-1", "{\"image\":\"registry.test/app:1\xff\"}", []want{{"body", "UTF-8"}}},
		{"oversized body", "PUT", "/v1/previews/pr-1", bigEnv, []want{{"body", "at most"}}},
		{"query parameters", "PUT", "/v1/previews/pr-1?dryRun=true", `{` + goodPreview + `}`, []want{{"query", "no query parameters"}}},
		{"bad launch in path", "PUT", "/v1/previews/Bad_Launch", `{` + goodPreview + `}`, []want{{"launch", "RFC 1123"}}},
		// Build bodies.
		{"git url port out of range", "POST", "/v1/builds", `{` + strings.Replace(goodBuild, "git.test", "git.test:99999", 1) + `}`, []want{{"gitUrl", "port must be 1-65535"}}},
		{"git url port zero", "POST", "/v1/builds", `{` + strings.Replace(goodBuild, "git.test", "git.test:0", 1) + `}`, []want{{"gitUrl", "port must be 1-65535"}}},
		{"git url with semicolon", "POST", "/v1/builds", `{` + strings.Replace(goodBuild, "web.git", "web.git;rm -rf ~", 1) + `}`, []want{{"gitUrl", "shell metacharacters"}}},
		{"git url with substitution", "POST", "/v1/builds", `{` + strings.Replace(goodBuild, "acme", "$(id)", 1) + `}`, []want{{"gitUrl", "shell metacharacters"}}},
		{"git url with backtick", "POST", "/v1/builds", `{` + strings.Replace(goodBuild, "acme", "`id`", 1) + `}`, []want{{"gitUrl", "shell metacharacters"}}},
		{"git url bad host", "POST", "/v1/builds", `{` + strings.Replace(goodBuild, "git.test", "git_test", 1) + `}`, []want{{"gitUrl", "not a DNS name"}}},
		{"git ref with pipe", "POST", "/v1/builds", `{` + goodBuild + `,"gitRef":"main|reboot"}`, []want{{"gitRef", "shell metacharacters"}}},
		{"context dir with space", "POST", "/v1/builds", `{` + goodBuild + `,"contextDir":"my app"}`, []want{{"contextDir", "no spaces"}}},
		{"empty dockerfile", "POST", "/v1/builds", `{` + goodBuild + `,"dockerfile":""}`, []want{{"dockerfile", "must not be zero or empty"}}},
		{"case-variant id", "POST", "/v1/builds", `{` + strings.Replace(goodBuild, `"id"`, `"ID"`, 1) + `}`, []want{{"ID", `did you mean "id"`}, {"id", "is required"}}},
		{"bad build id", "POST", "/v1/builds", `{` + strings.Replace(goodBuild, "b-1", "B_1", 1) + `}`, []want{{"id", "RFC 1123"}}},
		{"backoff out of range", "POST", "/v1/builds", `{` + goodBuild + `,"backoffLimit":9}`, []want{{"backoffLimit", "between 0 and 5"}}},
		{"duplicate build arg", "POST", "/v1/builds", `{` + goodBuild + `,"buildArgs":{"A":"1","A":"2"}}`, []want{{"buildArgs", "more than once"}}},
		{"every build problem at once", "POST", "/v1/builds", `{"id":"B","gitUrl":"http://x.test/a.git","imageRepository":"Apps","imageTag":"-1","extra":1}`,
			[]want{{"id", "RFC 1123"}, {"gitUrl", "https://"}, {"imageRepository", "lowercase"}, {"imageTag", "must be a tag"}, {"extra", "is not a field"}}},
		// Ids in paths.
		{"get bad launch", "GET", "/v1/previews/Bad_x", ``, []want{{"launch", "RFC 1123"}}},
		{"get bad build", "GET", "/v1/builds/a_b", ``, []want{{"id", "RFC 1123"}}},
		{"delete bad launch", "DELETE", "/v1/previews/Bad_x", ``, []want{{"launch", "RFC 1123"}}},
		{"delete with query", "DELETE", "/v1/previews/pr-1?force=1", ``, []want{{"query", "no query parameters"}}},
		{"delete with a body", "DELETE", "/v1/previews/pr-1", `{"force":true}`, []want{{"body", "takes no body"}}},
		{"env with NUL", "PUT", "/v1/previews/pr-1", `{` + goodPreview + `,"env":{"A":"x\u0000y"}}`, []want{{"env", "NUL character"}}},
		// Operations.
		{"list bad status", "GET", "/v1/operations?status=done", ``, []want{{"status", "must be one of queued, running"}}},
		{"list bad stack", "GET", "/v1/operations?stack=pr-1", ``, []want{{"stack", "preview-<launch> or build-<id>"}}},
		{"list bad limit", "GET", "/v1/operations?limit=0", ``, []want{{"limit", "1-200"}}},
		{"list limit too large", "GET", "/v1/operations?limit=1000", ``, []want{{"limit", "1-200"}}},
		{"list semicolon", "GET", "/v1/operations?status=queued;stack=preview-a", ``, []want{{"query", "joined by '&'"}}},
		{"list parameter twice", "GET", "/v1/operations?status=queued&status=running", ``, []want{{"status", "given 2 times"}}},
		{"list bad cursor", "GET", "/v1/operations?before=x", ``, []want{{"before", ""}}},
		{"list bad spec", "GET", "/v1/operations?spec=yes", ``, []want{{"spec", "true or false"}}},
		{"logs semicolon", "GET", "/v1/builds/b-1/logs?follow=true;x=1", ``, []want{{"query", "joined by"}}},
		{"list unknown parameter", "GET", "/v1/operations?target=x", ``, []want{{"target", "unknown query parameter"}}},
		{"get malformed id", "GET", "/v1/operations/nope", ``, []want{{"id", "must be an operation id"}}},
		{"cancel malformed id", "DELETE", "/v1/operations/a..b", ``, []want{{"id", "must be an operation id"}}},
		{"cancel with a body", "DELETE", "/v1/operations/20261201T082152-0123456789abcdef", `{"force":true}`, []want{{"body", "takes no body"}}},
		{"events malformed id", "GET", "/v1/operations/x%20y/events", ``, []want{{"id", "must be an operation id"}}},
		{"delete bad build", "DELETE", "/v1/builds/B_1", ``, []want{{"id", "RFC 1123"}}},
		{"delete build with a body", "DELETE", "/v1/builds/b-1", `{"force":true}`, []want{{"body", "takes no body"}}},
		{"list builds with query", "GET", "/v1/builds?state=done", ``, []want{{"query", "no query parameters"}}},
		{"logs follow not a bool", "GET", "/v1/builds/b-1/logs?follow=yes", ``, []want{{"follow", "true or false"}}},
		{"logs unknown parameter", "GET", "/v1/builds/b-1/logs?tail=5", ``, []want{{"tail", "unknown query parameter"}}},
		{"logs bad build", "GET", "/v1/builds/B_1/logs", ``, []want{{"id", "RFC 1123"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, backend, ops := apiUnderTest(t)
			code, body := call(t, srv.Handler(), tt.method, tt.path, tt.body)
			require.Equal(t, http.StatusBadRequest, code, "%v", body)
			assert.Equal(t, "invalid", body["kind"])
			got := fieldRules(t, body)
			for _, w := range tt.want {
				assert.Contains(t, strings.Join(got[w.field], " | "), w.rule, "field %q in %v", w.field, got)
			}
			assert.Len(t, got, len(tt.want), "exactly the expected fields: %v", got)
			assert.Empty(t, backend.Calls(), "a refused request never reaches the Manager")
			assert.Empty(t, recorded(t, ops), "no operation was recorded")
		})
	}
}

func TestGoodRequestsReachTheBackend(t *testing.T) {
	// The control for the table above: the same handler accepts valid input
	// and persists it, so the refusals are not an artefact of the harness.
	srv, backend, ops := apiUnderTest(t)
	code, body := call(t, srv.Handler(), "PUT", "/v1/previews/pr-1", `{`+goodPreview+`,"port":3000,"ttlSeconds":0,"launch":"pr-1"}`)
	require.Equal(t, http.StatusAccepted, code, "%v", body)
	code, body = call(t, srv.Handler(), "POST", "/v1/builds", `{`+goodBuild+`,"gitRef":"release/1.2","contextDir":"services/web"}`)
	require.Equal(t, http.StatusAccepted, code, "%v", body)
	code, _ = call(t, srv.Handler(), "GET", "/v1/builds/b-2", ``)
	assert.Equal(t, http.StatusNotFound, code)
	// The ceiling only bounds a hang: the queue's worker calls when it
	// fetches, which on a loaded machine can take seconds.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	assert.ElementsMatch(t, []string{"PreviewUp", "BuildRun", "BuildGet"}, backend.awaitCalls(ctx, 3))
	code, _ = call(t, srv.Handler(), "GET", "/v1/operations/20261201T082152-0123456789abcdef", ``)
	assert.Equal(t, http.StatusNotFound, code, "a well-formed id that names nothing")
	assert.Len(t, recorded(t, ops), 2)
}

// Lists are pages: newest first, a next link while there may be more,
// each operation without its request unless asked for.
func TestOperationListPages(t *testing.T) {
	srv := idleServer(t, nil)
	h := srv.Handler()
	var want []string
	for i := range 5 {
		code, body := call(t, h, "PUT", fmt.Sprintf("/v1/previews/page-%d", i), `{`+goodPreview+`}`)
		require.Equal(t, http.StatusAccepted, code, "%v", body)
		want = append([]string{body["id"].(string)}, want...)
	}
	var got []string
	path := "/v1/operations?limit=2"
	for pages := 0; path != ""; pages++ {
		require.Less(t, pages, 4, "three pages at most")
		code, body := call(t, h, "GET", path, ``)
		require.Equal(t, http.StatusOK, code, "%v", body)
		for _, o := range body["operations"].([]any) {
			o := o.(map[string]any)
			assert.NotContains(t, o, "spec", "no request in a list by default")
			got = append(got, o["id"].(string))
		}
		path = ""
		if links, ok := body["links"].(map[string]any); ok {
			path = links["next"].(string)
			assert.Contains(t, path, "limit=2", "the next page keeps the filter")
		}
	}
	assert.Equal(t, want, got, "every operation once, newest first")

	code, body := call(t, h, "GET", "/v1/operations?limit=1&spec=true", ``)
	require.Equal(t, http.StatusOK, code)
	first := body["operations"].([]any)[0].(map[string]any)
	assert.Contains(t, first["spec"], "image", "?spec=true includes the request")
}

// Beyond --max-in-flight a request is answered 429, with when to retry,
// and nothing is recorded.
func TestMaxInFlightAnswers429(t *testing.T) {
	srv := idleServer(t, func(o *Options) { o.MaxInFlight = 2 })
	h := srv.Handler()
	for i := range 2 {
		code, body := call(t, h, "PUT", fmt.Sprintf("/v1/previews/full-%d", i), `{`+goodPreview+`}`)
		require.Equal(t, http.StatusAccepted, code, "%v", body)
	}
	req := httptest.NewRequest("PUT", "/v1/previews/full-2", strings.NewReader(`{`+goodPreview+`}`))
	req.Header.Set("Authorization", "Bearer "+apiToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusTooManyRequests, rec.Code, rec.Body.String())
	assert.Equal(t, "5", rec.Header().Get("Retry-After"))
	ops, err := srv.Queue().List(context.Background(), queue.Filter{})
	require.NoError(t, err)
	assert.Len(t, ops, 2, "the refused request recorded nothing")
}
