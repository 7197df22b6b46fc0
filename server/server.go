package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/apphub/apphub-infra/automation"
	"github.com/apphub/apphub-infra/internal/validate"
)

// Backend is what the server needs from the automation Manager.
type Backend interface {
	PreviewUp(ctx context.Context, spec automation.PreviewSpec) (*automation.PreviewResult, error)
	PreviewDestroy(ctx context.Context, launch string) (*automation.PreviewResult, error)
	PreviewGet(ctx context.Context, launch string) (*automation.PreviewResult, error)
	PreviewList(ctx context.Context) ([]automation.PreviewListItem, error)
	BuildRun(ctx context.Context, spec automation.BuildSpec) (*automation.BuildResult, error)
	BuildGet(ctx context.Context, id string) (*automation.BuildResult, error)
}

// limitChecker is what a Backend may add to refuse, with a 400 and before
// anything is persisted, requests the platform's LimitRange would forbid
// (the Manager does; test backends need not).
type limitChecker interface {
	CheckPreviewLimits(ctx context.Context, spec automation.PreviewSpec) error
	CheckBuildLimits(ctx context.Context, spec automation.BuildSpec) error
}

// Options configure the HTTP API.
type Options struct {
	// Addr to listen on. Default 127.0.0.1:8787 (loopback only).
	Addr string
	// Token is the bearer token every request but /healthz must carry.
	Token string
	// StateDir holds the persisted operations.
	StateDir string
	// MaxInFlight bounds queued plus running operations; beyond it
	// requests get 429. Default 64.
	MaxInFlight int
	// ShutdownGrace is how long running operations may finish on shutdown
	// before they are cancelled (and resumed after the next start). Default 30s.
	ShutdownGrace time.Duration
	Logger        *slog.Logger
}

// Server is the HTTP API.
type Server struct {
	b     Backend
	opts  Options
	store *store
	slots chan struct{}

	baseCtx context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// New opens the operation store. Call Publish from the Manager's OnEvent.
func New(b Backend, opts Options) (*Server, error) {
	if opts.Token == "" {
		return nil, errors.New("server: a bearer token is required (APPHUB_API_TOKEN or --token-file)")
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:8787"
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 64
	}
	if opts.ShutdownGrace <= 0 {
		opts.ShutdownGrace = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	st, err := openStore(opts.StateDir)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{b: b, opts: opts, store: st, slots: make(chan struct{}, opts.MaxInFlight), baseCtx: ctx, cancel: cancel}, nil
}

// Publish routes an engine event to the operation running on its stack.
func (s *Server) Publish(e automation.Event) {
	switch {
	case strings.HasPrefix(e.Stack, "preview-"):
		s.store.addEvent("preview/"+strings.TrimPrefix(e.Stack, "preview-"), e)
	case strings.HasPrefix(e.Stack, "build-"):
		s.store.addEvent("build/"+strings.TrimPrefix(e.Stack, "build-"), e)
	}
}

// Handler returns the API's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "inFlight": len(s.slots)})
	})
	auth := s.authenticate
	mux.Handle("PUT /v1/previews/{launch}", auth(s.putPreview))
	mux.Handle("GET /v1/previews/{launch}", auth(s.getPreview))
	mux.Handle("GET /v1/previews", auth(s.listPreviews))
	mux.Handle("DELETE /v1/previews/{launch}", auth(s.deletePreview))
	mux.Handle("POST /v1/builds", auth(s.postBuild))
	mux.Handle("GET /v1/builds/{id}", auth(s.getBuild))
	mux.Handle("GET /v1/operations/{id}", auth(s.getOperation))
	mux.Handle("GET /v1/operations/{id}/events", auth(s.streamEvents))
	return mux
}

// Serve resumes unfinished operations, then serves until ctx ends; it then
// stops accepting requests, lets running operations finish within the
// grace period and cancels the rest, which stay queued for the next start.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	for _, op := range s.store.unfinished() {
		s.opts.Logger.Info("resuming operation", "id", op.ID, "kind", op.Kind, "target", op.Target)
		if err := s.store.update(op.ID, func(o *Operation) { o.Status = StatusQueued }); err != nil {
			return err
		}
		s.start(op.ID)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		s.stopWorkers()
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownGrace)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-shutdownCtx.Done():
		s.stopWorkers()
	}
	if errors.Is(err, http.ErrServerClosed) || errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	return err
}

// stopWorkers cancels running operations and waits for them to return.
func (s *Server) stopWorkers() {
	s.cancel()
	s.wg.Wait()
}

func (s *Server) authenticate(next http.HandlerFunc) http.Handler {
	want := []byte("Bearer " + s.opts.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="apphub"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "a valid bearer token is required", nil)
			return
		}
		next(w, r)
	})
}

