package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apphub/apphub-infra/automation"
	"github.com/apphub/apphub-infra/internal/validate"
	"github.com/apphub/apphub-infra/queue"
)

// expire queues a destroy of every preview whose ttlSeconds have passed
// and of every build stack past its retention; River runs it on the
// leader only. A stack with an operation under way is left for the next
// round.
func (s *Server) expire(ctx context.Context) error {
	perr := s.expirePreviews(ctx)
	berr := s.expireBuilds(ctx)
	return errors.Join(perr, berr)
}

// expireBuilds destroys build stacks whose last update is older than the
// retention: the Job is gone by then (its TTL), the image stays.
func (s *Server) expireBuilds(ctx context.Context) error {
	items, err := s.b.BuildList(ctx)
	if err != nil {
		return err
	}
	retention := s.buildRetention(ctx)
	for _, it := range items {
		last, err := time.Parse(time.RFC3339, it.LastUpdate)
		if err != nil || it.UpdateInProgress || time.Since(last) < retention {
			continue
		}
		op, err := s.q.Enqueue(ctx, queue.KindBuildDestroy, it.ID, it.ID)
		switch {
		case errors.Is(err, queue.ErrBusy):
		case err != nil:
			s.opts.Logger.Warn("expiring build", "build", it.ID, "err", err)
		default:
			s.m.expiries.Inc()
			s.opts.Logger.Info("build past its retention: destroy queued", "build", it.ID, "lastUpdate", it.LastUpdate, "retention", retention.String(), "operation", op.ID)
		}
	}
	return nil
}

func (s *Server) buildRetention(ctx context.Context) time.Duration {
	if s.opts.BuildRetention > 0 {
		return s.opts.BuildRetention
	}
	if j, ok := s.b.(jobTTLer); ok {
		if ttl, err := j.BuildJobTTL(ctx); err == nil && ttl > 0 {
			return ttl + 24*time.Hour
		}
	}
	return 25 * time.Hour
}

func (s *Server) expirePreviews(ctx context.Context) error {
	items, err := s.b.PreviewList(ctx)
	if err != nil {
		return err
	}
	for _, it := range items {
		p, err := s.b.PreviewGet(ctx, it.Launch)
		if err != nil || !p.Expired {
			continue
		}
		op, err := s.q.Enqueue(ctx, queue.KindPreviewDestroy, it.Launch, it.Launch)
		switch {
		case errors.Is(err, queue.ErrBusy):
		case err != nil:
			s.opts.Logger.Warn("expiring preview", "launch", it.Launch, "err", err)
		default:
			s.m.expiries.Inc()
			s.opts.Logger.Info("preview expired: destroy queued", "launch", it.Launch, "expiresAt", p.ExpiresAt, "operation", op.ID)
		}
	}
	return nil
}

// operationFilter reads ?stack=preview-<launch>|build-<id>&status=…&limit=…
// &before=<operation id>&spec=true.
func operationFilter(r *http.Request, p *validate.Problems) queue.Filter {
	f := queue.Filter{Limit: defaultPage}
	var err error
	for key, v := range queryParams(r, p, "stack", "status", "limit", "before", "spec") {
		switch key {
		case "stack":
			if f.Target, err = queue.StackTarget(v); err != nil {
				p.Add("stack", "%v", err)
			}
		case "status":
			if err := queue.ValidStatus(v); err != nil {
				p.Add("status", "%v", err)
			}
			f.Status = v
		case "limit":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxPage {
				p.Add("limit", "must be a number 1-%d, got %q", maxPage, v)
			}
			f.Limit = n
		case "before":
			if err := queue.ValidID(v); err != nil {
				p.Add("before", "%v", err)
			}
			f.Before = v
		case "spec":
			if v != "true" && v != "false" {
				p.Add("spec", "must be true or false, got %q", v)
			}
			f.WithSpec = v == "true"
		}
	}
	return f
}

// Pages of operation lists: small by default, each operation without its
// request unless ?spec=true asks.
const (
	defaultPage = 50
	maxPage     = 200
)

