package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/apphub/apphub-infra/automation"
)

var (
	errCanceled  = errors.New("canceled by request")
	errLeaseLost = errors.New("lost the stack's lease to another replica")
)

// workOperation is River's worker for one attempt at an operation. The
// record decides whether there is anything to do: a finished operation,
// or one a takeover handed to a newer job, is not run again.
func (q *Queue) workOperation(ctx context.Context, job *river.Job[opArgs]) error {
	id := job.Args.OperationID
	h, err := q.lease.tryLease(ctx, job.Args.Target)
	if err != nil {
		return err
	}
	if h == nil {
		// A live replica works this stack (River rescued a long job that
		// is still running): look again later.
		return river.JobSnooze(q.cfg.TakeoverAfter)
	}
	defer h.release()
	op, err := q.st.get(ctx, id)
	if err != nil {
		return err
	}
	if op == nil || op.Done() || op.JobID != 0 && op.JobID != job.ID {
		return nil // finished already, or superseded by a takeover's job
	}
	previous := *op
	if ok, err := q.st.claim(ctx, id, job.ID, q.replica, q.cfg.Now()); err != nil || !ok {
		return err
	}
	if q.st.cancelRequested(ctx, id) {
		return q.finishCanceled(ctx, id)
	}
	q.changedID(ctx, id)
	return q.run(ctx, op, &previous, h)
}

func (q *Queue) run(ctx context.Context, op, previous *Operation, h *held) error {
	opCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	q.track(op.ID, cancel)
	defer q.untrack(op.ID)
	go func() {
		select {
		case <-h.lost:
			cancel(errLeaseLost)
		case <-opCtx.Done():
		}
	}()
	sink := q.sink(ctx, op.ID)
	if previous.Attempts > 0 {
		sink(automation.Event{Time: q.cfg.Now().UTC(), Type: "takeover", Stack: op.Target,
			Message: fmt.Sprintf("attempt %d by replica %s ended without finishing; replica %s takes over", previous.Attempts, previous.Replica, q.replica)})
		opCtx = automation.WithTakeover(opCtx, automation.Takeover{Host: hostOf(previous.Replica), Since: startedOrCreated(previous)})
	}
	q.cfg.Logger.Info("operation started", "id", op.ID, "kind", op.Kind, "target", op.Target, "attempt", previous.Attempts+1)
	result, err := q.cfg.Execute(opCtx, op, sink)
	cause := context.Cause(opCtx)
	switch {
	case errors.Is(cause, errLeaseLost):
		// The job stays retryable: completing it would leave the operation
		// unfinished under a completed job when the lease was only missed
		// for a moment (a database restart, another replica's brief check).
		// A retry runs it again under the lease, or finds that a takeover
		// gave it another job and ends.
		q.cfg.Logger.Warn("operation abandoned: the stack's lease was lost", "id", op.ID)
		return fmt.Errorf("operation %s: %w", op.ID, errLeaseLost)
	case err != nil && (errors.Is(cause, errCanceled) || errors.Is(cause, rivertype.ErrJobCancelledRemotely) || q.st.cancelRequested(context.WithoutCancel(ctx), op.ID)):
		return q.finishCanceled(context.WithoutCancel(ctx), op.ID)
	case err != nil && ctx.Err() != nil:
		// This replica is stopping: the operation goes back to the queue
		// and River retries it (up and destroy are idempotent).
		_ = q.st.release(context.WithoutCancel(ctx), op.ID)
		return fmt.Errorf("interrupted by shutdown: %w", err)
	}
	return q.finish(context.WithoutCancel(ctx), op, result, err)
}

func (q *Queue) finish(ctx context.Context, op *Operation, result any, err error) error {
	raw, merr := json.Marshal(result)
	if merr != nil || string(raw) == "null" {
		raw = nil
	}
	status, reason, kind := StatusSucceeded, "", ""
	if err != nil {
		status, reason, kind = StatusFailed, reasonOf(err), string(automation.KindOf(err))
	}
	// The stack work is done: the record must say so even across a
	// database restart, or a retry would run the operation again.
	var changed bool
	if ferr := retryDB(ctx, finishRetry, func() (err error) {
		changed, err = q.st.finish(ctx, op.ID, status, reason, kind, raw, q.cfg.Now())
		return err
	}); ferr != nil {
		return ferr
	}
	q.notify(op.ID)
	if changed {
		q.changedID(ctx, op.ID)
	}
	q.cfg.Logger.Info("operation finished", "id", op.ID, "kind", op.Kind, "target", op.Target, "status", status, "reason", reason)
	return nil
}

func (q *Queue) finishCanceled(ctx context.Context, id string) error {
	var changed bool
	if err := retryDB(ctx, finishRetry, func() (err error) {
		changed, err = q.st.finish(ctx, id, StatusCanceled, errCanceled.Error(), string(automation.KindCanceled), nil, q.cfg.Now())
		return err
	}); err != nil {
		return err
	}
	q.notify(id)
	if changed {
		q.changedID(ctx, id)
	}
	q.cfg.Logger.Info("operation canceled", "id", id)
	return river.JobCancel(errCanceled)
}

func reasonOf(err error) string {
	var e *automation.Error
	if errors.As(err, &e) && e.Reason != "" {
		return e.Reason
	}
	return err.Error()
}

// sink persists an operation's events in order and wakes local readers.
func (q *Queue) sink(ctx context.Context, id string) func(automation.Event) {
	bg := context.WithoutCancel(ctx)
	seq, _ := q.st.lastSeq(bg, id)
	return func(e automation.Event) {
		seq++
		if err := q.st.addEvent(bg, id, seq, e); err != nil {
			q.cfg.Logger.Warn("event not recorded", "id", id, "err", err)
		}
		q.notify(id)
	}
}

// hostOf is the host part of a replica name (host-pid-random).
func hostOf(replica string) string {
	parts := strings.Split(replica, "-")
	if len(parts) < 3 {
		return replica
	}
	return strings.Join(parts[:len(parts)-2], "-")
}

func startedOrCreated(op *Operation) time.Time {
	if op.StartedAt != nil {
		return *op.StartedAt
	}
	return op.CreatedAt
}

const finishRetry = 2 * time.Minute

// retryDB retries a database write until it succeeds or within elapses.
func retryDB(ctx context.Context, within time.Duration, write func() error) error {
	deadline := time.Now().Add(within)
	for {
		err := write()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(500 * time.Millisecond):
		}
	}
}
