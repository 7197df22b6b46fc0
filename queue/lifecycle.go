package queue

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/riverqueue/river"
)

// Start starts the River client (fetching and working jobs) and the
// takeover sweep. It needs an Execute function.
func (q *Queue) Start(ctx context.Context) error {
	if q.cfg.Execute == nil {
		return errors.New("queue: Start needs an Execute function")
	}
	if err := q.eng.start(ctx); err != nil {
		return fmt.Errorf("queue: starting River: %w", err)
	}
	q.wg.Add(1)
	go func() {
		defer q.wg.Done()
		q.sweep(ctx)
	}()
	return nil
}

// Stop lets running operations finish within grace, then cancels the rest;
// they go back to the queue and resume on the next start of any replica.
func (q *Queue) Stop(grace time.Duration) error {
	select {
	case <-q.stopped:
		return nil
	default:
		close(q.stopped)
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := q.eng.stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		hard, hcancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer hcancel()
		err = q.eng.stopAndCancel(hard)
	}
	q.wg.Wait()
	return err
}

// UI returns River's web UI and API mounted at prefix; it runs until ctx ends.
func (q *Queue) UI(ctx context.Context, prefix string) (http.Handler, error) {
	h, err := q.eng.ui(q.cfg.Logger.With("component", "riverui"), prefix)
	if err != nil {
		return nil, fmt.Errorf("river UI: %w", err)
	}
	if err := h.Start(ctx); err != nil {
		return nil, fmt.Errorf("river UI: %w", err)
	}
	return h, nil
}

// workExpiry runs on the leader only (River elects it for periodic jobs).
func (q *Queue) workExpiry(ctx context.Context, _ *river.Job[expiryArgs]) error {
	if q.cfg.Expire == nil {
		return nil
	}
	if err := q.cfg.Expire(ctx); err != nil {
		q.cfg.Logger.Warn("preview expiry", "err", err)
	}
	return nil
}