// queryParams reads a query strictly: a malformed one (a ';' separator, a
// bad escape), a parameter given twice or one this request does not take
// is a problem named as the caller wrote it, never silently dropped.
func queryParams(r *http.Request, p *validate.Problems, allowed ...string) map[string]string {
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		p.Add("query", "must be name=value pairs joined by '&': %v", err)
	}
	out := map[string]string{}
	for key, vs := range vals {
		switch {
		case !slices.Contains(allowed, key):
			p.Add(key, "unknown query parameter: this request takes %s", strings.Join(allowed, ", "))
		case len(vs) > 1:
			p.Add(key, "is given %d times; give it once", len(vs))
		default:
			out[key] = vs[0]
		}
	}
	return out
}

func (s *Server) listOperations(w http.ResponseWriter, r *http.Request) {
	var p validate.Problems
	f := operationFilter(r, &p)
	if err := automation.Invalid("operation list", "", &p, nil, nil); err != nil {
		writeBackendError(w, err)
		return
	}
	ops, err := s.q.List(r.Context(), f)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", err.Error(), nil)
		return
	}
	for _, op := range ops {
		withLinks(op)
	}
	body := map[string]any{"operations": ops}
	if len(ops) == f.Limit {
		next := r.URL.Query()
		next.Set("before", ops[len(ops)-1].ID)
		body["links"] = map[string]string{"next": "/v1/operations?" + next.Encode()}
	}
	writeJSON(w, http.StatusOK, body)
}

// operation reads the path's operation or answers 404.
func (s *Server) operation(w http.ResponseWriter, r *http.Request) (*queue.Operation, bool) {
	id := r.PathValue("id")
	if err := queue.ValidID(id); err != nil {
		var p validate.Problems
		p.Add("id", "%v", err)
		writeBackendError(w, automation.Invalid("operation", "", &p, nil, nil))
		return nil, false
	}
	op, err := s.q.Get(r.Context(), id)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", err.Error(), nil)
		return nil, false
	}
	if op == nil {
		writeError(w, http.StatusNotFound, "not-found", "no such operation", nil)
		return nil, false
	}
	return op, true
}

func (s *Server) getOperation(w http.ResponseWriter, r *http.Request) {
	op, ok := s.operation(w, r)
	if !ok {
		return
	}
	events, _, err := s.q.Events(r.Context(), op.ID, 0)
	if err == nil {
		op.Events = events
	}
	if deliveries, err := s.q.Deliveries(r.Context(), op.ID); err == nil {
		op.Deliveries = deliveries
	}
	writeJSON(w, http.StatusOK, withLinks(op))
}

// cancelOperation cancels a queued operation at once and a running one
// through the Automation API (the CLI is interrupted); 202 while it stops.
func (s *Server) cancelOperation(w http.ResponseWriter, r *http.Request) {
	var p validate.Problems
	noQuery(r, &p)
	noBody(w, r, &p)
	if err := automation.Invalid("operation cancel", "", &p, nil, nil); err != nil {
		writeBackendError(w, err)
		return
	}
	if _, ok := s.operation(w, r); !ok {
		return
	}
	op, err := s.q.Cancel(r.Context(), r.PathValue("id"))
	if errors.Is(err, queue.ErrFinished) {
		writeConflict(w, err.Error(), op)
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error(), nil)
		return
	}
	status := http.StatusOK
	if !op.Done() {
		status = http.StatusAccepted
	}
	writeJSON(w, status, withLinks(op))
}

// streamEvents follows an operation as newline-delimited JSON events until
// it finishes (the last line is the final operation) or the client leaves.
// Events come from the database, so any replica can serve any operation.
func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request) {
	op, ok := s.operation(w, r)
	if !ok {
		return
	}
	wake, unsubscribe := s.q.Wait(op.ID)
	defer unsubscribe()
	liftWriteDeadline(w)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	seq := 0
	for {
		// Read the status first: events written before it finished are
		// then all in the read that follows.
		cur, err := s.q.Get(r.Context(), op.ID)
		if err != nil || cur == nil {
			return
		}
		var events []automation.Event
		if events, seq, err = s.q.Events(r.Context(), op.ID, seq); err != nil {
			return
		}
		for _, e := range events {
			if enc.Encode(e) != nil {
				return
			}
		}
		if len(events) == 500 {
			continue
		}
		if cur.Done() {
			_ = enc.Encode(map[string]any{"type": "operation", "operation": withLinks(cur)})
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
		select {
		case <-wake:
		case <-r.Context().Done():
			return
		case <-time.After(250 * time.Millisecond):
		}
	}
}
