package queue

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apphub/apphub-infra/automation"
)

// store reads and writes operation records. The SQL is the dialect both
// drivers share; placeholders are $n.
type store struct {
	db       *sql.DB
	postgres bool
}

const opColumns = `id, kind, target, status, reason, error_kind, spec, result, attempts, job_id, replica, callback_url, created_at, started_at, finished_at`

func micros(t time.Time) int64 { return t.UTC().UnixMicro() }

func fromMicros(v int64) *time.Time {
	if v == 0 {
		return nil
	}
	t := time.UnixMicro(v).UTC()
	return &t
}

type rowScanner interface{ Scan(...any) error }

func scanOp(r rowScanner) (*Operation, error) {
	var o Operation
	var spec, result string
	var created, started, finished int64
	if err := r.Scan(&o.ID, &o.Kind, &o.Target, &o.Status, &o.Reason, &o.ErrorKind, &spec, &result,
		&o.Attempts, &o.JobID, &o.Replica, &o.CallbackURL, &created, &started, &finished); err != nil {
		return nil, err
	}
	o.Spec = json.RawMessage(spec)
	if result != "" {
		o.Result = json.RawMessage(result)
	}
	o.CreatedAt = *fromMicros(created)
	o.StartedAt, o.FinishedAt = fromMicros(started), fromMicros(finished)
	return &o, nil
}

// errBusy means the target already has an unfinished operation.
var errBusy = errors.New("an operation on this target is already queued or running")

// errFull means MaxInFlight operations are unfinished already.
var errFull = errors.New("too many operations in flight")

// insert records a queued operation; the unique index refuses a second
// unfinished one on the same target, which is returned with errBusy. With
// max > 0 the count of unfinished operations is checked by the insert
// itself, serialized (PostgreSQL: a transaction-scoped advisory lock;
// SQLite: the queue's single connection), so concurrent requests cannot
// all pass a check made before any of them was recorded.
func (s *store) insert(ctx context.Context, op *Operation, max int) (*Operation, error) {
	inserted, err := s.insertWithin(ctx, op, max)
	if err == nil && !inserted {
		return nil, errFull
	}
	if err == nil {
		return op, nil
	}
	if !isUniqueViolation(err) {
		return nil, fmt.Errorf("recording operation: %w", err)
	}
	existing, gerr := s.unfinishedOn(ctx, op.Target)
	if gerr != nil {
		return nil, gerr
	}
	if existing == nil {
		// It finished between the insert and the lookup: try once more.
		return s.insert(ctx, op, max)
	}
	return existing, errBusy
}

// inFlightLock is the advisory lock key that serializes PostgreSQL inserts.
const inFlightLock = 0x61707068 // "apph"

func (s *store) insertWithin(ctx context.Context, op *Operation, max int) (bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer func() { _ = tx.Rollback() }()
	if s.postgres && max > 0 {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, inFlightLock); err != nil {
			return false, err
		}
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO apphub_operation (id, kind, target, status, spec, callback_url, created_at)
		SELECT $1, $2, $3, $4, $5, $6, $7
		WHERE $8 <= 0 OR (SELECT COUNT(*) FROM apphub_operation WHERE finished_at = 0) < $8`,
		op.ID, op.Kind, op.Target, StatusQueued, string(op.Spec), op.CallbackURL, micros(op.CreatedAt), max)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	return n == 1, tx.Commit()
}

func isUniqueViolation(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "SQLSTATE 23505") ||
		strings.Contains(msg, "duplicate key value")
}

func (s *store) unfinishedOn(ctx context.Context, target string) (*Operation, error) {
	op, err := scanOp(s.db.QueryRowContext(ctx, `SELECT `+opColumns+` FROM apphub_operation WHERE target = $1 AND finished_at = 0`, target))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return op, err
}

func (s *store) get(ctx context.Context, id string) (*Operation, error) {
	op, err := scanOp(s.db.QueryRowContext(ctx, `SELECT `+opColumns+` FROM apphub_operation WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading operation %s: %w", id, err)
	}
	return op, nil
}

