package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/automation"
)

// echo succeeds at once with one event and the spec as its result.
func echo(_ context.Context, op *Operation, sink func(automation.Event)) (any, error) {
	sink(automation.Event{Type: "resource-done", Stack: op.Target, Resource: "test:Thing"})
	return map[string]any{"spec": json.RawMessage(op.Spec)}, nil
}

// blocking runs until its context ends, after signalling that it started.
func blocking(startedCh chan<- string) Executor {
	return func(ctx context.Context, op *Operation, sink func(automation.Event)) (any, error) {
		sink(automation.Event{Type: "resource-start", Stack: op.Target})
		startedCh <- op.ID
		<-ctx.Done()
		return nil, &automation.Error{Kind: automation.KindCanceled, Op: op.Kind, Reason: "interrupted"}
	}
}

func TestOneUnfinishedOperationPerTargetAcrossReplicas(t *testing.T) {
	drivers(t, func(t *testing.T, db backendDB) {
		ctx := context.Background()
		a, b := replica(t, db, nil), replica(t, db, nil) // not started: everything stays queued
		first, err := a.Enqueue(ctx, KindPreviewUp, "pr-1", map[string]string{"image": "r/a:1"})
		require.NoError(t, err)
		assert.Equal(t, StatusQueued, first.Status)
		assert.Equal(t, "preview/pr-1", first.Target)
		assert.NotZero(t, first.JobID, "a River job backs the record")

		for _, kind := range []string{KindPreviewUp, KindPreviewDestroy} {
			got, err := b.Enqueue(ctx, kind, "pr-1", "pr-1")
			assert.ErrorIs(t, err, ErrBusy, "%s on a busy preview, from the other replica", kind)
			require.NotNil(t, got)
			assert.Equal(t, first.ID, got.ID, "the conflict names the operation in the way")
		}
		build, err := b.Enqueue(ctx, KindBuildRun, "pr-1", map[string]string{})
		require.NoError(t, err, "builds and previews are separate targets")
		n, err := a.InFlight(ctx)
		require.NoError(t, err)
		assert.Equal(t, 2, n)

		listed, err := b.List(ctx, Filter{Target: "preview/pr-1"})
		require.NoError(t, err)
		require.Len(t, listed, 1)
		assert.Equal(t, first.ID, listed[0].ID)
		listed, err = a.List(ctx, Filter{Status: StatusQueued})
		require.NoError(t, err)
		assert.Len(t, listed, 2)
		latest, err := a.Latest(ctx, KindBuildRun, "pr-1")
		require.NoError(t, err)
		assert.Equal(t, build.ID, latest.ID)
	})
}

func TestConcurrentEnqueuesOnOneTargetAdmitExactlyOne(t *testing.T) {
	drivers(t, func(t *testing.T, db backendDB) {
		replicas := []*Queue{replica(t, db, nil), replica(t, db, nil), replica(t, db, nil)}
		var admitted, busy atomic.Int32
		errs := make(chan error, 30)
		for i := 0; i < 30; i++ {
			go func(q *Queue) {
				_, err := q.Enqueue(context.Background(), KindPreviewUp, "race", "x")
				switch {
				case err == nil:
					admitted.Add(1)
				case errors.Is(err, ErrBusy):
					busy.Add(1)
				}
				errs <- err
			}(replicas[i%3])
		}
		for i := 0; i < 30; i++ {
			if err := <-errs; err != nil && !errors.Is(err, ErrBusy) {
				t.Errorf("enqueue: %v", err)
			}
		}
		assert.Equal(t, int32(1), admitted.Load())
		assert.Equal(t, int32(29), busy.Load())
	})
}

func TestOperationRunsOnceAndEventsAreReadableFromAnyReplica(t *testing.T) {
	drivers(t, func(t *testing.T, db backendDB) {
		ctx := context.Background()
		var runs atomic.Int32
		worker := started(t, replica(t, db, func(ctx context.Context, op *Operation, sink func(automation.Event)) (any, error) {
			runs.Add(1)
			return echo(ctx, op, sink)
		}))
		reader := replica(t, db, nil)
		op, err := reader.Enqueue(ctx, KindPreviewUp, "pr-2", map[string]string{"image": "r/a:2"})
		require.NoError(t, err)
		done := waitDone(t, reader, op.ID, 20*time.Second)
		assert.Equal(t, StatusSucceeded, done.Status)
		assert.Equal(t, 1, done.Attempts)
		assert.Equal(t, worker.Replica(), done.Replica)
		assert.JSONEq(t, `{"spec":{"image":"r/a:2"}}`, string(done.Result))
		require.NotNil(t, done.StartedAt)
		require.NotNil(t, done.FinishedAt)
		assert.False(t, done.FinishedAt.Before(*done.StartedAt))
		events, seq, err := reader.Events(ctx, op.ID, 0)
		require.NoError(t, err)
		require.Len(t, events, 1)
		assert.Equal(t, 1, seq)
		assert.Equal(t, "test:Thing", events[0].Resource)
		assert.Equal(t, int32(1), runs.Load())
	})
}

