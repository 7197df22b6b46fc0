package queue

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// A lease is held on a stack for the whole of an operation. It is what
// proves liveness across replicas: the lock lives in the holder's database
// session (PostgreSQL) or open file (SQLite, one host), so the operating
// system or the server drops it the moment the holder dies. A free lease
// on a stack whose operation is recorded as running therefore means its
// replica is dead.
type leaser interface {
	// tryLease returns nil while a live process holds the stack.
	tryLease(ctx context.Context, target string) (*held, error)
}

// held is a lease this process holds. lost closes if the lease could not
// be kept (its database session died and another replica took the
// stack): the operation must then stop, as another replica may run it.
type held struct {
	release func()
	lost    chan struct{}
}

// pgLeaser holds a session-level advisory lock on a connection of its own
// for each leased stack, and checks that connection every pingInterval:
// a session lost to a database restart is re-locked on a new connection
// before a takeover could see the stack free (TakeoverAfter is longer).
type pgLeaser struct {
	pool         *pgxpool.Pool
	pingInterval time.Duration
}

const lockSQL = `SELECT pg_try_advisory_lock(hashtextextended($1, 0))`

func (l pgLeaser) lock(ctx context.Context, key string) (*pgxpool.Conn, bool, error) {
	conn, err := l.pool.Acquire(ctx)
	if err != nil {
		return nil, false, err
	}
	var ok bool
	if err := conn.QueryRow(ctx, lockSQL, key).Scan(&ok); err != nil || !ok {
		conn.Release()
		return nil, false, err
	}
	return conn, true, nil
}

func (l pgLeaser) tryLease(ctx context.Context, target string) (*held, error) {
	key := "apphub-stack:" + target
	conn, ok, err := l.lock(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("lease %s: %w", target, err)
	}
	if !ok {
		return nil, nil
	}
	h := &held{lost: make(chan struct{})}
	done := make(chan struct{})
	var mu sync.Mutex
	go func() {
		bg := context.WithoutCancel(ctx)
		t := time.NewTicker(l.pingInterval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			mu.Lock()
			if conn != nil {
				if _, err := conn.Exec(bg, "SELECT 1"); err != nil {
					_ = conn.Conn().Close(bg)
					conn.Release()
					conn = nil
				}
			}
			if conn == nil {
				c, relocked, err := l.lock(bg, key)
				if err == nil && !relocked {
					close(h.lost) // another replica holds the stack now
					mu.Unlock()
					return
				}
				conn = c // nil while the database is unreachable: retry next tick
			}
			mu.Unlock()
		}
	}()
	h.release = func() {
		close(done)
		mu.Lock()
		defer mu.Unlock()
		if conn == nil {
			return
		}
		// A connection that cannot unlock is closed, which unlocks.
		if _, err := conn.Exec(context.Background(), `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, key); err != nil {
			_ = conn.Conn().Close(context.Background())
		}
		conn.Release()
	}
	return h, nil
}

// fileLeaser holds an exclusive flock on one file per stack. flock locks
// belong to the open file, so two replicas in one process exclude each
// other as two processes do.
type fileLeaser struct{ dir string }

func (l fileLeaser) tryLease(_ context.Context, target string) (*held, error) {
	if err := os.MkdirAll(l.dir, 0o700); err != nil {
		return nil, fmt.Errorf("lease dir: %w", err)
	}
	path := filepath.Join(l.dir, strings.ReplaceAll(target, "/", "_")+".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lease %s: %w", target, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, nil
		}
		return nil, fmt.Errorf("lease %s: %w", target, err)
	}
	return &held{release: func() { _ = f.Close() }, lost: make(chan struct{})}, nil
}