// list returns operations newest first.
func (s *store) list(ctx context.Context, f Filter) ([]*Operation, error) {
	columns := opColumns
	if !f.WithSpec {
		columns = strings.Replace(opColumns, " spec,", " '' AS spec,", 1)
	}
	q := `SELECT ` + columns + ` FROM apphub_operation WHERE 1 = 1`
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		q += fmt.Sprintf(" AND %s $%d", cond, len(args))
	}
	if f.Target != "" {
		add("target =", f.Target)
	}
	if f.Status != "" {
		add("status =", f.Status)
	}
	if f.Before != "" {
		// Newest first: the page after an operation is what was created
		// before it (ties broken by id, as the order is).
		args = append(args, f.Before)
		n := len(args)
		q += fmt.Sprintf(` AND (created_at < (SELECT created_at FROM apphub_operation WHERE id = $%d)
			OR (created_at = (SELECT created_at FROM apphub_operation WHERE id = $%d) AND id < $%d))`, n, n, n)
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	args = append(args, f.Limit)
	q += fmt.Sprintf(" ORDER BY created_at DESC, id DESC LIMIT $%d", len(args))
	ops, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("listing operations: %w", err)
	}
	if ops == nil {
		ops = []*Operation{}
	}
	return ops, nil
}

// countUnfinished is the number of queued plus running operations.
func (s *store) countUnfinished(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM apphub_operation WHERE finished_at = 0`).Scan(&n)
	return n, err
}

// setJob records the operation's first job; a worker that fetched the job
// before this write may have recorded it already (claim).
func (s *store) countByStatus(ctx context.Context) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT status, COUNT(*) FROM apphub_operation WHERE finished_at = 0 GROUP BY status`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{StatusQueued: 0, StatusRunning: 0}
	for rows.Next() {
		var status string
		var n int
		if err := rows.Scan(&status, &n); err != nil {
			return nil, err
		}
		out[status] = n
	}
	return out, rows.Err()
}

func (s *store) setJob(ctx context.Context, id string, jobID int64) error {
	_, err := s.db.ExecContext(ctx, `UPDATE apphub_operation SET job_id = $1 WHERE id = $2 AND job_id = 0`, jobID, id)
	return err
}

