package main

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/apphub/apphub-infra/automation"
	"github.com/apphub/apphub-infra/internal/netguard"
	"github.com/apphub/apphub-infra/internal/validate"
	"github.com/apphub/apphub-infra/queue"
	"github.com/apphub/apphub-infra/server"
)

type serveFlags struct {
	addr          string
	tokenFile     string
	uiTokenFile   string
	maxInFlight   int
	grace         time.Duration
	takeoverAfter time.Duration
	expiry        time.Duration
	retention     time.Duration
	webhookURL    string
	secretFile    string
	allowCIDRs    []string
	vals          flagValues
}

func newServeCmd(g *globals) *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the HTTP API for the catalog (loopback by default, bearer token required)",
		Long: `serve exposes previews and builds over HTTP:

  PUT    /v1/previews/{launch}        create or update (202 + operation)
  GET    /v1/previews/{launch}        state, URL, outputs, last update
  GET    /v1/previews                 list
  DELETE /v1/previews/{launch}        destroy (202 + operation)
  POST   /v1/builds                   run a build (202 + operation)
  GET    /v1/builds/{id}              state and image
  GET    /v1/builds/{id}/logs         the Job's logs as text (?follow=true streams until it ends)
  GET    /v1/builds                   list
  DELETE /v1/builds/{id}              destroy the Job and the stack (202 + operation)
  GET    /v1/operations               list (?stack=preview-<launch>&status=running&limit=50)
  GET    /v1/operations/{id}          queued|running|succeeded|failed|canceled, reason, timestamps
  DELETE /v1/operations/{id}          cancel (queued: at once; running: the CLI is interrupted)
  GET    /v1/operations/{id}/events   engine events as NDJSON until the operation ends
  GET    /metrics                     Prometheus metrics (same token)
  /ui/                                River's queue UI (token as bearer or Basic password)
  GET    /healthz                     no token needed

The token comes from $APPHUB_API_TOKEN or --token-file (the UI's from
$APPHUB_UI_TOKEN or --ui-token-file, else the same). Operations are River jobs:
in <state-dir>/queue.db (SQLite) by default, or in PostgreSQL with
--database-url postgres://… (or $APPHUB_DATABASE_URL), where any number of
replicas share the queue and, unless --backend-url or $PULUMI_BACKEND_URL says
otherwise, the stack state. Accepted operations are in the database before the
202; they resume after a restart, and an operation of a replica that died is
taken over by another after --takeover-after. Previews with ttlSeconds are
destroyed when they expire (checked every --expiry-interval, by one replica).
A request's "callbackUrl" and --webhook-url get every status change as a POST
signed with HMAC-SHA256 (X-Apphub-Signature-256: sha256=<hex>), retried with backoff.`,
		Example: `  APPHUB_API_TOKEN=$(openssl rand -hex 32) apphubctl serve
  apphubctl serve --addr 127.0.0.1:8787 --token-file /run/secrets/apphub-token`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			tokens, err := f.request(g, cmd)
			if err != nil {
				return err
			}
			return f.serve(cmd, g, tokens)
		},
	}
	fl, v := cmd.Flags(), &f.vals
	v.stringVar(fl, &f.addr, "addr", server.DefaultAddr, "listen address host:port")
	v.stringVar(fl, &f.tokenFile, "token-file", "", "file holding the bearer token (else $APPHUB_API_TOKEN)")
	v.intVar(fl, &f.maxInFlight, "max-in-flight", server.DefaultMaxInFlight, "queued plus running operations before 429")
	v.stringVar(fl, &f.uiTokenFile, "ui-token-file", "", "file holding the queue UI's token (else $APPHUB_UI_TOKEN, else the API token)")
	v.durationVar(fl, &f.grace, "shutdown-grace", server.DefaultShutdownGrace, "time running operations get to finish on shutdown")
	v.durationVar(fl, &f.takeoverAfter, "takeover-after", queue.DefaultTakeoverAfter, "how long an operation of a dead replica waits before another takes it over")
	v.durationVar(fl, &f.expiry, "expiry-interval", queue.DefaultExpiryInterval, "how often expired previews are looked for")
	v.durationVar(fl, &f.retention, "build-retention", 0, "how long finished build stacks are kept (0: the platform's build Job TTL + 24h)")
	v.stringVar(fl, &f.webhookURL, "webhook-url", "", "told of every operation's status changes (else $APPHUB_WEBHOOK_URL)")
	v.stringVar(fl, &f.secretFile, "webhook-secret-file", "", "file with the HMAC secret callbacks are signed with (else $APPHUB_WEBHOOK_SECRET)")
	fl.StringArrayVar(&f.allowCIDRs, "callback-allow-cidr", nil, "a private range callbacks may reach, e.g. 10.20.0.0/16 (repeatable; default: public addresses only)")
	return cmd
}