// accept persists an operation and starts it; the 202 is sent only after
// the operation is on disk.
func (s *Server) accept(w http.ResponseWriter, kind, target string, spec any) {
	select {
	case s.slots <- struct{}{}:
	default:
		writeError(w, http.StatusTooManyRequests, "busy", fmt.Sprintf("%d operations in flight; retry later", s.opts.MaxInFlight), nil)
		return
	}
	op, err := s.store.create(kind, target, spec)
	if errors.Is(err, errBusy) {
		<-s.slots
		writeJSON(w, http.StatusConflict, map[string]any{"error": "conflict", "message": errBusy.Error(), "operation": s.withLinks(op)})
		return
	}
	if err != nil {
		<-s.slots
		writeError(w, http.StatusInternalServerError, "internal", err.Error(), nil)
		return
	}
	s.run(op.ID)
	w.Header().Set("Location", "/v1/operations/"+op.ID)
	writeJSON(w, http.StatusAccepted, s.withLinks(op))
}

// start takes a slot for a resumed operation and runs it.
func (s *Server) start(id string) {
	s.slots <- struct{}{}
	s.run(id)
}

// run executes an operation in the background with the server's context,
// not the request's: the client has its 202 and may disconnect.
func (s *Server) run(id string) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() { <-s.slots }()
		op, _ := s.store.get(id)
		now := time.Now().UTC()
		_ = s.store.update(id, func(o *Operation) {
			o.Status, o.StartedAt, o.Attempts, o.Events = StatusRunning, &now, o.Attempts+1, nil
		})
		result, err := s.execute(s.baseCtx, op)
		if s.baseCtx.Err() != nil {
			// Shut down mid-operation: leave it queued so the next start
			// resumes it (up and destroy are idempotent).
			_ = s.store.update(id, func(o *Operation) { o.Status, o.StartedAt = StatusQueued, nil })
			return
		}
		finished := time.Now().UTC()
		raw, _ := json.Marshal(result)
		_ = s.store.update(id, func(o *Operation) {
			o.FinishedAt, o.Result = &finished, raw
			if err != nil {
				o.Status, o.Reason, o.ErrorKind = StatusFailed, reasonOf(err), string(automation.KindOf(err))
			} else {
				o.Status = StatusSucceeded
			}
		})
		s.opts.Logger.Info("operation finished", "id", id, "kind", op.Kind, "target", op.Target, "err", err)
	}()
}

func (s *Server) execute(ctx context.Context, op *Operation) (any, error) {
	switch op.Kind {
	case KindPreviewUp:
		var spec automation.PreviewSpec
		if err := json.Unmarshal(op.Spec, &spec); err != nil {
			return nil, err
		}
		return s.b.PreviewUp(ctx, spec)
	case KindPreviewDestroy:
		var launch string
		if err := json.Unmarshal(op.Spec, &launch); err != nil {
			return nil, err
		}
		return s.b.PreviewDestroy(ctx, launch)
	case KindBuildRun:
		var spec automation.BuildSpec
		if err := json.Unmarshal(op.Spec, &spec); err != nil {
			return nil, err
		}
		return s.b.BuildRun(ctx, spec)
	}
	return nil, fmt.Errorf("unknown operation kind %q", op.Kind)
}

func reasonOf(err error) string {
	var e *automation.Error
	if errors.As(err, &e) && e.Reason != "" {
		return e.Reason
	}
	return err.Error()
}

func (s *Server) withLinks(op *Operation) *Operation {
	if op == nil {
		return nil
	}
	op.Links = map[string]string{"self": "/v1/operations/" + op.ID, "events": "/v1/operations/" + op.ID + "/events"}
	return op
}

// putPreview validates the whole request (body, path, spec) and reports
// every problem in one 400 before anything is persisted or run.
func (s *Server) putPreview(w http.ResponseWriter, r *http.Request) {
	const op = "preview up"
	launch := r.PathValue("launch")
	var spec automation.PreviewSpec
	var p validate.Problems
	noQuery(r, &p)
	q := decodeStrict(w, r, &spec, &p)
	if q.has("launch") && spec.Launch != launch {
		p.Add("launch", "must match the path (%q), got %q", launch, spec.Launch)
	}
	spec.Launch = launch
	var specErr error
	if q.complete {
		specErr = automation.ValidatePreviewRequest(spec, q.has)
	}
	if err := automation.Invalid(op, automation.PreviewStack(launch), &p, specErr, nil); err != nil {
		writeBackendError(w, err)
		return
	}
	if lc, ok := s.b.(limitChecker); ok {
		if err := lc.CheckPreviewLimits(r.Context(), spec); err != nil {
			writeBackendError(w, err)
			return
		}
	}
	s.accept(w, KindPreviewUp, launch, spec)
}

