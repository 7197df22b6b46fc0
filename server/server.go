package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/apphub/apphub-infra/automation"
	"github.com/apphub/apphub-infra/internal/netguard"
	"github.com/apphub/apphub-infra/queue"
)

// Backend is what the server needs from the automation Manager. Engine
// events of an operation go to the sink automation.WithEvents put in ctx.
type Backend interface {
	PreviewUp(ctx context.Context, spec automation.PreviewSpec) (*automation.PreviewResult, error)
	PreviewDestroy(ctx context.Context, launch string) (*automation.PreviewResult, error)
	PreviewGet(ctx context.Context, launch string) (*automation.PreviewResult, error)
	PreviewList(ctx context.Context) ([]automation.PreviewListItem, error)
	BuildRun(ctx context.Context, spec automation.BuildSpec) (*automation.BuildResult, error)
	BuildGet(ctx context.Context, id string) (*automation.BuildResult, error)
	BuildList(ctx context.Context) ([]automation.BuildListItem, error)
	BuildDestroy(ctx context.Context, id string) (*automation.BuildResult, error)
	BuildLogs(ctx context.Context, id string, follow bool, w io.Writer) error
}

// quotaChecker is what a Backend may add to refuse, with a 422 before
// anything is queued, a preview the namespace's quota cannot fit now.
type quotaChecker interface {
	CheckPreviewQuota(ctx context.Context, spec automation.PreviewSpec) error
}

// jobTTLer is what a Backend may add to say how long the platform keeps
// finished build Jobs; the default build retention is that plus a day.
type jobTTLer interface {
	BuildJobTTL(ctx context.Context) (time.Duration, error)
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
	// UIToken, when set, is the token of River's queue UI under /ui/
	// instead of Token (an operator's, not the catalog's).
	UIToken string
	// StateDir holds the SQLite queue and the stack lease files.
	StateDir string
	// DatabaseURL is the queue's database: "" or sqlite://PATH for the
	// embedded SQLite file, postgres://… for replicas sharing one queue.
	DatabaseURL string
	// Workers bounds the operations this replica runs at once. Default 4.
	Workers int
	// MaxInFlight bounds queued plus running operations across replicas;
	// beyond it requests get 429. Default 64.
	MaxInFlight int
	// TakeoverAfter bounds how long an operation of a dead replica waits
	// before another replica takes it over. Default 10s.
	TakeoverAfter time.Duration
	// ExpiryInterval is how often the leader destroys expired previews
	// and builds past their retention. Default 1m.
	ExpiryInterval time.Duration
	// BuildRetention is how long a finished build's stack is kept. Default:
	// the platform's build Job TTL plus a day (25h when it cannot be read).
	BuildRetention time.Duration
	// WebhookURL, when set, is told of every operation's status changes
	// (as well as a request's own callbackUrl). WebhookSecret signs every
	// callback and is required for either. Callbacks reach public
	// addresses only, and the ranges CallbackPolicy allows (a receiver in
	// the cluster, a test server on loopback).
	WebhookURL     string
	WebhookSecret  []byte
	CallbackPolicy netguard.Policy
	// ShutdownGrace is how long running operations may finish on shutdown
	// before they are cancelled (and resumed by the next replica to start). Default 30s.
	ShutdownGrace time.Duration
	Logger        *slog.Logger
}

// Server is the HTTP API.
type Server struct {
	b    Backend
	opts Options
	q    *queue.Queue
	ui   http.Handler
	m    *metrics

	callbacks *http.Client
}

// Defaults of Options, which the CLI's flags show too.
const (
	DefaultAddr          = "127.0.0.1:8787"
	DefaultMaxInFlight   = 64
	DefaultShutdownGrace = 30 * time.Second
)

// New opens the operation queue (running its migrations).
func New(ctx context.Context, b Backend, opts Options) (*Server, error) {
	if opts.Token == "" {
		return nil, errors.New("server: a bearer token is required (APPHUB_API_TOKEN or --token-file)")
	}
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = DefaultMaxInFlight
	}
	if opts.ShutdownGrace <= 0 {
		opts.ShutdownGrace = DefaultShutdownGrace
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.WebhookURL != "" {
		if len(opts.WebhookSecret) == 0 {
			return nil, errors.New("server: a webhook URL needs a webhook secret to sign with")
		}
		if err := checkCallbackURL(opts.WebhookURL, opts.CallbackPolicy); err != nil {
			return nil, fmt.Errorf("server: webhook URL %w", err)
		}
	}
	s := &Server{b: b, opts: opts, callbacks: callbackClient(opts.CallbackPolicy)}
	s.m = newMetrics(s)
	q, err := queue.Open(ctx, queue.Config{
		DatabaseURL: opts.DatabaseURL, StateDir: opts.StateDir, Workers: opts.Workers, MaxInFlight: opts.MaxInFlight,
		TakeoverAfter: opts.TakeoverAfter, ExpiryInterval: opts.ExpiryInterval,
		Execute: queue.Dispatch(b), Expire: s.expire, OnChange: s.changed, Logger: opts.Logger,
		Deliver: s.deliver, OnDelivery: s.delivered,
	})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.q = q
	return s, nil
}