// claim marks an operation running for one attempt, only while it is
// unfinished and owned by this job (or by no job yet: River can hand the
// job to a worker before Enqueue has recorded it); a takeover hands the
// operation to a newer job, and the older one then claims nothing.
func (s *store) claim(ctx context.Context, id string, jobID int64, replica string, now time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE apphub_operation
		SET status = $1, started_at = $2, attempts = attempts + 1, replica = $3, job_id = $5
		WHERE id = $4 AND (job_id = $5 OR job_id = 0) AND finished_at = 0`, StatusRunning, micros(now), replica, id, jobID)
	if err != nil {
		return false, fmt.Errorf("claiming operation %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// finish records the final status; a finished operation is never changed
// (changed is false then).
func (s *store) finish(ctx context.Context, id, status, reason, errKind string, result json.RawMessage, now time.Time) (changed bool, err error) {
	res, err := s.db.ExecContext(ctx, `UPDATE apphub_operation
		SET status = $1, reason = $2, error_kind = $3, result = $4, finished_at = $5
		WHERE id = $6 AND finished_at = 0`, status, reason, errKind, string(result), micros(now), id)
	if err != nil {
		return false, fmt.Errorf("finishing operation %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// finishJob finishes an operation only while it is unfinished and still
// names jobID as its job.
func (s *store) finishJob(ctx context.Context, id string, jobID int64, status, reason, errKind string, now time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE apphub_operation
		SET status = $1, reason = $2, error_kind = $3, finished_at = $4
		WHERE id = $5 AND job_id = $6 AND finished_at = 0`, status, reason, errKind, micros(now), id, jobID)
	if err != nil {
		return false, fmt.Errorf("finishing operation %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// cancelQueued ends an operation no replica has claimed.
func (s *store) cancelQueued(ctx context.Context, id, reason string, now time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE apphub_operation
		SET status = $1, reason = $2, error_kind = $3, finished_at = $4
		WHERE id = $5 AND status = $6 AND finished_at = 0`, StatusCanceled, reason, string(automation.KindCanceled), micros(now), id, StatusQueued)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// requeue puts a running operation back in the queue under a new job.
func (s *store) requeue(ctx context.Context, id string, jobID int64) error {
	_, err := s.db.ExecContext(ctx, `UPDATE apphub_operation SET status = $1, job_id = $2
		WHERE id = $3 AND finished_at = 0`, StatusQueued, jobID, id)
	return err
}

// release returns a running operation to queued (shutdown mid-run).
func (s *store) release(ctx context.Context, id string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE apphub_operation SET status = $1
		WHERE id = $2 AND finished_at = 0`, StatusQueued, id)
	return err
}

func (s *store) requestCancel(ctx context.Context, id string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE apphub_operation SET cancel_requested = 1 WHERE id = $1`, id)
	return err
}

func (s *store) cancelRequested(ctx context.Context, id string) bool {
	var v int
	_ = s.db.QueryRowContext(ctx, `SELECT cancel_requested FROM apphub_operation WHERE id = $1`, id).Scan(&v)
	return v == 1
}

// unfinishedWithJob lists queued and running operations that have a job.
func (s *store) unfinishedWithJob(ctx context.Context) ([]*Operation, error) {
	return s.query(ctx, `SELECT `+opColumns+` FROM apphub_operation WHERE finished_at = 0 AND job_id <> 0`)
}

func (s *store) query(ctx context.Context, q string, args ...any) ([]*Operation, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Operation
	for rows.Next() {
		op, err := scanOp(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, op)
	}
	return out, rows.Err()
}

// orphans are queued operations without a job: the process that recorded
// them died before it enqueued one.
func (s *store) orphans(ctx context.Context, olderThan time.Time) ([]*Operation, error) {
	return s.query(ctx, `SELECT `+opColumns+` FROM apphub_operation
		WHERE finished_at = 0 AND job_id = 0 AND created_at < $1`, micros(olderThan))
}

func (s *store) addEvent(ctx context.Context, id string, seq int, e automation.Event) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO apphub_operation_event (operation_id, seq, body) VALUES ($1, $2, $3)`, id, seq, string(b))
	return err
}

func (s *store) lastSeq(ctx context.Context, id string) (int, error) {
	var n sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT MAX(seq) FROM apphub_operation_event WHERE operation_id = $1`, id).Scan(&n)
	return int(n.Int64), err
}

// events returns an operation's events after seq, oldest first.
func (s *store) events(ctx context.Context, id string, after, limit int) ([]automation.Event, int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT seq, body FROM apphub_operation_event
		WHERE operation_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, id, after, limit)
	if err != nil {
		return nil, after, fmt.Errorf("reading events: %w", err)
	}
	defer rows.Close()
	var out []automation.Event
	for rows.Next() {
		var body string
		if err := rows.Scan(&after, &body); err != nil {
			return nil, after, err
		}
		var e automation.Event
		if err := json.Unmarshal([]byte(body), &e); err != nil {
			return nil, after, err
		}
		out = append(out, e)
	}
	return out, after, rows.Err()
}

func (s *store) addDelivery(ctx context.Context, id string, d DeliveryAttempt) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO apphub_delivery (operation_id, url, event, attempt, status_code, error, at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, id, d.URL, d.Event, d.Attempt, d.StatusCode, d.Error, micros(d.At))
	return err
}

func (s *store) deliveries(ctx context.Context, id string) ([]DeliveryAttempt, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT url, event, attempt, status_code, error, at FROM apphub_delivery
		WHERE operation_id = $1 ORDER BY at, attempt`, id)
	if err != nil {
		return nil, fmt.Errorf("reading deliveries: %w", err)
	}
	defer rows.Close()
	var out []DeliveryAttempt
	for rows.Next() {
		var d DeliveryAttempt
		var at int64
		if err := rows.Scan(&d.URL, &d.Event, &d.Attempt, &d.StatusCode, &d.Error, &at); err != nil {
			return nil, err
		}
		d.At = *fromMicros(at)
		out = append(out, d)
	}
	return out, rows.Err()
}
