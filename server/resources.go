package server

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/apphub/apphub-infra/automation"
	"github.com/apphub/apphub-infra/internal/validate"
	"github.com/apphub/apphub-infra/queue"
)

// accept records an operation in the queue; the 202 is sent only after
// the record is in the database.
func (s *Server) accept(w http.ResponseWriter, r *http.Request, kind, target string, spec any, opts ...queue.EnqueueOption) {
	op, err := s.q.Enqueue(r.Context(), kind, target, spec, opts...)
	if errors.Is(err, queue.ErrFull) {
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusTooManyRequests, "busy", fmt.Sprintf("%d operations in flight; retry later", s.opts.MaxInFlight), nil)
		return
	}
	if errors.Is(err, queue.ErrBusy) {
		writeConflict(w, err.Error(), op)
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error(), nil)
		return
	}
	w.Header().Set("Location", "/v1/operations/"+op.ID)
	writeJSON(w, http.StatusAccepted, withLinks(op))
}

func withLinks(op *queue.Operation) *queue.Operation {
	if op == nil {
		return nil
	}
	op.Links = map[string]string{"self": "/v1/operations/" + op.ID, "events": "/v1/operations/" + op.ID + "/events"}
	return op
}

// previewRequest and buildRequest are the bodies: the spec, and where the
// service reports the operation's progress.
type previewRequest struct {
	automation.PreviewSpec
	CallbackURL string `json:"callbackUrl,omitempty"`
}

type buildRequest struct {
	automation.BuildSpec
	CallbackURL string `json:"callbackUrl,omitempty"`
}

// callback checks a request's callbackUrl and returns its enqueue option.
func (s *Server) callback(p *validate.Problems, given bool, raw string) []queue.EnqueueOption {
	if !given {
		return nil
	}
	if err := checkCallbackURL(raw, s.opts.CallbackPolicy); err != nil {
		p.Add("callbackUrl", "%v", err)
	} else if len(s.opts.WebhookSecret) == 0 {
		p.Add("callbackUrl", "this service has no webhook secret to sign callbacks with (APPHUB_WEBHOOK_SECRET or --webhook-secret-file)")
	}
	return []queue.EnqueueOption{queue.WithCallback(raw)}
}

// putPreview validates the whole request (body, path, spec) and reports
// every problem in one 400 before anything is persisted or run.
func (s *Server) putPreview(w http.ResponseWriter, r *http.Request) {
	const op = "preview up"
	launch := r.PathValue("launch")
	var req previewRequest
	var p validate.Problems
	noQuery(r, &p)
	q := decodeStrict(w, r, &req, &p)
	spec := req.PreviewSpec
	cb := s.callback(&p, q.has("callbackUrl"), req.CallbackURL)
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
	if qc, ok := s.b.(quotaChecker); ok {
		if err := qc.CheckPreviewQuota(r.Context(), spec); err != nil {
			writeBackendError(w, err)
			return
		}
	}
	s.accept(w, r, queue.KindPreviewUp, launch, spec, cb...)
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
	s.accept(w, r, queue.KindPreviewDestroy, launch, launch)
}

func (s *Server) getPreview(w http.ResponseWriter, r *http.Request) {
	launch := r.PathValue("launch")
	if err := automation.ValidLaunch("preview get", launch); err != nil {
		writeBackendError(w, err)
		return
	}
	res, err := s.b.PreviewGet(r.Context(), launch)
	s.withOperation(w, r, queue.KindPreviewUp, launch, "preview", res, err)
}

// withOperation answers a GET of a preview or build with its newest
// operation; one being created has no stack yet and is reported queued.
func (s *Server) withOperation(w http.ResponseWriter, r *http.Request, kind, id, key string, res any, err error) {
	op, opErr := s.q.Latest(r.Context(), kind, id)
	if opErr != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "queue database: "+opErr.Error(), nil)
		return
	}
	if err != nil {
		if automation.IsNotFound(err) && op != nil && !op.Done() {
			idKey := map[string]string{"preview": "launch", "build": "id"}[key]
			writeJSON(w, http.StatusOK, map[string]any{idKey: id, "state": "queued", "operation": withLinks(op)})
			return
		}
		writeBackendError(w, err)
		return
	}
	body := map[string]any{key: res}
	if op != nil {
		body["operation"] = withLinks(op)
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
	var req buildRequest
	var p validate.Problems
	noQuery(r, &p)
	q := decodeStrict(w, r, &req, &p)
	spec := req.BuildSpec
	cb := s.callback(&p, q.has("callbackUrl"), req.CallbackURL)
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
	s.accept(w, r, queue.KindBuildRun, spec.ID, spec, cb...)
}

func (s *Server) getBuild(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := automation.ValidBuild("build get", id); err != nil {
		writeBackendError(w, err)
		return
	}
	res, err := s.b.BuildGet(r.Context(), id)
	s.withOperation(w, r, queue.KindBuildRun, id, "build", res, err)
}

func (s *Server) listBuilds(w http.ResponseWriter, r *http.Request) {
	var p validate.Problems
	noQuery(r, &p)
	if err := automation.Invalid("build list", "", &p, nil, nil); err != nil {
		writeBackendError(w, err)
		return
	}
	items, err := s.b.BuildList(r.Context())
	if err != nil {
		writeBackendError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"builds": items})
}

func (s *Server) deleteBuild(w http.ResponseWriter, r *http.Request) {
	const op = "build destroy"
	id := r.PathValue("id")
	var p validate.Problems
	noQuery(r, &p)
	noBody(w, r, &p)
	if err := automation.Invalid(op, automation.BuildStack(id), &p, automation.ValidBuild(op, id), nil); err != nil {
		writeBackendError(w, err)
		return
	}
	s.accept(w, r, queue.KindBuildDestroy, id, id)
}

// buildLogs streams a build's logs as plain text; ?follow=true keeps the
// response open until the Job ends. A failure before the first byte is an
// error response; after it, a last line says what went wrong.
func (s *Server) buildLogs(w http.ResponseWriter, r *http.Request) {
	const op = "build logs"
	id := r.PathValue("id")
	var p validate.Problems
	follow := false
	if v, ok := queryParams(r, &p, "follow")["follow"]; ok {
		if v != "true" && v != "false" {
			p.Add("follow", "must be true or false, got %q", v)
		}
		follow = v == "true"
	}
	if err := automation.Invalid(op, automation.BuildStack(id), &p, automation.ValidBuild(op, id), nil); err != nil {
		writeBackendError(w, err)
		return
	}
	if follow {
		// A follow lasts as long as the build, which outlives any write
		// timeout a plain response has.
		liftWriteDeadline(w)
	}
	fw := &flushWriter{w: w}
	err := s.b.BuildLogs(r.Context(), id, follow, fw)
	switch {
	case err == nil || r.Context().Err() != nil:
	case !fw.started:
		writeBackendError(w, err)
	default:
		fmt.Fprintf(fw, "\nerror: %v\n", err)
	}
}

// flushWriter sends each write at once (a follow is read as it comes).
type flushWriter struct {
	w       http.ResponseWriter
	started bool
}

func (f *flushWriter) Write(b []byte) (int, error) {
	if !f.started {
		f.w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		f.w.Header().Set("X-Content-Type-Options", "nosniff")
		f.started = true
	}
	n, err := f.w.Write(b)
	if fl, ok := f.w.(http.Flusher); ok {
		fl.Flush()
	}
	return n, err
}
