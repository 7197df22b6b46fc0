package queue

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/automation"
)

// TestMain lets the test binary run as a replica in its own process, so a
// test can kill it with SIGKILL as a crashed host would be.
func TestMain(m *testing.M) {
	if os.Getenv("QUEUE_TEST_REPLICA") == "1" {
		os.Exit(runReplicaProcess())
	}
	os.Exit(m.Run())
}

// runReplicaProcess works operations that never end, reporting each start.
func runReplicaProcess() int {
	exec := func(ctx context.Context, op *Operation, sink func(automation.Event)) (any, error) {
		sink(automation.Event{Type: "resource-start", Stack: op.Target})
		fmt.Printf("started %s\n", op.ID)
		<-ctx.Done()
		return nil, ctx.Err()
	}
	q, err := Open(context.Background(), Config{DatabaseURL: os.Getenv("QUEUE_TEST_DB"), StateDir: os.Getenv("QUEUE_TEST_STATE"),
		TakeoverAfter: 2 * time.Second, Execute: exec, Logger: testLogger()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := q.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("replica %s\n", q.Replica())
	select {}
}

func TestKilledReplicasOperationIsTakenOver(t *testing.T) {
	drivers(t, func(t *testing.T, db backendDB) {
		ctx := context.Background()
		child := exec.Command(os.Args[0], "-test.run=^$")
		child.Env = append(os.Environ(), "QUEUE_TEST_REPLICA=1", "QUEUE_TEST_DB="+db.url, "QUEUE_TEST_STATE="+db.state)
		child.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		out, err := child.StdoutPipe()
		require.NoError(t, err)
		child.Stderr = os.Stderr
		require.NoError(t, child.Start())
		t.Cleanup(func() { _ = syscall.Kill(-child.Process.Pid, syscall.SIGKILL); _ = child.Wait() })
		lines := make(chan string, 8)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		readLine := func(prefix string) string {
			select {
			case l := <-lines:
				require.True(t, strings.HasPrefix(l, prefix), "child said %q", l)
				return strings.TrimPrefix(l, prefix)
			case <-time.After(30 * time.Second):
				t.Fatalf("child never said %q", prefix)
			}
			return ""
		}
		childReplica := readLine("replica ")

		observer := replica(t, db, nil)
		op, err := observer.Enqueue(ctx, KindPreviewUp, "crash", "x")
		require.NoError(t, err)
		assert.Equal(t, op.ID, readLine("started "))
		got, err := observer.Get(ctx, op.ID)
		require.NoError(t, err)
		assert.Equal(t, StatusRunning, got.Status)
		assert.Equal(t, childReplica, got.Replica)

		var runs atomic.Int32
		survivor := started(t, replica(t, db, func(ctx context.Context, op *Operation, sink func(automation.Event)) (any, error) {
			runs.Add(1)
			return echo(ctx, op, sink)
		}))
		// Two sweeps a takeover-interval apart find the operation's lease
		// held by the live child: it is not taken.
		suspects := map[string]time.Time{op.ID: time.Now().Add(-time.Hour)}
		survivor.sweepOnce(ctx, suspects)
		survivor.sweepOnce(ctx, suspects)
		got, err = observer.Get(ctx, op.ID)
		require.NoError(t, err)
		assert.Equal(t, childReplica, got.Replica, "a live replica's operation is not taken")
		assert.Zero(t, runs.Load(), "a live replica's operation is not taken")

		killed := time.Now()
		require.NoError(t, syscall.Kill(-child.Process.Pid, syscall.SIGKILL))
		done := waitDone(t, observer, op.ID, 30*time.Second)
		takeover := time.Since(killed)
		t.Logf("%s: taken over and finished %.1fs after SIGKILL (TakeoverAfter 2s)", db.name, takeover.Seconds())
		assert.Equal(t, StatusSucceeded, done.Status)
		assert.Equal(t, survivor.Replica(), done.Replica)
		assert.Equal(t, 2, done.Attempts)
		assert.Equal(t, int32(1), runs.Load(), "the survivor ran it once")
		assert.Less(t, takeover, 10*time.Second, "bounded by TakeoverAfter and the sweep, not River's one-hour rescue")
		events, _, err := observer.Events(ctx, op.ID, 0)
		require.NoError(t, err)
		var msgs []string
		for _, e := range events {
			if e.Type == "takeover" {
				msgs = append(msgs, e.Message)
			}
		}
		require.Len(t, msgs, 1)
		assert.Contains(t, msgs[0], childReplica)
	})
}

func TestPostgresRestartMidOperationLosesNothing(t *testing.T) {
	pgOnly(t, func(t *testing.T, db backendDB) {
		ctx := context.Background()
		var runs atomic.Int32
		startedCh := make(chan struct{}, 1)
		restarted := make(chan struct{})
		q := started(t, replica(t, db, func(ctx context.Context, op *Operation, sink func(automation.Event)) (any, error) {
			runs.Add(1)
			startedCh <- struct{}{}
			<-restarted // the operation is mid-run while the database restarts
			return echo(ctx, op, sink)
		}))
		op, err := q.Enqueue(ctx, KindPreviewUp, "pg-restart", "x")
		require.NoError(t, err)
		<-startedCh
		require.NoError(t, db.pg.Restart(time.Second), db.pg.Log())
		close(restarted)
		done := waitDone(t, q, op.ID, 60*time.Second)
		assert.Equal(t, StatusSucceeded, done.Status)
		assert.Equal(t, 1, done.Attempts)
		assert.Equal(t, int32(1), runs.Load(), "not run twice")
		next, err := q.Enqueue(ctx, KindPreviewDestroy, "pg-restart", "pg-restart")
		require.NoError(t, err, "the service reconnected")
		assert.Equal(t, StatusSucceeded, waitDone(t, q, next.ID, 60*time.Second).Status)
	})
}

func TestJobFetchedByADeadReplicaBeforeItsClaimIsTakenOver(t *testing.T) {
	drivers(t, func(t *testing.T, db backendDB) {
		ctx := context.Background()
		idle := replica(t, db, nil)
		op, err := idle.Enqueue(ctx, KindPreviewUp, "fetched", "x")
		require.NoError(t, err)
		// What River's fetch leaves when the fetching replica dies at once:
		// the job running, the record never claimed.
		_, err = idle.st.db.ExecContext(ctx, `UPDATE river_job SET state = 'running', attempt = 1 WHERE id = $1`, op.JobID)
		require.NoError(t, err)
		survivor := started(t, replica(t, db, echo))
		done := waitDone(t, survivor, op.ID, 30*time.Second)
		assert.Equal(t, StatusSucceeded, done.Status)
		assert.NotEqual(t, op.JobID, done.JobID, "handed to a new job")
		assert.Equal(t, 1, done.Attempts)
	})
}

// An operation whose queue job was ended outside the service (the River
// UI, SQL by hand) is finished with a reason instead of holding its stack
// and an in-flight slot for ever.
func TestJobsEndedOutsideTheServiceAreReconciled(t *testing.T) {
	drivers(t, func(t *testing.T, db backendDB) {
		ctx := context.Background()
		q := replica(t, db, echo)
		tests := []struct {
			name, target string
			end          func(jobID int64)
			status       string
			reason       string
		}{
			{"cancelled in the UI", "ui-cancel", func(id int64) { require.NoError(t, q.eng.cancel(ctx, id)) },
				StatusCanceled, "cancelled outside the service"},
			{"deleted by hand", "sql-delete", func(id int64) {
				_, err := q.st.db.ExecContext(ctx, `DELETE FROM river_job WHERE id = $1`, id)
				require.NoError(t, err)
			}, StatusFailed, "was deleted"},
		}
		for _, tt := range tests {
			op, err := q.Enqueue(ctx, KindPreviewUp, tt.target, "spec")
			require.NoError(t, err)
			require.NotZero(t, op.JobID)
			tt.end(op.JobID)
			_, err = q.Enqueue(ctx, KindPreviewUp, tt.target, "spec")
			require.ErrorIs(t, err, ErrBusy, "%s: before the sweep the stack is held", tt.name)

			q.sweepOnce(ctx, map[string]time.Time{})
			got, err := q.Get(ctx, op.ID)
			require.NoError(t, err)
			assert.Equal(t, tt.status, got.Status, tt.name)
			assert.Contains(t, got.Reason, tt.reason, tt.name)
			_, err = q.Enqueue(ctx, KindPreviewUp, tt.target, "spec")
			assert.NoError(t, err, "%s: the stack takes new work", tt.name)
		}
		n, err := q.InFlight(ctx)
		require.NoError(t, err)
		assert.Equal(t, 2, n, "only the two new operations are in flight")
	})
}

// losableLease is the real lease that the test can declare lost, as the
// lease's own check does when it cannot lock the stack again.
type losableLease struct {
	leaser
	mu    sync.Mutex
	helds []*held
}

func (l *losableLease) tryLease(ctx context.Context, target string) (*held, error) {
	h, err := l.leaser.tryLease(ctx, target)
	if h != nil {
		l.mu.Lock()
		l.helds = append(l.helds, h)
		l.mu.Unlock()
	}
	return h, err
}

// lose declares every lease handed out so far lost.
func (l *losableLease) lose() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, h := range l.helds {
		close(h.lost)
	}
	l.helds = nil
}

// An operation whose lease is lost mid-run is not left unfinished under a
// completed job: its job is retried and runs it again.
func TestLeaseLostMidOperationIsRunAgain(t *testing.T) {
	drivers(t, func(t *testing.T, db backendDB) {
		var runs atomic.Int32
		var lease *losableLease
		q := replica(t, db, func(ctx context.Context, op *Operation, sink func(automation.Event)) (any, error) {
			if runs.Add(1) == 1 {
				lease.lose()
				<-ctx.Done() // the operation stops when its lease goes
				return nil, ctx.Err()
			}
			return echo(ctx, op, sink)
		})
		lease = &losableLease{leaser: q.lease}
		q.lease = lease
		started(t, q)
		op, err := q.Enqueue(context.Background(), KindPreviewUp, "lease-lost", "x")
		require.NoError(t, err)
		done := waitDone(t, q, op.ID, 60*time.Second)
		assert.Equal(t, StatusSucceeded, done.Status, done.Reason)
		assert.Equal(t, int32(2), runs.Load(), "run again after the lease was lost")
		assert.Equal(t, 2, done.Attempts)
	})
}
