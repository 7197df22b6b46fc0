package queue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/apphub/apphub-infra/automation"
)

// EnqueueOption sets an optional part of a new operation.
type EnqueueOption func(*Operation)

// WithCallback has the operation's status changes POSTed to url.
func WithCallback(url string) EnqueueOption {
	return func(op *Operation) { op.CallbackURL = url }
}

// ErrBusy is returned by Enqueue with the operation already queued or
// running on the same target.
var ErrBusy = errBusy

// ErrFull is returned by Enqueue when Config.MaxInFlight operations are
// queued or running already.
var ErrFull = errFull

func newID(now time.Time) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return now.UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b)
}

// Enqueue records an operation and gives it to River. The record is
// written first, so a 202 is only ever sent for a persisted operation; a
// replica dying between the two steps leaves an orphan the takeover
// sweep enqueues.
func (q *Queue) Enqueue(ctx context.Context, kind, id string, spec any, opts ...EnqueueOption) (*Operation, error) {
	raw, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("encoding spec: %w", err)
	}
	now := q.cfg.Now()
	op := &Operation{ID: newID(now), Kind: kind, Target: Target(kind, id), Status: StatusQueued, Spec: raw, CreatedAt: now.UTC().Truncate(time.Microsecond)}
	for _, o := range opts {
		o(op)
	}
	got, err := q.st.insert(ctx, op, q.cfg.MaxInFlight)
	if err != nil {
		return got, err
	}
	if err := q.enqueueJob(ctx, op); err != nil {
		_, _ = q.st.finish(context.WithoutCancel(ctx), op.ID, StatusFailed, err.Error(), "internal", nil, q.cfg.Now())
		return nil, err
	}
	got, err = q.Get(ctx, op.ID)
	if err == nil && got != nil && got.Status == StatusQueued {
		q.changed(ctx, got)
	}
	return got, err
}

// changed tells OnChange, if any, of a status change.
func (q *Queue) changed(ctx context.Context, op *Operation) {
	if q.cfg.OnChange != nil && op != nil {
		q.cfg.OnChange(context.WithoutCancel(ctx), op)
	}
}

// changedID re-reads an operation and tells OnChange.
func (q *Queue) changedID(ctx context.Context, id string) {
	if q.cfg.OnChange == nil {
		return
	}
	if op, err := q.st.get(context.WithoutCancel(ctx), id); err == nil {
		q.changed(ctx, op)
	}
}

// Counts returns the number of unfinished operations by status, across
// replicas.
func (q *Queue) Counts(ctx context.Context) (map[string]int, error) {
	return q.st.countByStatus(ctx)
}

func (q *Queue) enqueueJob(ctx context.Context, op *Operation) error {
	jobID, err := q.eng.insert(ctx, opArgs{OperationID: op.ID, OpKind: op.Kind, Target: op.Target, Spec: op.Spec}, false)
	if err != nil {
		return err
	}
	return q.st.setJob(ctx, op.ID, jobID)
}

// Get returns an operation without its events, or nil when there is none.
func (q *Queue) Get(ctx context.Context, id string) (*Operation, error) {
	return q.st.get(ctx, id)
}

// List returns operations newest first.
func (q *Queue) List(ctx context.Context, f Filter) ([]*Operation, error) {
	return q.st.list(ctx, f)
}

// Latest returns the newest operation on a target, or nil.
func (q *Queue) Latest(ctx context.Context, kind, id string) (*Operation, error) {
	ops, err := q.st.list(ctx, Filter{Target: Target(kind, id), Limit: 1})
	if err != nil || len(ops) == 0 {
		return nil, err
	}
	return ops[0], nil
}

// InFlight is the number of queued plus running operations, all replicas.
func (q *Queue) InFlight(ctx context.Context) (int, error) { return q.st.countUnfinished(ctx) }

// Events returns an operation's events after seq and the last seq read.
func (q *Queue) Events(ctx context.Context, id string, after int) ([]automation.Event, int, error) {
	return q.st.events(ctx, id, after, 500)
}

// ErrFinished is returned by Cancel for an operation that already ended.
var ErrFinished = errors.New("the operation has already finished")

// Cancel stops an operation: a queued one is canceled at once; a running
// one has its context canceled (here, or through River on the replica
// running it), which interrupts the Pulumi CLI gracefully, and ends as
// canceled once the CLI has stopped.
func (q *Queue) Cancel(ctx context.Context, id string) (*Operation, error) {
	op, err := q.st.get(ctx, id)
	if err != nil || op == nil {
		return nil, err
	}
	if op.Done() {
		return op, ErrFinished
	}
	if err := q.st.requestCancel(ctx, id); err != nil {
		return nil, fmt.Errorf("cancelling %s: %w", id, err)
	}
	if op.JobID != 0 {
		if err := q.eng.cancel(ctx, op.JobID); err != nil {
			return nil, err
		}
	}
	q.mu.Lock()
	local, ok := q.running[id]
	q.mu.Unlock()
	if ok {
		local(errCanceled)
	} else if op.Status == StatusQueued {
		// Nobody runs it: the record ends here (River has dropped the job);
		// a worker that claimed it meanwhile sees the request instead.
		changed, err := q.st.cancelQueued(ctx, id, errCanceled.Error(), q.cfg.Now())
		if err != nil {
			return nil, err
		}
		if changed {
			q.notify(id)
			q.changedID(ctx, id)
		}
	}
	return q.st.get(ctx, id)
}

// Wait returns a channel that is signalled when the operation changes on
// this replica; readers poll as well, for changes made by other replicas.
func (q *Queue) Wait(id string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	q.mu.Lock()
	q.wake[id] = append(q.wake[id], ch)
	q.mu.Unlock()
	return ch, func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		subs := q.wake[id]
		for i, c := range subs {
			if c == ch {
				q.wake[id] = append(subs[:i], subs[i+1:]...)
				break
			}
		}
		if len(q.wake[id]) == 0 {
			delete(q.wake, id)
		}
	}
}

func (q *Queue) notify(id string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, ch := range q.wake[id] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (q *Queue) track(id string, cancel context.CancelCauseFunc) {
	q.mu.Lock()
	q.running[id] = cancel
	q.mu.Unlock()
}

func (q *Queue) untrack(id string) {
	q.mu.Lock()
	delete(q.running, id)
	q.mu.Unlock()
}