func TestFailedOperationIsRecordedAndNotRetried(t *testing.T) {
	drivers(t, func(t *testing.T, db backendDB) {
		var runs atomic.Int32
		q := started(t, replica(t, db, func(context.Context, *Operation, func(automation.Event)) (any, error) {
			runs.Add(1)
			return nil, &automation.Error{Kind: automation.KindFailed, Op: "preview up", Reason: "Deployment never became available"}
		}))
		op, err := q.Enqueue(context.Background(), KindPreviewUp, "pr-3", "x")
		require.NoError(t, err)
		done := waitDone(t, q, op.ID, 20*time.Second)
		assert.Equal(t, StatusFailed, done.Status)
		assert.Equal(t, "Deployment never became available", done.Reason)
		assert.Equal(t, string(automation.KindFailed), done.ErrorKind)
		// Final in River too: its job completed, so nothing will run it again.
		require.Eventually(t, func() bool {
			state, err := q.eng.state(context.Background(), done.JobID)
			return err == nil && state == rivertype.JobStateCompleted
		}, 20*time.Second, 20*time.Millisecond)
		assert.Equal(t, int32(1), runs.Load(), "a failure of the operation itself is final")
		next, err := q.Enqueue(context.Background(), KindPreviewUp, "pr-3", "y")
		require.NoError(t, err, "a finished operation no longer blocks its target")
		assert.NotEqual(t, op.ID, next.ID)
	})
}

func TestCancelQueuedAndRunningOperations(t *testing.T) {
	drivers(t, func(t *testing.T, db backendDB) {
		ctx := context.Background()
		idle := replica(t, db, nil)
		queued, err := idle.Enqueue(ctx, KindBuildRun, "b-1", "x")
		require.NoError(t, err)
		got, err := idle.Cancel(ctx, queued.ID)
		require.NoError(t, err)
		assert.Equal(t, StatusCanceled, got.Status, "a queued operation is canceled at once")
		_, err = idle.Cancel(ctx, queued.ID)
		assert.ErrorIs(t, err, ErrFinished)

		startedCh := make(chan string, 1)
		worker := started(t, replica(t, db, blocking(startedCh)))
		running, err := idle.Enqueue(ctx, KindPreviewUp, "pr-4", "x")
		require.NoError(t, err)
		select {
		case <-startedCh:
		case <-time.After(20 * time.Second):
			t.Fatal("operation never started")
		}
		// Cancelled from a replica that is not running it: River carries it.
		_, err = idle.Cancel(ctx, running.ID)
		require.NoError(t, err)
		done := waitDone(t, idle, running.ID, 20*time.Second)
		assert.Equal(t, StatusCanceled, done.Status)
		assert.Equal(t, "canceled by request", done.Reason)
		_ = worker
	})
}

func TestShutdownRequeuesAndNextStartResumes(t *testing.T) {
	drivers(t, func(t *testing.T, db backendDB) {
		ctx := context.Background()
		startedCh := make(chan string, 1)
		first := replica(t, db, blocking(startedCh))
		fctx, cancel := context.WithCancel(ctx)
		defer cancel()
		require.NoError(t, first.Start(fctx))
		op, err := first.Enqueue(ctx, KindPreviewUp, "pr-5", "x")
		require.NoError(t, err)
		<-startedCh
		require.NoError(t, first.Stop(200*time.Millisecond))
		got, err := first.Get(ctx, op.ID)
		require.NoError(t, err)
		assert.Equal(t, StatusQueued, got.Status, "interrupted by shutdown: back in the queue")

		second := started(t, replica(t, db, echo))
		done := waitDone(t, second, op.ID, 30*time.Second)
		assert.Equal(t, StatusSucceeded, done.Status)
		assert.Equal(t, 2, done.Attempts, "run once before the restart, once after")
		events, _, err := second.Events(ctx, op.ID, 0)
		require.NoError(t, err)
		require.NotEmpty(t, events)
		assert.Equal(t, "takeover", events[1].Type, "the resumed attempt says what it resumed: %+v", events)
	})
}

