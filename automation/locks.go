package automation

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// lockFile is a DIY backend's lock record.
type lockFile struct {
	Pid       int       `json:"pid"`
	Username  string    `json:"username"`
	Hostname  string    `json:"hostname"`
	Timestamp time.Time `json:"timestamp"`
}

type lockEntry struct {
	key  string
	lock lockFile
}

// lockStore reads and removes the Pulumi locks of one stack where the
// backend keeps them: files of a file:// backend, rows of the postgres://
// DIY backend. Other backends have none we can read (nil store).
type lockStore interface {
	list(ctx context.Context, project, stack string) ([]lockEntry, error)
	remove(ctx context.Context, key string) error
}

func lockPrefix(project, stack string) string {
	return path.Join(".pulumi", "locks", "organization", project, stack) + "/"
}

type fileLocks struct{ root string }

func (f fileLocks) list(_ context.Context, project, stack string) ([]lockEntry, error) {
	dir := filepath.Join(f.root, filepath.FromSlash(lockPrefix(project, stack)))
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading locks: %w", err)
	}
	var out []lockEntry
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var l lockFile
		if json.Unmarshal(b, &l) == nil {
			out = append(out, lockEntry{key: p, lock: l})
		}
	}
	return out, nil
}

// remove deletes the lock and the attributes file gocloud's fileblob
// keeps beside it (<key>.attrs), as the CLI's own unlock does.
func (fileLocks) remove(_ context.Context, key string) error {
	for _, p := range []string{key, key + ".attrs"} {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("removing stale lock %s: %w", p, err)
		}
	}
	return nil
}

// pgLocks reads the DIY postgres backend's table (pkg/backend/diy/postgres:
// key TEXT, data JSON), whose table name the URL's table parameter sets.
type pgLocks struct {
	table string
	db    *sql.DB
}

func (p pgLocks) list(ctx context.Context, project, stack string) ([]lockEntry, error) {
	rows, err := p.db.QueryContext(ctx, `SELECT key, data::text FROM `+p.table+` WHERE key LIKE $1`, lockPrefix(project, stack)+"%")
	if err != nil {
		return nil, fmt.Errorf("reading locks: %w", err)
	}
	defer rows.Close()
	var out []lockEntry
	for rows.Next() {
		var key, data string
		if err := rows.Scan(&key, &data); err != nil {
			return nil, err
		}
		var l lockFile
		if json.Unmarshal([]byte(data), &l) == nil {
			out = append(out, lockEntry{key: key, lock: l})
		}
	}
	return out, rows.Err()
}

func (p pgLocks) remove(ctx context.Context, key string) error {
	if _, err := p.db.ExecContext(ctx, `DELETE FROM `+p.table+` WHERE key = $1`, key); err != nil {
		return fmt.Errorf("removing stale lock %s: %w", key, err)
	}
	return nil
}

var pgTableName = func(s string) bool {
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

// newLockStore picks the lock store of a backend URL.
func newLockStore(backendURL string) (lockStore, func(), error) {
	u, err := url.Parse(backendURL)
	if err != nil {
		return nil, func() {}, nil
	}
	switch u.Scheme {
	case "file":
		return fileLocks{root: u.Path}, func() {}, nil
	case "postgres", "postgresql":
		q := u.Query()
		table := q.Get("table")
		if table == "" {
			table = "pulumi_state"
		}
		if !pgTableName(table) {
			return nil, nil, fmt.Errorf("backend URL: table %q is not a plain SQL name", table)
		}
		q.Del("table")
		u.RawQuery = q.Encode()
		db, err := sql.Open("pgx", u.String())
		if err != nil {
			return nil, nil, fmt.Errorf("backend URL: %w", err)
		}
		db.SetMaxOpenConns(2)
		return pgLocks{table: table, db: db}, func() { _ = db.Close() }, nil
	}
	return nil, func() {}, nil
}

// locks opens the backend's lock store once.
func (m *Manager) locks() (lockStore, error) {
	m.locksOnce.Do(func() {
		m.lockStore, m.closeLocks, m.locksErr = newLockStore(m.opts.BackendURL)
	})
	return m.lockStore, m.locksErr
}
