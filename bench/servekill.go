package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"
)

// The serve-kill benchmark is the service under a burst and a crash:
// n concurrent PUTs against `apphubctl serve` (stub execution mode, so the
// figures are the service's and the queue's own, not Pulumi's), the
// server killed with SIGKILL once half the answers have come, restarted
// on the same state directory, then every accepted operation followed to
// its end. An operation that was accepted (202) and never finishes is
// lost.

type killFlags struct {
	requests int
	timeout  time.Duration
	check    bool
}

type killReport struct {
	Requests int            `json:"requests"`
	Accepted int            `json:"accepted"`
	Refused  map[string]int `json:"refused"` // connection error (the kill), or HTTP status
	Finished map[string]int `json:"finished"`
	Lost     []string       `json:"lost,omitempty"`
	Retried  int            `json:"retried"` // accepted operations that needed a second attempt
	// Unanswered are operations the server recorded whose 202 died with
	// it: the caller saw an error, and a retry finds them (409 or done).
	Unanswered int     `json:"recordedWithoutAnswer"`
	P50ms      float64 `json:"p50Ms"`
	P95ms      float64 `json:"p95Ms"`
	KilledAt   int     `json:"killedAfterAnswers"`
	RestartMs  float64 `json:"restartToReadyMs"`
}

func runServeKillCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve-kill", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f killFlags
	fs.IntVar(&f.requests, "requests", 200, "concurrent PUT requests")
	fs.DurationVar(&f.timeout, "timeout", 3*time.Minute, "how long accepted operations may take to finish after the restart")
	fs.BoolVar(&f.check, "check", false, "exit non-zero when an accepted operation is lost")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "apphub-serve-kill-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "apphubctl")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/apphubctl")
	build.Stderr = stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building apphubctl: %w", err)
	}
	rep, err := serveKill(ctx, bin, dir, f)
	if err != nil {
		return err
	}
	b, _ := json.MarshalIndent(rep, "", "  ")
	fmt.Fprintf(stdout, "%s\n", b)
	fmt.Fprintf(stdout, "\n| requests | accepted | refused | recorded without a 202 | finished | lost | retried | 202 p50 | 202 p95 | restart to ready |\n|---|---|---|---|---|---|---|---|---|---|\n")
	fmt.Fprintf(stdout, "| %d | %d | %v | %d | %v | %d | %d | %.0f ms | %.0f ms | %.0f ms |\n",
		rep.Requests, rep.Accepted, rep.Refused, rep.Unanswered, rep.Finished, len(rep.Lost), rep.Retried, rep.P50ms, rep.P95ms, rep.RestartMs)
	if f.check && len(rep.Lost) > 0 {
		return fmt.Errorf("%d accepted operations lost: %v", len(rep.Lost), rep.Lost)
	}
	return nil
}

// killServer is one `apphubctl serve` process.
type killServer struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{}
}

const killToken = "serve-kill-token-0123456789"