// request validates the invocation and reads the token, before the
// Manager prepares anything.
func (f *serveFlags) request(g *globals, cmd *cobra.Command) (serveTokens, error) {
	p := g.check(cmd, &f.vals)
	changed := cmd.Flags().Changed
	if !p.Has("--addr") {
		listenAddr(p, f.addr)
	}
	if !p.Has("--max-in-flight") {
		positive(p, changed("max-in-flight"), "max-in-flight", f.maxInFlight)
	}
	for name, d := range map[string]time.Duration{"--shutdown-grace": f.grace, "--takeover-after": f.takeoverAfter, "--expiry-interval": f.expiry} {
		if !p.Has(name) && d <= 0 {
			p.Add(name, "must be positive, got %s", d)
		}
	}
	if !p.Has("--build-retention") && f.retention < 0 {
		p.Add("--build-retention", "must not be negative (0: the Job TTL + 24h), got %s", f.retention)
	}
	if !p.Has("--takeover-after") && f.takeoverAfter > 0 && f.takeoverAfter < time.Second {
		p.Add("--takeover-after", "must be at least 1s (liveness is checked at a quarter of it), got %s", f.takeoverAfter)
	}
	nonEmpty(p, changed("token-file"), "token-file", f.tokenFile)
	nonEmpty(p, changed("ui-token-file"), "ui-token-file", f.uiTokenFile)
	t := serveTokens{api: readToken(p, f.tokenFile)}
	if f.uiTokenFile != "" {
		t.ui = readTokenFile(p, "--ui-token-file", f.uiTokenFile)
	} else if raw := os.Getenv("APPHUB_UI_TOKEN"); raw != "" {
		t.ui = envToken(p, "APPHUB_UI_TOKEN", raw)
	}
	allow, err := netguard.ParseAllow(f.allowCIDRs)
	if err != nil {
		p.Add("--callback-allow-cidr", "%v", err)
	}
	t.policy = netguard.Policy{Allow: allow}
	f.webhook(p, changed, &t)
	return t, invalidInput("serve", "", p, nil, nil)
}

type serveTokens struct {
	api, ui    string
	webhookURL string
	secret     []byte
	policy     netguard.Policy
}

