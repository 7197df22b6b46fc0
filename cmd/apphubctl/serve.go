package main

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/apphub/apphub-infra/automation"
	"github.com/apphub/apphub-infra/internal/validate"
	"github.com/apphub/apphub-infra/server"
)

type serveFlags struct {
	addr        string
	tokenFile   string
	maxInFlight int
	grace       time.Duration
	vals        flagValues
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
  GET    /v1/operations/{id}          queued|running|succeeded|failed, reason, timestamps
  GET    /v1/operations/{id}/events   engine events as NDJSON until the operation ends
  GET    /healthz                     no token needed

The token comes from $APPHUB_API_TOKEN or --token-file. Accepted operations are
persisted under <state-dir>/operations before the 202 and resume after a restart.`,
		Example: `  APPHUB_API_TOKEN=$(openssl rand -hex 32) apphubctl serve
  apphubctl serve --addr 127.0.0.1:8787 --token-file /run/secrets/apphub-token`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			token, err := f.request(g, cmd)
			if err != nil {
				return err
			}
			return f.serve(cmd, g, token)
		},
	}
	fl, v := cmd.Flags(), &f.vals
	v.stringVar(fl, &f.addr, "addr", "127.0.0.1:8787", "listen address host:port")
	v.stringVar(fl, &f.tokenFile, "token-file", "", "file holding the bearer token (else $APPHUB_API_TOKEN)")
	v.intVar(fl, &f.maxInFlight, "max-in-flight", 64, "queued plus running operations before 429")
	v.durationVar(fl, &f.grace, "shutdown-grace", 30*time.Second, "time running operations get to finish on shutdown")
	return cmd
}

// request validates the invocation and reads the token, before the
// Manager prepares anything.
func (f *serveFlags) request(g *globals, cmd *cobra.Command) (string, error) {
	p := g.check(cmd, &f.vals)
	changed := cmd.Flags().Changed
	if !p.Has("--addr") {
		listenAddr(p, f.addr)
	}
	if !p.Has("--max-in-flight") {
		positive(p, changed("max-in-flight"), "max-in-flight", f.maxInFlight)
	}
	if !p.Has("--shutdown-grace") && f.grace <= 0 {
		p.Add("--shutdown-grace", "must be positive, got %s", f.grace)
	}
	nonEmpty(p, changed("token-file"), "token-file", f.tokenFile)
	token := readToken(p, f.tokenFile)
	return token, invalidInput("serve", "", p, nil, nil)
}

func (f *serveFlags) serve(cmd *cobra.Command, g *globals, token string) error {
	var srv *server.Server
	g.onEvent = func(e automation.Event) {
		if srv != nil {
			srv.Publish(e)
		}
	}
	m, err := g.manager(cmd.Context(), false)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(g.stderr, nil))
	srv, err = server.New(m, server.Options{
		Addr: f.addr, Token: token, StateDir: filepath.Join(m.Options().StateDir, "operations"),
		MaxInFlight: f.maxInFlight, ShutdownGrace: f.grace, Logger: logger,
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
	logger.Info("serving", "addr", ln.Addr().String())
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
		b, err := os.ReadFile(file)
		if err != nil {
			p.Add("--token-file", "cannot be read: %v", err)
			return ""
		}
		token := strings.TrimSpace(string(b))
		if token == "" {
			p.Add("--token-file", "holds no token: %s is empty", file)
		}
		return token
	}
	if t := os.Getenv("APPHUB_API_TOKEN"); t != "" {
		return t
	}
	p.Add("APPHUB_API_TOKEN", "a bearer token is required: set APPHUB_API_TOKEN or --token-file")
	return ""
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
