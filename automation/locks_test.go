package automation

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/automation/internal/pulumistate"
	"github.com/apphub/apphub-infra/internal/testing/pgtest"
)

// A lock is broken only when its holder is provably dead; the same rules
// hold for the file backend's files and the postgres backend's rows.
func TestStaleLocksAreBrokenOnlyWhenTheHolderIsProvablyDead(t *testing.T) {
	since := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	locks := map[string]pulumistate.Lock{
		"dead-here":      {Pid: 999999, Username: "svc", Hostname: "this-host", Timestamp: since.Add(-time.Hour)},
		"other-host":     {Pid: 42, Username: "svc", Hostname: "replica-b", Timestamp: since.Add(time.Second)},
		"other-host-old": {Pid: 43, Username: "svc", Hostname: "replica-b", Timestamp: since.Add(-2 * time.Hour)},
		"third-host":     {Pid: 44, Username: "ops", Hostname: "laptop", Timestamp: since.Add(time.Second)},
	}
	tests := []struct {
		name     string
		takeover *Takeover
		left     []string
	}{
		{"no takeover: only this host's dead process", nil, []string{"other-host", "other-host-old", "third-host"}},
		{"takeover of replica-b: its lock since the attempt began", &Takeover{Host: "replica-b", Since: since}, []string{"other-host-old", "third-host"}},
	}
	stores := map[string]func(t *testing.T) (string, func(name string, l pulumistate.Lock), func() []string){
		"file":     fileLockBackend,
		"postgres": pgLockBackend,
	}
	for storeName, open := range stores {
		for _, tt := range tests {
			t.Run(storeName+"/"+tt.name, func(t *testing.T) {
				backend, put, left := open(t)
				for name, l := range locks {
					put(name, l)
				}
				m := &Manager{opts: Options{BackendURL: backend, Now: time.Now}, hostname: "this-host"}
				t.Cleanup(func() {
					if m.closeLocks != nil {
						m.closeLocks()
					}
				})
				ctx := context.Background()
				if tt.takeover != nil {
					ctx = WithTakeover(ctx, *tt.takeover)
				}
				cleared, err := m.clearStaleLocks(ctx, "apphub-preview", "preview-x")
				require.NoError(t, err)
				assert.Len(t, cleared, len(locks)-len(tt.left), "%v", cleared)
				want := tt.left
				if storeName == "file" {
					want = nil
					for _, l := range tt.left {
						want = append(want, l, l+" (attrs)")
					}
				}
				assert.ElementsMatch(t, want, left(), "a broken lock leaves no attributes file either")
			})
		}
	}
}

func fileLockBackend(t *testing.T) (string, func(string, pulumistate.Lock), func() []string) {
	root := t.TempDir()
	dir := filepath.Join(root, ".pulumi", "locks", "organization", "apphub-preview", "preview-x")
	require.NoError(t, os.MkdirAll(dir, 0o700))
	put := func(name string, l pulumistate.Lock) {
		b, _ := json.Marshal(l)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name+".json"), b, 0o600))
		// gocloud's fileblob keeps the blob's attributes beside it.
		require.NoError(t, os.WriteFile(filepath.Join(dir, name+".json.attrs"), []byte(`{}`), 0o600))
	}
	left := func() []string {
		entries, _ := os.ReadDir(dir)
		var out []string
		for _, e := range entries {
			name, attrs := strings.CutSuffix(e.Name(), ".json.attrs")
			if !attrs {
				name = strings.TrimSuffix(e.Name(), ".json")
			}
			if attrs {
				name += " (attrs)"
			}
			out = append(out, name)
		}
		return out
	}
	return "file://" + root, put, left
}

// pgLockBackend is the DIY postgres backend's table (schema.sql of
// pkg/backend/diy/postgres) in a throwaway database.
func pgLockBackend(t *testing.T) (string, func(string, pulumistate.Lock), func() []string) {
	pg := pgtest.Require(t)
	url, err := pg.NewDatabase(context.Background(), "locks")
	require.NoError(t, err)
	db, err := sql.Open("pgx", url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	_, err = db.Exec(`CREATE TABLE pulumi_state (key TEXT PRIMARY KEY, data JSON NOT NULL, updated_at TIMESTAMPTZ NOT NULL DEFAULT now())`)
	require.NoError(t, err)
	prefix := ".pulumi/locks/organization/apphub-preview/preview-x/"
	put := func(name string, l pulumistate.Lock) {
		b, _ := json.Marshal(l)
		_, err := db.Exec(`INSERT INTO pulumi_state (key, data) VALUES ($1, $2)`, prefix+name+".json", string(b))
		require.NoError(t, err)
	}
	left := func() []string {
		rows, err := db.Query(`SELECT key FROM pulumi_state ORDER BY key`)
		require.NoError(t, err)
		defer rows.Close()
		var out []string
		for rows.Next() {
			var k string
			require.NoError(t, rows.Scan(&k))
			out = append(out, k[len(prefix):len(k)-len(".json")])
		}
		return out
	}
	return url, put, left
}