func (s *Server) deletePreview(w http.ResponseWriter, r *http.Request) {
	const op = "preview destroy"
	launch := r.PathValue("launch")
	var p validate.Problems
	noQuery(r, &p)
	noBody(w, r, &p)
	if err := automation.Invalid(op, automation.PreviewStack(launch), &p, automation.ValidLaunch(op, launch), nil); err != nil {
		writeBackendError(w, err)
		return
	}
	s.accept(w, KindPreviewDestroy, launch, launch)
}

func (s *Server) getPreview(w http.ResponseWriter, r *http.Request) {
	launch := r.PathValue("launch")
	if err := automation.ValidLaunch("preview get", launch); err != nil {
		writeBackendError(w, err)
		return
	}
	res, err := s.b.PreviewGet(r.Context(), launch)
	op, hasOp := s.store.latest(KindPreviewUp, launch)
	if err != nil {
		// A preview being created has no stack yet: report the operation.
		if automation.IsNotFound(err) && hasOp && !op.done() {
			writeJSON(w, http.StatusOK, map[string]any{"launch": launch, "state": "queued", "operation": s.withLinks(op)})
			return
		}
		writeBackendError(w, err)
		return
	}
	body := map[string]any{"preview": res}
	if hasOp {
		op.Events = nil
		body["operation"] = s.withLinks(op)
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) listPreviews(w http.ResponseWriter, r *http.Request) {
	items, err := s.b.PreviewList(r.Context())
	if err != nil {
		writeBackendError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"previews": items})
}

func (s *Server) postBuild(w http.ResponseWriter, r *http.Request) {
	var spec automation.BuildSpec
	var p validate.Problems
	noQuery(r, &p)
	q := decodeStrict(w, r, &spec, &p)
	var specErr error
	if q.complete {
		specErr = automation.ValidateBuildRequest(spec, q.has)
	}
	if err := automation.Invalid("build run", automation.BuildStack(spec.ID), &p, specErr, nil); err != nil {
		writeBackendError(w, err)
		return
	}
	if lc, ok := s.b.(limitChecker); ok {
		if err := lc.CheckBuildLimits(r.Context(), spec); err != nil {
			writeBackendError(w, err)
			return
		}
	}
	s.accept(w, KindBuildRun, spec.ID, spec)
}

func (s *Server) getBuild(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := automation.ValidBuild("build get", id); err != nil {
		writeBackendError(w, err)
		return
	}
	res, err := s.b.BuildGet(r.Context(), id)
	op, hasOp := s.store.latest(KindBuildRun, id)
	if err != nil {
		if automation.IsNotFound(err) && hasOp && !op.done() {
			writeJSON(w, http.StatusOK, map[string]any{"id": id, "state": "queued", "operation": s.withLinks(op)})
			return
		}
		writeBackendError(w, err)
		return
	}
	body := map[string]any{"build": res}
	if hasOp {
		op.Events = nil
		body["operation"] = s.withLinks(op)
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) getOperation(w http.ResponseWriter, r *http.Request) {
	op, ok := s.store.get(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, "not-found", "no such operation", nil)
		return
	}
	writeJSON(w, http.StatusOK, s.withLinks(op))
}

// streamEvents follows an operation as newline-delimited JSON events until
// it finishes (the last line is the final operation) or the client leaves.
func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := s.store.get(id); !ok {
		writeError(w, http.StatusNotFound, "not-found", "no such operation", nil)
		return
	}
	ch, unsubscribe := s.store.subscribe(id)
	defer unsubscribe()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	sent := 0
	for {
		op, _ := s.store.get(id)
		for ; sent < len(op.Events); sent++ {
			if enc.Encode(op.Events[sent]) != nil {
				return
			}
		}
		if op.done() {
			op.Events = nil
			_ = enc.Encode(map[string]any{"type": "operation", "operation": s.withLinks(op)})
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
		select {
		case <-ch:
		case <-r.Context().Done():
			return
		case <-time.After(15 * time.Second):
		}
	}
}

func writeBackendError(w http.ResponseWriter, err error) {
	var e *automation.Error
	if !errors.As(err, &e) {
		writeError(w, http.StatusInternalServerError, "internal", err.Error(), nil)
		return
	}
	status := map[automation.Kind]int{
		automation.KindInvalid:  http.StatusBadRequest,
		automation.KindNotFound: http.StatusNotFound,
		automation.KindConflict: http.StatusConflict,
		automation.KindTimeout:  http.StatusGatewayTimeout,
		automation.KindCanceled: http.StatusServiceUnavailable,
		automation.KindFailed:   http.StatusBadGateway,
	}[e.Kind]
	if status == 0 {
		status = http.StatusInternalServerError
	}
	writeError(w, status, string(e.Kind), e.Error(), e.Fields)
}

func writeError(w http.ResponseWriter, status int, code, msg string, fields []validate.FieldError) {
	body := map[string]any{"error": code, "message": msg}
	if len(fields) > 0 {
		body["fields"] = fields
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
