package queue

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	_ "modernc.org/sqlite" // database/sql driver "sqlite", pure Go

	"github.com/apphub/apphub-infra/automation"
)

// Executor runs one operation; events go to sink as they happen.
type Executor func(ctx context.Context, op *Operation, sink func(automation.Event)) (any, error)

// Config configures a Queue. Zero values take the documented defaults.
type Config struct {
	// DatabaseURL selects the driver: postgres:// (or postgresql://) for
	// replicas sharing one queue; sqlite://PATH or "" for an embedded
	// SQLite file, default <StateDir>/queue.db.
	DatabaseURL string
	// StateDir holds the SQLite file and the stack lease files.
	StateDir string
	// Workers bounds the operations this replica runs at once. Default 4.
	Workers int
	// MaxInFlight bounds queued plus running operations across replicas,
	// checked and recorded in one step in the database (Enqueue returns
	// ErrFull beyond it). 0: no bound.
	MaxInFlight int
	// TakeoverAfter is how long an operation may look orphaned (its
	// replica's lease gone) before another replica takes it over. Default 10s.
	TakeoverAfter time.Duration
	// ExpiryInterval is how often the leader looks for expired previews
	// (Expire). Default 1m; Expire nil disables it.
	ExpiryInterval time.Duration
	Expire         func(ctx context.Context) error
	// Execute runs an operation. Required to work jobs; nil makes a queue
	// that only records and reads (apphubctl operation ...).
	Execute Executor
	// OnChange is told of every status change this replica makes (queued,
	// running, and the final one), with the operation as recorded. It runs
	// on the worker's path: keep it short (metrics, enqueue a delivery).
	OnChange func(ctx context.Context, op *Operation)
	// Deliver POSTs callbacks (EnqueueDelivery); OnDelivery is told of
	// each attempt (metrics).
	Deliver    Deliverer
	OnDelivery func(DeliveryAttempt)
	Logger     *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Queue is the durable operation queue of one replica.
type Queue struct {
	cfg     Config
	st      *store
	eng     engine
	lease   leaser
	replica string
	closers []func()

	mu      sync.Mutex
	running map[string]context.CancelCauseFunc
	wake    map[string][]chan struct{}
	stopped chan struct{}
	wg      sync.WaitGroup
}

// Driver reports which database a URL selects, or an error naming what
// is wrong with it.
func Driver(databaseURL string) (string, error) {
	if databaseURL == "" {
		return "sqlite", nil
	}
	u, err := url.Parse(databaseURL)
	if err != nil {
		return "", fmt.Errorf("must be a URL such as postgres://user@host/db or sqlite:///path/queue.db: %v", redactErr(err))
	}
	switch u.Scheme {
	case "postgres", "postgresql":
		if u.Host == "" && u.Query().Get("host") == "" {
			return "", fmt.Errorf("postgres URL needs a host, got %q", Redact(databaseURL))
		}
		return "postgres", nil
	case "sqlite":
		if sqlitePath(u) == "" {
			return "", fmt.Errorf("sqlite URL needs a file path such as sqlite:///var/lib/apphub/queue.db, got %q", Redact(databaseURL))
		}
		return "sqlite", nil
	}
	return "", fmt.Errorf("scheme must be postgres://, postgresql:// or sqlite://, got %q", Redact(databaseURL))
}

func sqlitePath(u *url.URL) string {
	if u.Opaque != "" {
		return u.Opaque
	}
	return u.Host + u.Path
}

// Redact hides a URL's secrets for logs and errors: the password of its
// user info and every query parameter that carries one (libpq's
// password and sslpassword, and the usual token names). A URL that does
// not parse is not echoed at all.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(a URL that does not parse)"
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), redacted)
		}
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			u.RawQuery = "(query that does not parse)"
			return u.String()
		}
		for k := range q {
			if secretParam(k) {
				q[k] = []string{redacted}
			}
		}
		u.RawQuery = q.Encode()
	}
	return u.String()
}

const redacted = "xxxxx"

// secretParam reports a query parameter that carries a secret.
func secretParam(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"password", "passwd", "pwd", "secret", "token", "apikey", "api_key", "credential"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

func redactErr(err error) string {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err.Error()
	}
	return err.Error()
}

// Defaults of Config, which the CLI's flags show too.
const (
	DefaultTakeoverAfter  = 10 * time.Second
	DefaultExpiryInterval = time.Minute
)