func (f *serveFlags) serve(cmd *cobra.Command, g *globals, tokens serveTokens) error {
	// The service's stacks hold the catalog's secrets: never under the
	// empty passphrase.
	g.requirePassphrase = true
	dir, err := g.stateDirAbs()
	if err != nil {
		return err
	}
	release, err := lockStateDir(dir)
	if err != nil {
		return &automation.Error{Kind: automation.KindConflict, Op: "serve", Reason: err.Error()}
	}
	defer release()
	m, err := g.manager(cmd.Context(), false)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(g.stderr, nil))
	srv, err := server.New(cmd.Context(), m, server.Options{
		Addr: f.addr, Token: tokens.api, UIToken: tokens.ui, StateDir: m.Options().StateDir,
		DatabaseURL: g.queueURL(), Workers: g.maxConcurrent, MaxInFlight: f.maxInFlight,
		TakeoverAfter: f.takeoverAfter, ExpiryInterval: f.expiry, ShutdownGrace: f.grace, Logger: logger,
		BuildRetention: f.retention, WebhookURL: tokens.webhookURL, WebhookSecret: tokens.secret, CallbackPolicy: tokens.policy,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", f.addr, err)
	}
	if host, _, _ := net.SplitHostPort(f.addr); !isLoopback(host) {
		logger.Warn("listening beyond loopback: put TLS in front of this API", "addr", f.addr)
	}
	driver, _ := queue.Driver(g.queueURL())
	logger.Info("serving", "addr", ln.Addr().String(), "queue", driver, "replica", srv.Queue().Replica(),
		"backend", queue.Redact(m.Options().BackendURL))
	return srv.Serve(cmd.Context(), ln)
}

// listenAddr checks host:port: a numeric port (0 lets the system pick
// one, which the log reports) and a host that is empty (every interface),
// an IP or a DNS name.
func listenAddr(p *validate.Problems, addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		p.Add("--addr", "must be host:port such as 127.0.0.1:8787, got %q", addr)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		p.Add("--addr", "port must be a number 0-65535, got %q", port)
	}
	if host != "" && net.ParseIP(host) == nil && len(validation.IsDNS1123Subdomain(strings.ToLower(host))) > 0 {
		p.Add("--addr", "host must be an IP address or a DNS name, got %q", host)
	}
}

// readToken reads the bearer token from --token-file or APPHUB_API_TOKEN.
func readToken(p *validate.Problems, file string) string {
	if file != "" {
		return readTokenFile(p, "--token-file", file)
	}
	if t := os.Getenv("APPHUB_API_TOKEN"); t != "" {
		return envToken(p, "APPHUB_API_TOKEN", t)
	}
	p.Add("APPHUB_API_TOKEN", "a bearer token is required: set APPHUB_API_TOKEN or --token-file")
	return ""
}

// envToken is a token from the environment, held to the file form's
// rules: surrounding whitespace (a trailing newline from $(cat …)) goes,
// the rest must be a token.
func envToken(p *validate.Problems, name, raw string) string {
	t := strings.TrimSpace(raw)
	p.Token(name, t)
	return t
}

// webhook reads the default callback URL and the signing secret.
func (f *serveFlags) webhook(p *validate.Problems, changed func(string) bool, t *serveTokens) {
	field := "--webhook-url"
	t.webhookURL = f.webhookURL
	if !changed("webhook-url") {
		field, t.webhookURL = "APPHUB_WEBHOOK_URL", os.Getenv("APPHUB_WEBHOOK_URL")
	}
	if t.webhookURL != "" {
		if err := server.CheckCallbackURL(t.webhookURL, t.policy); err != nil {
			p.Add(field, "%v", err)
		}
	}
	nonEmpty(p, changed("webhook-secret-file"), "webhook-secret-file", f.secretFile)
	if f.secretFile != "" {
		t.secret = []byte(readTokenFile(p, "--webhook-secret-file", f.secretFile))
	} else if env := os.Getenv("APPHUB_WEBHOOK_SECRET"); env != "" {
		t.secret = []byte(env)
	}
	if t.webhookURL != "" && len(t.secret) == 0 && !p.Has("--webhook-secret-file") {
		p.Add("APPHUB_WEBHOOK_SECRET", "a webhook URL needs a secret to sign callbacks with: set APPHUB_WEBHOOK_SECRET or --webhook-secret-file")
	}
}

func readTokenFile(p *validate.Problems, field, file string) string {
	b, err := os.ReadFile(file)
	if err != nil {
		p.Add(field, "cannot be read: %v", err)
		return ""
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		p.Add(field, "holds no token: %s is empty", file)
		return ""
	}
	p.Token(field, token)
	return token
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