func TestRecordWithoutJobIsEnqueuedBySweep(t *testing.T) {
	drivers(t, func(t *testing.T, db backendDB) {
		ctx := context.Background()
		q := replica(t, db, echo, func(c *Config) { c.TakeoverAfter = time.Second })
		// A replica that died between writing the record and its job.
		orphan := &Operation{ID: newID(time.Now()), Kind: KindBuildRun, Target: Target(KindBuildRun, "b-9"), Spec: json.RawMessage(`"x"`), CreatedAt: time.Now().Add(-time.Minute)}
		_, err := q.st.insert(ctx, orphan, 0)
		require.NoError(t, err)
		started(t, q)
		done := waitDone(t, q, orphan.ID, 20*time.Second)
		assert.Equal(t, StatusSucceeded, done.Status)
		assert.NotZero(t, done.JobID)
	})
}

func TestExpiryRunsOnTheLeaderOnly(t *testing.T) {
	drivers(t, func(t *testing.T, db backendDB) {
		var calls atomic.Int32
		expire := func(context.Context) error { calls.Add(1); return nil }
		mod := func(c *Config) { c.Expire, c.ExpiryInterval = expire, time.Second }
		started(t, replica(t, db, echo, mod))
		started(t, replica(t, db, echo, mod))
		require.Eventually(t, func() bool { return calls.Load() >= 1 }, 30*time.Second, 100*time.Millisecond)
		before := calls.Load()
		time.Sleep(4 * time.Second) // a rate over four intervals: time is what is measured
		n := calls.Load() - before
		assert.GreaterOrEqual(t, n, int32(2), "runs every interval")
		assert.LessOrEqual(t, n, int32(6), "two replicas, one leader: not once per replica per interval")
	})
}

func TestStoppingEveryReplicaMidRunLosesNothing(t *testing.T) {
	drivers(t, func(t *testing.T, db backendDB) {
		ctx := context.Background()
		// Like the Pulumi CLI on SIGINT: it takes a moment to stop.
		running := make(chan string, 8)
		slow := func(ctx context.Context, op *Operation, sink func(automation.Event)) (any, error) {
			running <- op.ID
			select {
			case <-time.After(20 * time.Second):
				return echo(ctx, op, sink)
			case <-ctx.Done():
				time.Sleep(1500 * time.Millisecond)
				return nil, &automation.Error{Kind: automation.KindCanceled, Reason: "interrupted"}
			}
		}
		var first []*Queue
		for i := 0; i < 2; i++ {
			q := replica(t, db, slow)
			require.NoError(t, q.Start(ctx))
			first = append(first, q)
		}
		var ids []string
		for i := 0; i < 8; i++ {
			op, err := first[i%2].Enqueue(ctx, KindPreviewUp, fmt.Sprintf("stop-%d", i), "x")
			require.NoError(t, err)
			ids = append(ids, op.ID)
		}
		<-running // some are running, the rest queued, when every replica stops
		for _, q := range first {
			require.NoError(t, q.Stop(500*time.Millisecond))
			q.Close()
		}
		second := []*Queue{started(t, replica(t, db, echo)), started(t, replica(t, db, echo))}
		for _, id := range ids {
			done := waitDone(t, second[0], id, 60*time.Second)
			assert.Equal(t, StatusSucceeded, done.Status, "%s", id)
		}
	})
}

// MaxInFlight holds under concurrency: many requests at once on two
// replicas (PostgreSQL) or one (SQLite) record exactly the limit.
func TestMaxInFlightHoldsUnderConcurrency(t *testing.T) {
	drivers(t, func(t *testing.T, db backendDB) {
		ctx := context.Background()
		limit := func(c *Config) { c.MaxInFlight = 10 }
		qs := []*Queue{replica(t, db, echo, limit)}
		if db.pg != nil {
			qs = append(qs, replica(t, db, echo, limit))
		}
		const requests = 60
		results := make(chan error, requests)
		var wg sync.WaitGroup
		for i := range requests {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := qs[i%len(qs)].Enqueue(ctx, KindPreviewUp, fmt.Sprintf("l-%d", i), "spec")
				results <- err
			}()
		}
		wg.Wait()
		close(results)
		accepted, full := 0, 0
		for err := range results {
			switch {
			case err == nil:
				accepted++
			case errors.Is(err, ErrFull):
				full++
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}
		assert.Equal(t, 10, accepted, "exactly the limit")
		assert.Equal(t, requests-10, full)
		n, err := qs[0].InFlight(ctx)
		require.NoError(t, err)
		assert.Equal(t, 10, n)
	})
}