// changed is the queue's OnChange: every status change this replica made.
func (s *Server) changed(ctx context.Context, op *queue.Operation) {
	s.m.observe(op)
	s.queueCallbacks(ctx, op)
}

func (s *Server) delivered(d queue.DeliveryAttempt) {
	result := "delivered"
	if d.Error != "" {
		result = "failed"
	}
	s.m.callbacks.WithLabelValues(result).Inc()
}

// Queue is the server's operation queue.
func (s *Server) Queue() *queue.Queue { return s.q }

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	n, err := s.q.InFlight(r.Context())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "queue database: "+err.Error(), nil)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "inFlight": n, "replica": s.q.Replica()})
}

// ready is the readiness probe: the queue's database answers and the
// state directory (the SQLite queue, the file:// backend, the stacks'
// work directories) takes a write. A full or read-only disk takes the
// replica out of service instead of failing every operation it accepts.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	if _, err := s.q.InFlight(r.Context()); err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "queue database: "+err.Error(), nil)
		return
	}
	if err := writeProbe(s.opts.StateDir); err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "state directory: "+err.Error(), nil)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "replica": s.q.Replica()})
}

// writeProbe writes, syncs and removes a small file in dir.
func writeProbe(dir string) error {
	f, err := os.CreateTemp(dir, ".ready-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(make([]byte, 4096))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Serve starts working the queue, then serves until ctx ends; it then
// stops accepting requests, lets running operations finish within the
// grace period and cancels the rest, which go back to the queue.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	defer s.q.Close()
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	if err := s.startUI(workCtx); err != nil {
		return err
	}
	if err := s.q.Start(workCtx); err != nil {
		return err
	}
	srv := newHTTPServer(s.Handler())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		_ = s.q.Stop(s.opts.ShutdownGrace)
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if stopErr := s.q.Stop(s.opts.ShutdownGrace); stopErr != nil {
		s.opts.Logger.Warn("stopping the queue", "err", stopErr)
	}
	if errors.Is(err, http.ErrServerClosed) || errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	return err
}

// startUI prepares River's UI, mounted under /ui/ by Handler.
func (s *Server) startUI(ctx context.Context) error {
	ui, err := s.q.UI(ctx, "/ui")
	if err != nil {
		return err
	}
	s.ui = ui
	return nil
}

func (s *Server) authenticate(token string) func(http.HandlerFunc) http.Handler {
	want := []byte(token)
	return func(next http.HandlerFunc) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if subtle.ConstantTimeCompare(bearerToken(r), want) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="apphub"`)
				refuseUnread(w)
				writeError(w, http.StatusUnauthorized, "unauthorized", "a valid bearer token is required", nil)
				return
			}
			next(w, r)
		})
	}
}

// bearerToken is the credentials of an Authorization header in the Bearer
// scheme, whose name is case-insensitive (RFC 7235 section 2.1).
func bearerToken(r *http.Request) []byte {
	scheme, cred, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil
	}
	return []byte(strings.TrimLeft(cred, " "))
}

// refuseUnread closes the connection after a refusal, so a body the
// handler never reads (a stalled upload, a flood) is not drained first.
func refuseUnread(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
}

// authenticateUI also takes the token as a Basic password, which is how a
// browser asks for it.
func (s *Server) authenticateUI(token string) func(http.HandlerFunc) http.Handler {
	bearer := s.authenticate(token)
	return func(next http.HandlerFunc) http.Handler {
		viaBearer := bearer(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, pass, ok := r.BasicAuth(); ok {
				if subtle.ConstantTimeCompare([]byte(pass), []byte(token)) == 1 {
					next(w, r)
					return
				}
			}
			if r.Header.Get("Authorization") == "" {
				w.Header().Set("WWW-Authenticate", `Basic realm="apphub queue"`)
				refuseUnread(w)
				writeError(w, http.StatusUnauthorized, "unauthorized", "the queue UI needs the token (as a bearer token or Basic password)", nil)
				return
			}
			viaBearer.ServeHTTP(w, r)
		})
	}
}
