package pulumistate

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

// Lock is one Pulumi lock of a stack: where the store keeps it (Key, what
// Remove takes) and the DIY backend's lock record, whose JSON shape the
// tags give.
type Lock struct {
	Key       string    `json:"-"`
	Pid       int       `json:"pid"`
	Username  string    `json:"username"`
	Hostname  string    `json:"hostname"`
	Timestamp time.Time `json:"timestamp"`
}

// LockStore reads and removes the Pulumi locks of one stack where the
// backend keeps them: files of a file:// backend, rows of the postgres://
// DIY backend. Other backends have none we can read (nil store).
type LockStore interface {
	List(ctx context.Context, project, stack string) ([]Lock, error)
	Remove(ctx context.Context, key string) error
}

func lockPrefix(project, stack string) string {
	return path.Join(".pulumi", "locks", "organization", project, stack) + "/"
}

type fileLocks struct{ root string }

func (f fileLocks) List(_ context.Context, project, stack string) ([]Lock, error) {
	dir := filepath.Join(f.root, filepath.FromSlash(lockPrefix(project, stack)))
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading locks: %w", err)
	}
	var out []Lock
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var l Lock
		if json.Unmarshal(b, &l) == nil {
			l.Key = p
			out = append(out, l)
		}
	}
	return out, nil
}

// Remove deletes the lock and the attributes file gocloud's fileblob
// keeps beside it (<key>.attrs), as the CLI's own unlock does.
func (fileLocks) Remove(_ context.Context, key string) error {
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

func (p pgLocks) List(ctx context.Context, project, stack string) ([]Lock, error) {
	rows, err := p.db.QueryContext(ctx, `SELECT key, data::text FROM `+p.table+` WHERE key LIKE $1`, lockPrefix(project, stack)+"%")
	if err != nil {
		return nil, fmt.Errorf("reading locks: %w", err)
	}
	defer rows.Close()
	var out []Lock
	for rows.Next() {
		var key, data string
		if err := rows.Scan(&key, &data); err != nil {
			return nil, err
		}
		var l Lock
		if json.Unmarshal([]byte(data), &l) == nil {
			l.Key = key
			out = append(out, l)
		}
	}
	return out, rows.Err()
}

func (p pgLocks) Remove(ctx context.Context, key string) error {
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

// NewLockStore picks the lock store of a backend URL; the func closes it.
func NewLockStore(backendURL string) (LockStore, func(), error) {
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