func (c Config) withDefaults() (Config, error) {
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.TakeoverAfter <= 0 {
		c.TakeoverAfter = DefaultTakeoverAfter
	}
	if c.ExpiryInterval <= 0 {
		c.ExpiryInterval = DefaultExpiryInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.StateDir == "" {
		return c, fmt.Errorf("queue: a state directory is required")
	}
	abs, err := filepath.Abs(c.StateDir)
	if err != nil {
		return c, fmt.Errorf("queue: state dir: %w", err)
	}
	c.StateDir = abs
	return c, nil
}

// Open connects to the database, runs River's and the service's migrations
// and prepares (but does not start) the River client.
func Open(ctx context.Context, cfg Config) (*Queue, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	driver, err := Driver(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("queue: database URL: %w", err)
	}
	q := &Queue{cfg: cfg, replica: replicaID(), running: map[string]context.CancelCauseFunc{},
		wake: map[string][]chan struct{}{}, stopped: make(chan struct{})}
	rcfg := q.riverConfig()
	if driver == "postgres" {
		err = q.openPostgres(ctx, rcfg)
	} else {
		err = q.openSQLite(ctx, rcfg)
	}
	if err != nil {
		q.Close()
		return nil, fmt.Errorf("queue: %w", err)
	}
	return q, nil
}

func replicaID() string {
	host, _ := os.Hostname()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

func (q *Queue) riverConfig() *river.Config {
	workers := river.NewWorkers()
	river.AddWorker(workers, river.WorkFunc(q.workOperation))
	river.AddWorker(workers, river.WorkFunc(q.workExpiry))
	river.AddWorker(workers, &deliveryWorker{q: q})
	cfg := &river.Config{
		ID:          strings.NewReplacer(".", "_").Replace(q.replica),
		Logger:      q.cfg.Logger.With("component", "river"),
		Queues:      map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: q.cfg.Workers}},
		Workers:     workers,
		JobTimeout:  -1, // operations bound themselves (await and build timeouts)
		MaxAttempts: maxAttempts,
		RetryPolicy: retryPolicy{},
		// The lease takeover is the fast path; River's rescue of jobs stuck
		// in running stays as the backstop.
		RescueStuckJobsAfter: time.Hour,
		FetchCooldown:        5 * time.Millisecond,
		FetchPollInterval:    250 * time.Millisecond,
	}
	if q.cfg.Expire != nil {
		cfg.PeriodicJobs = []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(q.cfg.ExpiryInterval),
			func() (river.JobArgs, *river.InsertOpts) { return expiryArgs{}, &river.InsertOpts{MaxAttempts: 1} },
			&river.PeriodicJobOpts{RunOnStart: true})}
	}
	return cfg
}

func (q *Queue) openSQLite(ctx context.Context, rcfg *river.Config) error {
	path := filepath.Join(q.cfg.StateDir, "queue.db")
	if q.cfg.DatabaseURL != "" {
		u, _ := url.Parse(q.cfg.DatabaseURL)
		path = sqlitePath(u)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("sqlite dir: %w", err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)")
	if err != nil {
		return fmt.Errorf("opening %s: %w", path, err)
	}
	// SQLite allows one writer; one connection avoids SQLITE_BUSY between
	// River's own goroutines (riversqlite's advice).
	db.SetMaxOpenConns(1)
	q.closers = append(q.closers, func() { _ = db.Close() })
	q.st = &store{db: db}
	q.lease = fileLeaser{dir: filepath.Join(q.cfg.StateDir, "leases")}
	if err := migrateSchema(ctx, db); err != nil {
		return err
	}
	eng, err := newRiverEngine(ctx, riversqlite.New(db), rcfg)
	if err != nil {
		return err
	}
	q.eng = eng
	return nil
}

func (q *Queue) openPostgres(ctx context.Context, rcfg *river.Config) error {
	pcfg, err := pgxpool.ParseConfig(q.cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("database URL: %s", redactErr(err))
	}
	// One connection per lease, one per running job, River's own.
	pcfg.MaxConns = int32(2*q.cfg.Workers + 10)
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", Redact(q.cfg.DatabaseURL), err)
	}
	q.closers = append(q.closers, pool.Close)
	db := stdlib.OpenDBFromPool(pool)
	q.closers = append([]func(){func() { _ = db.Close() }}, q.closers...)
	q.st = &store{db: db, postgres: true}
	q.lease = pgLeaser{pool: pool, pingInterval: q.cfg.TakeoverAfter / 4}
	unlock, err := migrationLock(ctx, pool)
	if err != nil {
		return err
	}
	defer unlock()
	if err := migrateSchema(ctx, db); err != nil {
		return err
	}
	eng, err := newRiverEngine(ctx, riverpgxv5.New(pool), rcfg)
	if err != nil {
		return err
	}
	q.eng = eng
	return nil
}

// migrationLock serialises replicas starting together: concurrent CREATE
// TABLE IF NOT EXISTS can still collide in PostgreSQL's catalog.
func migrationLock(ctx context.Context, pool *pgxpool.Pool) (func(), error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtextextended('apphub-migrations', 0))`); err != nil {
		conn.Release()
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	return func() {
		_, _ = conn.Exec(context.Background(), `SELECT pg_advisory_unlock(hashtextextended('apphub-migrations', 0))`)
		conn.Release()
	}, nil
}

// Replica is this process's name in operation records and River.
func (q *Queue) Replica() string { return q.replica }

// Close releases the database; call Stop first when started.
func (q *Queue) Close() {
	for _, c := range q.closers {
		c()
	}
	q.closers = nil
}
