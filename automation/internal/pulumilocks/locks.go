// Package pulumilocks reads the locks the Pulumi CLI's DIY backends keep
// for a stack (files of file://, rows of postgres://), for an operator who
// asks who holds a stack and since when. Locks are the one part of the
// backend this project reads: Pulumi's own docs tell users to inspect and
// remove a stale lock by hand; removal itself goes through `pulumi cancel`.
package pulumilocks

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

// Lock is one Pulumi lock of a stack: the DIY backend's lock record, whose
// JSON shape the tags give.
type Lock struct {
	Pid       int       `json:"pid"`
	Username  string    `json:"username"`
	Hostname  string    `json:"hostname"`
	Timestamp time.Time `json:"timestamp"`
}

// Store reads the Pulumi locks of one stack where the backend keeps them:
// files of a file:// backend, rows of the postgres:// DIY backend. Other
// backends have none we can read (nil store).
type Store interface {
	List(ctx context.Context, project, stack string) ([]Lock, error)
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
			return nil, fmt.Errorf("reading lock %s: %w", p, err)
		}
		var l Lock
		if json.Unmarshal(b, &l) == nil {
			out = append(out, l)
		}
	}
	return out, nil
}

// pgLocks reads the DIY postgres backend's table (pkg/backend/diy/postgres:
// key TEXT, data JSON), whose table name the URL's table parameter sets.
type pgLocks struct {
	table string
	db    *sql.DB
}

func (p pgLocks) List(ctx context.Context, project, stack string) ([]Lock, error) {
	rows, err := p.db.QueryContext(ctx, `SELECT data::text FROM `+p.table+` WHERE key LIKE $1`, lockPrefix(project, stack)+"%")
	if err != nil {
		return nil, fmt.Errorf("reading locks: %w", err)
	}
	defer rows.Close()
	var out []Lock
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, err
		}
		var l Lock
		if json.Unmarshal([]byte(data), &l) == nil {
			out = append(out, l)
		}
	}
	return out, rows.Err()
}

var pgTableName = func(s string) bool {
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

// NewStore picks the lock store of a backend URL; the func closes it.
func NewStore(backendURL string) (Store, func(), error) {
	dir, err := FileBackendDir(backendURL)
	if err != nil {
		return nil, nil, err
	}
	if dir != "" {
		return fileLocks{root: dir}, func() {}, nil
	}
	u, err := url.Parse(backendURL)
	if err != nil {
		return nil, func() {}, nil
	}
	switch u.Scheme {
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
