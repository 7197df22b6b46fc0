package queue

import (
	"context"
	"time"
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
		if op.Status == StatusQueued {
			if fetched, err := q.eng.running(ctx, op.JobID); err != nil || !fetched {
				continue
			}
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
