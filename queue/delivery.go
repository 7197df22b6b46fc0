package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"
)

// Callbacks are River jobs too, so a delivery survives the replica that
// queued it and is retried with backoff by whichever replica fetches it;
// every attempt is recorded on the operation.

// Delivery is one event to POST.
type Delivery struct {
	OperationID string
	URL         string
	Event       string // e.g. operation.succeeded
	Body        []byte
	Attempt     int
}

// Deliverer POSTs a delivery and returns the receiver's HTTP status; an
// error (or a status outside 2xx) is retried.
type Deliverer func(ctx context.Context, d Delivery) (status int, err error)

// DeliveryAttempt is one recorded attempt.
type DeliveryAttempt struct {
	URL        string    `json:"url"`
	Event      string    `json:"event"`
	Attempt    int       `json:"attempt"`
	StatusCode int       `json:"statusCode,omitempty"`
	Error      string    `json:"error,omitempty"`
	At         time.Time `json:"at"`
}

type deliveryArgs struct {
	OperationID string `json:"operationId"`
	URL         string `json:"url"`
	Event       string `json:"event"`
	Body        string `json:"body"`
}

func (deliveryArgs) Kind() string { return "apphub_callback" }

// deliveryAttempts bounds retries: with the backoff below, the last attempt
// comes about 4 minutes after the first (2+4+…+128 s).
const deliveryAttempts = 8

// deliveryWorker has its own retry schedule: 2, 4, 8 … s, at most 10 min.
type deliveryWorker struct {
	river.WorkerDefaults[deliveryArgs]
	q *Queue
}

func (w *deliveryWorker) NextRetry(job *river.Job[deliveryArgs]) time.Time {
	d := time.Duration(1<<min(job.Attempt, 9)) * time.Second
	return time.Now().Add(min(d, 10*time.Minute))
}

func (w *deliveryWorker) Timeout(*river.Job[deliveryArgs]) time.Duration { return 30 * time.Second }

func (w *deliveryWorker) Work(ctx context.Context, job *river.Job[deliveryArgs]) error {
	q := w.q
	if q.cfg.Deliver == nil {
		return river.JobSnooze(time.Minute) // a replica that cannot deliver leaves it to one that can
	}
	a := job.Args
	status, err := q.cfg.Deliver(ctx, Delivery{OperationID: a.OperationID, URL: a.URL, Event: a.Event, Body: []byte(a.Body), Attempt: job.Attempt})
	if err == nil && (status < 200 || status > 299) {
		err = fmt.Errorf("receiver answered %d", status)
	}
	rec := DeliveryAttempt{URL: a.URL, Event: a.Event, Attempt: job.Attempt, StatusCode: status, At: q.cfg.Now().UTC()}
	if err != nil {
		rec.Error = err.Error()
	}
	if rerr := q.st.addDelivery(context.WithoutCancel(ctx), a.OperationID, rec); rerr != nil {
		q.cfg.Logger.Warn("recording a delivery", "id", a.OperationID, "err", rerr)
	}
	if q.cfg.OnDelivery != nil {
		q.cfg.OnDelivery(rec)
	}
	if err != nil && job.Attempt >= deliveryAttempts {
		q.cfg.Logger.Warn("callback given up", "id", a.OperationID, "url", a.URL, "event", a.Event, "attempts", job.Attempt, "err", err)
	}
	return err
}

// EnqueueDelivery queues an event for url.
func (q *Queue) EnqueueDelivery(ctx context.Context, opID, url, event string, body []byte) error {
	_, err := q.eng.insertDelivery(ctx, deliveryArgs{OperationID: opID, URL: url, Event: event, Body: string(body)})
	return err
}

// Deliveries lists an operation's delivery attempts, oldest first.
func (q *Queue) Deliveries(ctx context.Context, opID string) ([]DeliveryAttempt, error) {
	return q.st.deliveries(ctx, opID)
}
