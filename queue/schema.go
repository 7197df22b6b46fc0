package queue

import (
	"context"
	"database/sql"
	"fmt"
)

// schema is the service's own tables, in SQL both SQLite and PostgreSQL
// accept. Times are Unix microseconds (0 = unset). The partial unique index
// is what makes one unfinished operation per stack hold across replicas:
// the database refuses the second insert, whichever replica makes it.
var schema = []string{
	`CREATE TABLE IF NOT EXISTS apphub_operation (
		id TEXT PRIMARY KEY,
		kind TEXT NOT NULL,
		target TEXT NOT NULL,
		status TEXT NOT NULL,
		reason TEXT NOT NULL DEFAULT '',
		error_kind TEXT NOT NULL DEFAULT '',
		spec TEXT NOT NULL,
		result TEXT NOT NULL DEFAULT '',
		attempts INTEGER NOT NULL DEFAULT 0,
		job_id BIGINT NOT NULL DEFAULT 0,
		replica TEXT NOT NULL DEFAULT '',
		cancel_requested INTEGER NOT NULL DEFAULT 0,
		callback_url TEXT NOT NULL DEFAULT '',
		created_at BIGINT NOT NULL,
		started_at BIGINT NOT NULL DEFAULT 0,
		finished_at BIGINT NOT NULL DEFAULT 0
	)`,
	`CREATE UNIQUE INDEX IF NOT EXISTS apphub_operation_one_unfinished
		ON apphub_operation (target) WHERE finished_at = 0`,
	`CREATE INDEX IF NOT EXISTS apphub_operation_target_created
		ON apphub_operation (target, created_at)`,
	`CREATE INDEX IF NOT EXISTS apphub_operation_status
		ON apphub_operation (status)`,
	`CREATE TABLE IF NOT EXISTS apphub_delivery (
		operation_id TEXT NOT NULL,
		url TEXT NOT NULL,
		event TEXT NOT NULL,
		attempt INTEGER NOT NULL,
		status_code INTEGER NOT NULL DEFAULT 0,
		error TEXT NOT NULL DEFAULT '',
		at BIGINT NOT NULL
	)`,
	`CREATE INDEX IF NOT EXISTS apphub_delivery_operation ON apphub_delivery (operation_id, at)`,
	`CREATE TABLE IF NOT EXISTS apphub_operation_event (
		operation_id TEXT NOT NULL,
		seq INTEGER NOT NULL,
		body TEXT NOT NULL,
		PRIMARY KEY (operation_id, seq)
	)`,
}

func migrateSchema(ctx context.Context, db *sql.DB) error {
	for _, stmt := range schema {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("migrating apphub tables: %w", err)
		}
	}
	return nil
}