func startServe(ctx context.Context, bin, dir, addr string) (*killServer, error) {
	cmd := exec.CommandContext(ctx, bin, "serve", "--addr", addr, "--state-dir", filepath.Join(dir, "state"),
		"--max-in-flight", "100000", "--skip-plugin-install", "-q")
	cmd.Env = append(os.Environ(), "APPHUB_API_TOKEN="+killToken, "PULUMI_CONFIG_PASSPHRASE=serve-kill",
		"APPHUB_LAUNCH_EXECUTION_MODE=stub", "APPHUB_BUILD_EXECUTION_MODE=stub")
	log, err := os.OpenFile(filepath.Join(dir, "serve.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &killServer{cmd: cmd, addr: addr, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); log.Close(); close(s.done) }()
	return s, s.ready(ctx)
}

// ready waits for /readyz, or for the process to exit.
func (s *killServer) ready(ctx context.Context) error {
	for {
		resp, err := http.Get("http://" + s.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("serve exited before it was ready (see serve.log)")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func freeLoopback() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func serveKill(ctx context.Context, bin, dir string, f killFlags) (*killReport, error) {
	addr, err := freeLoopback()
	if err != nil {
		return nil, err
	}
	srv, err := startServe(ctx, bin, dir, addr)
	if err != nil {
		return nil, err
	}
	rep := &killReport{Requests: f.requests, Refused: map[string]int{}, Finished: map[string]int{}}
	client := &http.Client{Timeout: time.Minute}
	var mu sync.Mutex
	var latencies []time.Duration
	ids := map[string]string{} // launch -> operation id
	answers := 0
	kill := f.requests / 2
	killed := make(chan struct{})
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range f.requests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			launch := fmt.Sprintf("k-%d", i)
			t0 := time.Now()
			status, id, err := put(client, addr, launch)
			lat := time.Since(t0)
			mu.Lock()
			defer mu.Unlock()
			answers++
			switch {
			case err != nil:
				rep.Refused["connection: "+errClass(err)]++
			case status == http.StatusAccepted:
				rep.Accepted++
				ids[launch] = id
				latencies = append(latencies, lat)
			default:
				rep.Refused[fmt.Sprint(status)]++
			}
			if answers == kill {
				rep.KilledAt = answers
				_ = srv.cmd.Process.Signal(syscall.SIGKILL)
				close(killed)
			}
		}()
	}
	close(start)
	wg.Wait()
	<-killed
	<-srv.done
	t0 := time.Now()
	srv, err = startServe(ctx, bin, dir, addr)
	if err != nil {
		return nil, fmt.Errorf("restarting after the kill: %w", err)
	}
	rep.RestartMs = float64(time.Since(t0).Microseconds()) / 1000
	defer func() { _ = srv.cmd.Process.Signal(syscall.SIGTERM); <-srv.done }()
	follow(ctx, addr, ids, f.timeout, rep)
	recorded, err := countOperations(client, addr)
	if err != nil {
		return nil, err
	}
	rep.Unanswered = recorded - rep.Accepted
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	if n := len(latencies); n > 0 {
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		rep.P50ms, rep.P95ms = ms(latencies[n/2]), ms(latencies[(n*95)/100])
	}
	return rep, nil
}

func errClass(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "closed"
	}
	return "other"
}

func put(client *http.Client, addr, launch string) (int, string, error) {
	body := []byte(`{"image":"registry.test/apps/web:1"}`)
	req, err := http.NewRequest(http.MethodPut, "http://"+addr+"/v1/previews/"+launch, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+killToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var op struct{ ID string }
	_ = json.NewDecoder(resp.Body).Decode(&op)
	return resp.StatusCode, op.ID, nil
}

// follow waits on each accepted operation's event stream, which the
// server ends when the operation ends, then reads how it ended; what has
// not ended by the timeout is lost.
func follow(ctx context.Context, addr string, ids map[string]string, timeout time.Duration, rep *killReport) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for launch, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, attempts := awaitEnd(ctx, addr, id)
			mu.Lock()
			defer mu.Unlock()
			switch status {
			case "succeeded", "failed", "canceled":
				rep.Finished[status]++
				if attempts > 1 {
					rep.Retried++
				}
			default:
				rep.Lost = append(rep.Lost, launch)
			}
		}()
	}
	wg.Wait()
	sort.Strings(rep.Lost)
}

// awaitEnd reads the operation's event stream to its end, then its record.
func awaitEnd(ctx context.Context, addr, id string) (string, int) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v1/operations/"+id+"/events", nil)
	if err != nil {
		return "", 0
	}
	req.Header.Set("Authorization", "Bearer "+killToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	status, attempts, err := getOperation(&http.Client{Timeout: 10 * time.Second}, addr, id)
	if err != nil {
		return "", 0
	}
	return status, attempts
}

// countOperations pages through every operation the server holds.
func countOperations(client *http.Client, addr string) (int, error) {
	n, path := 0, "/v1/operations?limit=200"
	for path != "" {
		req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer "+killToken)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		var page struct {
			Operations []json.RawMessage
			Links      struct{ Next string }
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil {
			return 0, err
		}
		n += len(page.Operations)
		path = page.Links.Next
	}
	return n, nil
}

func getOperation(client *http.Client, addr, id string) (string, int, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/v1/operations/"+id, nil)
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Authorization", "Bearer "+killToken)
	resp, err := client.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	var op struct {
		Status   string
		Attempts int
	}
	if err := json.NewDecoder(resp.Body).Decode(&op); err != nil {
		return "", 0, err
	}
	return op.Status, op.Attempts, nil
}
