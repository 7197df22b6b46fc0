package main

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/apphub/apphub-infra/automation"
	"github.com/apphub/apphub-infra/server"
)

type serveFlags struct {
	addr        string
	tokenFile   string
	maxInFlight int
	grace       time.Duration
}

func newServeCmd(g *globals) *cobra.Command {
	var f serveFlags
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
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			token, err := readToken(f.tokenFile)
			if err != nil {
				return err
			}
			var srv *server.Server
			g.onEvent = func(e automation.Event) {
				if srv != nil {
					srv.Publish(e)
				}
			}
			m, err := g.manager(cmd.Context())
			if err != nil {
				return err
			}
			logger := slog.New(slog.NewJSONHandler(g.stderr, nil))
			srv, err = server.New(m, server.Options{
				Addr: f.addr, Token: token, StateDir: filepath.Join(m.Options().StateDir, "operations"),
				MaxInFlight: f.maxInFlight, ShutdownGrace: f.grace, Logger: logger,
			})
			if err != nil {
				return usageError{err}
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
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.addr, "addr", "127.0.0.1:8787", "listen address")
	fl.StringVar(&f.tokenFile, "token-file", "", "file holding the bearer token (else $APPHUB_API_TOKEN)")
	fl.IntVar(&f.maxInFlight, "max-in-flight", 64, "queued plus running operations before 429")
	fl.DurationVar(&f.grace, "shutdown-grace", 30*time.Second, "time running operations get to finish on shutdown")
	return cmd
}

func readToken(file string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", usageError{fmt.Errorf("token file: %w", err)}
		}
		return strings.TrimSpace(string(b)), nil
	}
	if t := os.Getenv("APPHUB_API_TOKEN"); t != "" {
		return t, nil
	}
	return "", usageError{fmt.Errorf("a bearer token is required: set APPHUB_API_TOKEN or --token-file")}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
