package main

import (
	"context"
	"os"
	"path/filepath"

	"github.com/apphub/apphub-infra/automation"
	"github.com/apphub/apphub-infra/internal/validate"
	"github.com/apphub/apphub-infra/queue"
)

// queueURL is the operation queue's database: --database-url, else
// $APPHUB_DATABASE_URL, else "" (the embedded SQLite file).
func (g *globals) queueURL() string {
	if g.databaseURL != "" {
		return g.databaseURL
	}
	return os.Getenv("APPHUB_DATABASE_URL")
}

// checkDatabaseURL names the setting the caller used.
func (g *globals) checkDatabaseURL(p *validate.Problems, changed bool) {
	field, value := "--database-url", g.databaseURL
	if !changed {
		field, value = "APPHUB_DATABASE_URL", os.Getenv("APPHUB_DATABASE_URL")
	}
	if changed && value == "" {
		p.Add(field, "must not be empty")
		return
	}
	if value == "" {
		return
	}
	if _, err := queue.Driver(value); err != nil {
		p.Add(field, "%v", err)
	}
}

// stackBackend is where stack state goes: --backend-url, else
// $PULUMI_BACKEND_URL, else, with a PostgreSQL queue, that same database
// through Pulumi's DIY postgres backend (so every replica sees every
// stack), else the Manager's default (file://<state-dir>).
func (g *globals) stackBackend() string {
	if g.backendURL != "" {
		return g.backendURL
	}
	if env := os.Getenv("PULUMI_BACKEND_URL"); env != "" {
		return env
	}
	if driver, err := queue.Driver(g.queueURL()); err == nil && driver == "postgres" {
		return g.queueURL()
	}
	return ""
}

// stateDirAbs is the state directory the Manager would use.
func (g *globals) stateDirAbs() (string, error) {
	dir := g.stateDir
	if dir == "" {
		dir = os.Getenv("APPHUB_STATE_DIR")
	}
	if dir == "" {
		dir = ".pulumi-state"
	}
	return filepath.Abs(dir)
}

// openQueue opens the queue for reading and cancelling (no worker).
func (g *globals) openQueue(ctx context.Context) (*queue.Queue, error) {
	dir, err := g.stateDirAbs()
	if err != nil {
		return nil, err
	}
	q, err := queue.Open(ctx, queue.Config{DatabaseURL: g.queueURL(), StateDir: dir})
	if err != nil {
		return nil, &automation.Error{Kind: automation.KindFailed, Op: "queue", Reason: err.Error(), Err: err}
	}
	return q, nil
}
