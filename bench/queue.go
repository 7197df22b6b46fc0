package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apphub/apphub-infra/automation"
	"github.com/apphub/apphub-infra/internal/testing/pgtest"
	"github.com/apphub/apphub-infra/queue"
)

// The queue benchmark measures what the operation queue itself costs: the
// executor does nothing, so every figure is queue overhead (record, River
// job, fetch, lease, claim, events, finish). Pulumi's own cost is the
// automation benchmark's.

// queueDriver is one way of running operations.
type queueDriver interface {
	name() string
	// submit enqueues one operation on target and returns when it is
	// accepted; started/finished are called from the executor.
	submit(ctx context.Context, target string) error
	close()
}

type queueRun struct {
	mu       sync.Mutex
	accepted map[string]time.Time // target -> accepted
	startLat []time.Duration
	done     chan string
}

func (r *queueRun) execute(_ context.Context, op *queue.Operation, sink func(automation.Event)) (any, error) {
	r.mu.Lock()
	if at, ok := r.accepted[op.Target]; ok {
		r.startLat = append(r.startLat, time.Since(at))
	}
	r.mu.Unlock()
	sink(automation.Event{Type: "resource-done", Stack: op.Target})
	return map[string]string{"ok": "yes"}, nil
}

// riverDriver is the queue package on SQLite or PostgreSQL, n replicas.
type riverDriver struct {
	label    string
	replicas []*queue.Queue
	run      *queueRun
	next     int
	mu       sync.Mutex
	cancel   context.CancelFunc
	waitDone func(ctx context.Context, target string) error
}

func newRiverDriver(ctx context.Context, label, dbURL, state string, replicas, workers int, run *queueRun) (*riverDriver, error) {
	d := &riverDriver{label: label, run: run}
	wctx, cancel := context.WithCancel(ctx)
	d.cancel = cancel
	exec := func(ctx context.Context, op *queue.Operation, sink func(automation.Event)) (any, error) {
		res, err := run.execute(ctx, op, sink)
		go func() { run.done <- op.Target }()
		return res, err
	}
	for i := 0; i < replicas; i++ {
		q, err := queue.Open(ctx, queue.Config{DatabaseURL: dbURL, StateDir: state, Workers: workers, Execute: exec,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			d.close()
			return nil, err
		}
		d.replicas = append(d.replicas, q)
		if err := q.Start(wctx); err != nil {
			d.close()
			return nil, err
		}
	}
	return d, nil
}

func (d *riverDriver) name() string { return d.label }

func (d *riverDriver) submit(ctx context.Context, target string) error {
	d.mu.Lock()
	q := d.replicas[d.next%len(d.replicas)]
	d.next++
	d.mu.Unlock()
	d.run.mu.Lock()
	d.run.accepted["preview/"+target] = time.Now()
	d.run.mu.Unlock()
	_, err := q.Enqueue(ctx, queue.KindPreviewUp, target, map[string]string{"image": "r/a:1"})
	return err
}

func (d *riverDriver) close() {
	for _, q := range d.replicas {
		_ = q.Stop(5 * time.Second)
		q.Close()
	}
	if d.cancel != nil {
		d.cancel()
	}
}

// jsonStore is the store the queue replaced, kept here as the baseline:
// one JSON file per operation rewritten at each state change (atomic
// rename), a mutex-guarded map, and a goroutine per operation.
type jsonStore struct {
	dir string
	mu  sync.Mutex
	ops map[string]map[string]any
	run *queueRun
	sem chan struct{}
	wg  sync.WaitGroup
}

func (s *jsonStore) name() string { return "JSON files (before)" }

func (s *jsonStore) write(id string, op map[string]any) error {
	b, err := json.MarshalIndent(op, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(s.dir, id+".json")
	if err := os.WriteFile(path+".tmp", b, 0o600); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

func (s *jsonStore) update(id string, fn func(map[string]any)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s.ops[id])
	return s.write(id, s.ops[id])
}

func (s *jsonStore) submit(ctx context.Context, target string) error {
	id := fmt.Sprintf("%d-%s", time.Now().UnixNano(), target)
	op := map[string]any{"id": id, "target": "preview/" + target, "status": "queued", "spec": map[string]string{"image": "r/a:1"}, "createdAt": time.Now()}
	s.mu.Lock()
	for _, o := range s.ops {
		if o["target"] == op["target"] && o["status"] != "succeeded" {
			s.mu.Unlock()
			return fmt.Errorf("busy")
		}
	}
	s.ops[id] = op
	err := s.write(id, op)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	s.run.mu.Lock()
	s.run.accepted["preview/"+target] = time.Now()
	s.run.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.sem <- struct{}{}
		defer func() { <-s.sem }()
		_ = s.update(id, func(o map[string]any) { o["status"], o["startedAt"] = "running", time.Now() })
		_, _ = s.run.execute(ctx, &queue.Operation{ID: id, Target: "preview/" + target}, func(automation.Event) {})
		_ = s.update(id, func(o map[string]any) { o["status"], o["finishedAt"] = "succeeded", time.Now() })
		s.run.done <- "preview/" + target
	}()
	return nil
}

func (s *jsonStore) close() { s.wg.Wait() }

type queueResult struct {
	Driver   string
	InFlight int
	Ops      int
	Wall     time.Duration
	StartP50 time.Duration
	StartP95 time.Duration
	Errors   int
}

// measure keeps inFlight operations outstanding until total have finished.
func measure(ctx context.Context, d queueDriver, run *queueRun, inFlight, total int) queueResult {
	res := queueResult{Driver: d.name(), InFlight: inFlight, Ops: total}
	start := time.Now()
	submitted, finished := 0, 0
	for submitted < inFlight && submitted < total {
		if err := d.submit(ctx, fmt.Sprintf("q-%d", submitted)); err != nil {
			res.Errors++
		}
		submitted++
	}
	for finished < submitted {
		select {
		case <-run.done:
		case <-ctx.Done():
			return res
		case <-time.After(60 * time.Second):
			res.Errors += submitted - finished
			return res
		}
		finished++
		if submitted < total {
			if err := d.submit(ctx, fmt.Sprintf("q-%d", submitted)); err != nil {
				res.Errors++
				finished++ // never runs
			}
			submitted++
		}
	}
	res.Wall = time.Since(start)
	run.mu.Lock()
	lat := append([]time.Duration(nil), run.startLat...)
	run.mu.Unlock()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		res.StartP50, res.StartP95 = lat[len(lat)/2], lat[len(lat)*95/100]
	}
	return res
}

func runQueueCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("queue", flag.ContinueOnError)
	fs.SetOutput(stderr)
	levels := fs.String("levels", "1,5,20", "operations in flight")
	total := fs.Int("ops", 200, "operations per measurement")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var inflight []int
	for _, f := range strings.Split(*levels, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("-levels: %q is not a positive number", f)
		}
		inflight = append(inflight, n)
	}
	pg, err := pgtest.Start()
	if err != nil {
		fmt.Fprintf(stderr, "PostgreSQL rows skipped: %v\n", err)
	} else {
		defer func() { _ = pg.Stop() }()
	}
	// Every driver's files live under one directory, gone when this ends.
	root, err := os.MkdirTemp("", "apphub-queue-bench-")
	if err != nil {
		return fmt.Errorf("queue benchmark directory: %w", err)
	}
	defer func() { _ = os.RemoveAll(root) }()
	var results []queueResult
	for _, level := range inflight {
		for _, mk := range queueDrivers(pg, level) {
			run := &queueRun{accepted: map[string]time.Time{}, done: make(chan string, 1024)}
			dir, err := os.MkdirTemp(root, "driver-")
			if err != nil {
				return fmt.Errorf("queue benchmark directory: %w", err)
			}
			d, err := mk(ctx, run, dir)
			if err != nil {
				return err
			}
			r := measure(ctx, d, run, level, *total)
			d.close()
			fmt.Fprintf(stderr, "%-28s in flight %2d: %d ops in %s (%.0f ops/s), enqueue->start p50 %s p95 %s, %d errors\n",
				r.Driver, r.InFlight, r.Ops, r.Wall.Round(time.Millisecond), float64(r.Ops)/r.Wall.Seconds(), r.StartP50.Round(100*time.Microsecond), r.StartP95.Round(100*time.Microsecond), r.Errors)
			results = append(results, r)
		}
	}
	writeQueueMarkdown(stdout, results, *total)
	return nil
}

// driverMaker starts a driver keeping its files in dir.
type driverMaker func(ctx context.Context, run *queueRun, dir string) (queueDriver, error)

func queueDrivers(pg *pgtest.Server, level int) []driverMaker {
	out := []driverMaker{
		func(_ context.Context, run *queueRun, dir string) (queueDriver, error) {
			return &jsonStore{dir: dir, ops: map[string]map[string]any{}, run: run, sem: make(chan struct{}, level)}, nil
		},
		func(ctx context.Context, run *queueRun, dir string) (queueDriver, error) {
			return newRiverDriver(ctx, "River SQLite, 1 replica", "", dir, 1, level, run)
		},
	}
	if pg == nil {
		return out
	}
	for _, n := range []int{1, 3} {
		n := n
		out = append(out, func(ctx context.Context, run *queueRun, dir string) (queueDriver, error) {
			url, err := pg.NewDatabase(ctx, "bench")
			if err != nil {
				return nil, err
			}
			workers := (level + n - 1) / n
			return newRiverDriver(ctx, fmt.Sprintf("River PostgreSQL, %d replica(s)", n), url, dir, n, workers, run)
		})
	}
	return out
}

func writeQueueMarkdown(w io.Writer, results []queueResult, total int) {
	fmt.Fprintf(w, "### Operation queue overhead — %s\n\nMachine: %s. %d operations per row, executor that does nothing (queue cost only).\n\n",
		time.Now().UTC().Format("2006-01-02"), machine(), total)
	fmt.Fprintln(w, "| in flight | store | ops/s | wall | enqueue→start p50 | p95 | errors |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for _, r := range results {
		fmt.Fprintf(w, "| %d | %s | %.0f | %s | %.1f ms | %.1f ms | %d |\n", r.InFlight, r.Driver, float64(r.Ops)/r.Wall.Seconds(),
			secs(r.Wall), float64(r.StartP50.Microseconds())/1000, float64(r.StartP95.Microseconds())/1000, r.Errors)
	}
}
