package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	"riverqueue.com/riverui"
	"riverqueue.com/riverui/uiendpoints"
)

// opArgs is the River job of one operation: its record's id and the
// validated spec (so River's UI shows what each job does). The record,
// written before the job, stays the source of truth a worker reads.
type opArgs struct {
	OperationID string          `json:"operationId"`
	OpKind      string          `json:"kind"`
	Target      string          `json:"target"`
	Spec        json.RawMessage `json:"spec"`
}

func (opArgs) Kind() string { return "apphub_operation" }

// expiryArgs is the leader's periodic sweep for expired previews.
type expiryArgs struct{}

func (expiryArgs) Kind() string { return "apphub_expiry" }

// engine is what the queue needs from a River client, whatever its driver
// (River's client is generic over the driver's transaction type).
type engine interface {
	// insert enqueues a job; a takeover's job goes ahead of new work.
	insert(ctx context.Context, args opArgs, takeover bool) (int64, error)
	cancel(ctx context.Context, jobID int64) error
	insertDelivery(ctx context.Context, args deliveryArgs) (int64, error)
	// state is River's state of the job; "" when River has no such job.
	state(ctx context.Context, jobID int64) (rivertype.JobState, error)
	start(ctx context.Context) error
	stop(ctx context.Context) error
	stopAndCancel(ctx context.Context) error
	ui(logger *slog.Logger, prefix string) (*riverui.Handler, error)
}

type riverEngine[TTx any] struct{ client *river.Client[TTx] }

// maxAttempts bounds retries of infrastructure failures (a crashed or
// stopped replica, a lost database); an operation that fails on its own
// terms is finished as failed and not retried.
const maxAttempts = 10

func newRiverEngine[TTx any](ctx context.Context, driver riverdriver.Driver[TTx], cfg *river.Config) (*riverEngine[TTx], error) {
	migrator, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("river migrations: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, fmt.Errorf("river migrations: %w", err)
	}
	client, err := river.NewClient(driver, cfg)
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	return &riverEngine[TTx]{client: client}, nil
}

// Job priorities (River: 1 is first): an operation taken over from a dead
// replica has already waited its turn once.
const (
	priorityTakeover = 1
	priorityNew      = 2
)

func (e *riverEngine[TTx]) insert(ctx context.Context, args opArgs, takeover bool) (int64, error) {
	priority := priorityNew
	if takeover {
		priority = priorityTakeover
	}
	res, err := e.client.Insert(ctx, args, &river.InsertOpts{MaxAttempts: maxAttempts, Priority: priority})
	if err != nil {
		return 0, fmt.Errorf("enqueueing operation %s: %w", args.OperationID, err)
	}
	return res.Job.ID, nil
}

func (e *riverEngine[TTx]) insertDelivery(ctx context.Context, args deliveryArgs) (int64, error) {
	res, err := e.client.Insert(ctx, args, &river.InsertOpts{MaxAttempts: deliveryAttempts, Priority: priorityNew})
	if err != nil {
		return 0, fmt.Errorf("enqueueing a callback for %s: %w", args.OperationID, err)
	}
	return res.Job.ID, nil
}

func (e *riverEngine[TTx]) cancel(ctx context.Context, jobID int64) error {
	_, err := e.client.JobCancel(ctx, jobID)
	if err != nil && err != river.ErrNotFound {
		return fmt.Errorf("cancelling job %d: %w", jobID, err)
	}
	return nil
}

func (e *riverEngine[TTx]) state(ctx context.Context, jobID int64) (rivertype.JobState, error) {
	job, err := e.client.JobGet(ctx, jobID)
	if errors.Is(err, river.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return job.State, nil
}

func (e *riverEngine[TTx]) start(ctx context.Context) error { return e.client.Start(ctx) }
func (e *riverEngine[TTx]) stop(ctx context.Context) error  { return e.client.Stop(ctx) }
func (e *riverEngine[TTx]) stopAndCancel(ctx context.Context) error {
	return e.client.StopAndCancel(ctx)
}

func (e *riverEngine[TTx]) ui(logger *slog.Logger, prefix string) (*riverui.Handler, error) {
	var endpoints uiendpoints.Bundle = riverui.NewEndpoints(e.client, nil)
	return riverui.NewHandler(&riverui.HandlerOpts{Endpoints: endpoints, Logger: logger, Prefix: prefix})
}

// retryPolicy retries an interrupted operation at once: the failure that
// caused the retry (a stopped or dead replica) is already over.
type retryPolicy struct{}

func (retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().Add(time.Duration(job.Attempt) * time.Second)
}
