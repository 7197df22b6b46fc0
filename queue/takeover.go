package queue

import (
	"context"
	"time"

	"github.com/riverqueue/river/rivertype"

	"github.com/apphub/apphub-infra/automation"
)

// sweep looks every TakeoverAfter/2 for operations whose replica died:
//   - recorded as running while nobody holds the stack's lease (the
//     database or the kernel dropped the dead holder's lock);
//   - still queued while River has their job running: a replica fetched
//     the job and died before it claimed the record.
//
// An operation found so on two sweeps at least TakeoverAfter apart is
// handed to a new River job, which any replica may pick up; the old job,
// if River ever rescues it, finds itself superseded. The sweep also
// enqueues records whose replica died between writing the record and
// enqueueing its job.
func (q *Queue) sweep(ctx context.Context) {
	interval := q.cfg.TakeoverAfter / 2
	t := time.NewTicker(interval)
	defer t.Stop()
	suspects := map[string]time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.stopped:
			return
		case <-t.C:
		}
		q.sweepOnce(ctx, suspects)
	}
}

func (q *Queue) sweepOnce(ctx context.Context, suspects map[string]time.Time) {
	now := q.cfg.Now()
	candidates, err := q.st.unfinishedWithJob(ctx)
	if err != nil {
		q.cfg.Logger.Warn("takeover sweep", "err", err)
		return
	}
	seen := map[string]bool{}
	for _, op := range candidates {
		state, err := q.eng.state(ctx, op.JobID)
		if err != nil {
			continue
		}
		if q.reconcile(ctx, op, state) {
			continue
		}
		if op.Status == StatusQueued && state != rivertype.JobStateRunning {
			continue
		}
		seen[op.ID] = true
		h, err := q.lease.tryLease(ctx, op.Target)
		if err != nil || h == nil {
			delete(suspects, op.ID) // alive (or unknown): leave it
			continue
		}
		first, ok := suspects[op.ID]
		if !ok {
			suspects[op.ID] = now
			h.release()
			continue
		}
		if now.Sub(first) >= q.cfg.TakeoverAfter {
			q.takeOver(ctx, op, h)
			delete(suspects, op.ID)
		}
		h.release()
	}
	for id := range suspects {
		if !seen[id] {
			delete(suspects, id)
		}
	}
	orphans, err := q.st.orphans(ctx, now.Add(-q.cfg.TakeoverAfter))
	if err != nil {
		return
	}
	for _, op := range orphans {
		if err := q.enqueueJob(ctx, op); err != nil {
			q.cfg.Logger.Warn("enqueueing orphaned operation", "id", op.ID, "err", err)
		}
	}
}

// endedOutside are the River job states an operation's job reaches only
// when it was ended outside the service (River's UI, SQL by hand, retries
// run out): the service finishes the operation itself before its job
// ends, so the operation would otherwise stay unfinished, holding its
// stack (every request a 409) and an in-flight slot, for ever.
var endedOutside = map[rivertype.JobState]struct{ status, kind, reason string }{
	rivertype.JobStateCancelled: {StatusCanceled, string(automation.KindCanceled), "its queue job was cancelled outside the service (the queue UI or by hand)"},
	rivertype.JobStateDiscarded: {StatusFailed, string(automation.KindFailed), "its queue job was discarded (by hand, or after its retries ran out) before the operation finished"},
	rivertype.JobStateCompleted: {StatusFailed, string(automation.KindFailed), "its queue job completed without the operation recording a result"},
	"":                          {StatusFailed, string(automation.KindFailed), "its queue job was deleted before the operation finished"},
}

// reconcile finishes an operation whose job was ended outside the
// service, with a reason; only while the operation still names that job
// (a takeover gives it another).
func (q *Queue) reconcile(ctx context.Context, op *Operation, state rivertype.JobState) bool {
	end, ok := endedOutside[state]
	if !ok {
		return false
	}
	changed, err := q.st.finishJob(ctx, op.ID, op.JobID, end.status, end.reason, end.kind, q.cfg.Now())
	if err != nil {
		q.cfg.Logger.Warn("reconciling operation", "id", op.ID, "err", err)
		return true
	}
	if changed {
		q.cfg.Logger.Warn("operation ended: "+end.reason, "id", op.ID, "target", op.Target, "job", op.JobID, "jobState", string(state))
		q.changedID(ctx, op.ID)
	}
	return true
}

// takeOver re-reads the record under the lease (the operation may have
// just finished) and gives it a new job.
func (q *Queue) takeOver(ctx context.Context, stale *Operation, _ *held) {
	op, err := q.st.get(ctx, stale.ID)
	if err != nil || op == nil || op.Done() || op.Status != stale.Status || op.JobID != stale.JobID {
		return
	}
	jobID, err := q.eng.insert(ctx, opArgs{OperationID: op.ID, OpKind: op.Kind, Target: op.Target, Spec: op.Spec}, true)
	if err != nil {
		q.cfg.Logger.Warn("takeover", "id", op.ID, "err", err)
		return
	}
	if err := q.st.requeue(ctx, op.ID, jobID); err != nil {
		q.cfg.Logger.Warn("takeover", "id", op.ID, "err", err)
		return
	}
	q.cfg.Logger.Warn("taking over operation of a dead replica", "id", op.ID, "target", op.Target, "replica", op.Replica, "job", jobID)
}
