package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/apphub/apphub-infra/automation"
	"github.com/apphub/apphub-infra/queue"
)

// route is one endpoint: what Handler mounts and what the OpenAPI
// document describes come from this one table, so they cannot drift.
type route struct {
	method, path, summary string
	handler               http.HandlerFunc
	public                bool
	query                 []param
	body                  any // request body type, nil for none
	ok                    int // success status
	result                any // success body type; nil for text or none
	text                  bool
}

type param struct{ name, kind, about string }

func (s *Server) routes() []route {
	follow := []param{{"follow", "boolean", "stream until the Job ends"}}
	listOps := []param{{"stack", "string", "preview-<launch> or build-<id>"}, {"status", "string", "queued, running, succeeded, failed or canceled"}, {"limit", "integer", "1-1000, default 100"}}
	return []route{
		{method: "GET", path: "/healthz", summary: "Liveness and the queue's database", handler: s.health, public: true, ok: 200, result: map[string]any{}},
		{method: "GET", path: "/readyz", summary: "Readiness: the queue's database answers and the state directory takes writes", handler: s.ready, public: true, ok: 200, result: map[string]any{}},
		{method: "PUT", path: "/v1/previews/{launch}", summary: "Create or update a preview", handler: s.putPreview, body: previewRequest{}, ok: 202, result: queue.Operation{}},
		{method: "GET", path: "/v1/previews/{launch}", summary: "A preview's state, URL, outputs and last operation", handler: s.getPreview, ok: 200, result: struct {
			Preview   automation.PreviewResult `json:"preview"`
			Operation queue.Operation          `json:"operation"`
		}{}},
		{method: "GET", path: "/v1/previews", summary: "List previews", handler: s.listPreviews, ok: 200, result: struct {
			Previews []automation.PreviewListItem `json:"previews"`
		}{}},
		{method: "DELETE", path: "/v1/previews/{launch}", summary: "Destroy a preview", handler: s.deletePreview, ok: 202, result: queue.Operation{}},
		{method: "POST", path: "/v1/builds", summary: "Run a build", handler: s.postBuild, body: buildRequest{}, ok: 202, result: queue.Operation{}},
		{method: "GET", path: "/v1/builds/{id}", summary: "A build's state and image", handler: s.getBuild, ok: 200, result: struct {
			Build     automation.BuildResult `json:"build"`
			Operation queue.Operation        `json:"operation"`
		}{}},
		{method: "GET", path: "/v1/builds", summary: "List builds", handler: s.listBuilds, ok: 200, result: struct {
			Builds []automation.BuildListItem `json:"builds"`
		}{}},
		{method: "GET", path: "/v1/builds/{id}/logs", summary: "A build's logs (plain text)", handler: s.buildLogs, query: follow, ok: 200, text: true},
		{method: "DELETE", path: "/v1/builds/{id}", summary: "Destroy a build's Job and stack", handler: s.deleteBuild, ok: 202, result: queue.Operation{}},
		{method: "GET", path: "/v1/operations", summary: "List operations, newest first", handler: s.listOperations, query: listOps, ok: 200, result: struct {
			Operations []queue.Operation `json:"operations"`
		}{}},
		{method: "GET", path: "/v1/operations/{id}", summary: "An operation with its events and callback deliveries", handler: s.getOperation, ok: 200, result: queue.Operation{}},
		{method: "DELETE", path: "/v1/operations/{id}", summary: "Cancel an operation (200 when it was queued, 202 while a running one stops)", handler: s.cancelOperation, ok: 202, result: queue.Operation{}},
		{method: "GET", path: "/v1/operations/{id}/events", summary: "Engine events as NDJSON until the operation ends", handler: s.streamEvents, ok: 200, text: true},
		{method: "GET", path: "/v1/openapi.json", summary: "This document", handler: s.serveOpenAPI, public: true, ok: 200, result: map[string]any{}},
		{method: "GET", path: "/metrics", summary: "Prometheus metrics", handler: s.m.handler(), ok: 200, text: true},
	}
}

// Handler returns the API's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	auth := s.authenticate(s.opts.Token)
	for _, rt := range s.routes() {
		h := http.Handler(rt.handler)
		if !rt.public {
			h = auth(rt.handler)
		}
		mux.Handle(rt.method+" "+rt.path, h)
	}
	if s.ui != nil {
		token := s.opts.UIToken
		if token == "" {
			token = s.opts.Token
		}
		mux.Handle("/ui/", guardUI(s.authenticateUI(token)(s.ui.ServeHTTP)))
	}
	return noRouteAsJSON(mux)
}

// noRouteAsJSON answers what no route matches with the API's error shape
// (404, or 405 with Allow for a known path and another method) instead of
// the mux's plain text.
func noRouteAsJSON(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r) // sets the path values Handler's result would not
			return
		}
		probe := httptest.NewRecorder()
		h.ServeHTTP(probe, r)
		if allow := probe.Header().Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		kind := "not-found"
		if probe.Code == http.StatusMethodNotAllowed {
			kind = "method-not-allowed"
		}
		writeError(w, probe.Code, kind, fmt.Sprintf("no such route: %s %s", r.Method, r.URL.Path), nil)
	})
}
