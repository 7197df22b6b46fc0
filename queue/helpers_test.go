package queue

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/internal/testing/pgtest"
)

// backendDB is one database both drivers' tests run against.
type backendDB struct {
	name  string
	url   string // "" is the embedded SQLite file
	state string
	pg    *pgtest.Server
}

// drivers runs fn once on SQLite and once on a throwaway PostgreSQL.
func drivers(t *testing.T, fn func(t *testing.T, db backendDB)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		fn(t, backendDB{name: "sqlite", state: t.TempDir()})
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		pg := pgtest.Require(t)
		url, err := pg.NewDatabase(context.Background(), "queue")
		require.NoError(t, err)
		fn(t, backendDB{name: "postgres", url: url, state: t.TempDir(), pg: pg})
	})
}

// pgOnly runs fn on a throwaway PostgreSQL.
func pgOnly(t *testing.T, fn func(t *testing.T, db backendDB)) {
	t.Parallel()
	pg := pgtest.Require(t)
	url, err := pg.NewDatabase(context.Background(), "queue")
	require.NoError(t, err)
	fn(t, backendDB{name: "postgres", url: url, state: t.TempDir(), pg: pg})
}

func testLogger() *slog.Logger {
	if os.Getenv("QUEUE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// replica opens a queue on db; state is shared unless the test gives each
// replica its own (as separate hosts would have).
func replica(t *testing.T, db backendDB, exec Executor, mod ...func(*Config)) *Queue {
	t.Helper()
	cfg := Config{DatabaseURL: db.url, StateDir: db.state, Workers: 4, TakeoverAfter: 2 * time.Second,
		Execute: exec, Logger: testLogger()}
	for _, m := range mod {
		m(&cfg)
	}
	q, err := Open(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(q.Close)
	return q
}

func started(t *testing.T, q *Queue) *Queue {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, q.Start(ctx))
	t.Cleanup(func() { _ = q.Stop(2 * time.Second); cancel() })
	return q
}

// waitDone polls until the operation is finished.
func waitDone(t *testing.T, q *Queue, id string, within time.Duration) *Operation {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		op, err := q.Get(context.Background(), id)
		if err == nil && op != nil && op.Done() {
			return op
		}
		if time.Now().After(deadline) {
			var state, errs string
			var attempt int
			if op != nil {
				_ = q.st.db.QueryRow(`SELECT state, attempt, CAST(errors AS TEXT) FROM river_job WHERE id = $1`, op.JobID).Scan(&state, &attempt, &errs)
			}
			t.Fatalf("operation %s did not finish: %+v (err %v); its River job: state %s attempt %d errors %s", id, op, err, state, attempt, errs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitStatus(t *testing.T, q *Queue, id, status string, within time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool {
		op, err := q.Get(context.Background(), id)
		return err == nil && op != nil && op.Status == status
	}, within, 20*time.Millisecond, "operation %s never %s", id, status)
}

func dbFile(db backendDB) string { return filepath.Join(db.state, "queue.db") }
