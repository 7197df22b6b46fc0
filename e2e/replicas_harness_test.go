//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/queue"
)

// replica is one `apphubctl serve` process in a process group of its own,
// so that a SIGKILL takes its Pulumi CLI and provider plugins with it, as
// the loss of a host would.
type replica struct {
	name, url, id string
	cmd           *exec.Cmd
	log           *os.File
	exited        chan struct{}
}

// fleet is the replicas of one run over one queue database.
type fleet struct {
	e        *env
	bin, db  string
	mu       sync.Mutex
	replicas []*replica
	started  int
}

func buildApphubctl(t testing.TB, e *env) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "apphubctl")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/apphubctl")
	cmd.Dir = e.root
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build apphubctl: %s", out)
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// start launches one more replica and waits for its health check.
func (f *fleet) start(t *testing.T) *replica {
	t.Helper()
	f.mu.Lock()
	f.started++
	name := fmt.Sprintf("replica-%d", f.started)
	f.mu.Unlock()
	dir := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.MkdirAll(dir, 0o700))
	addr := freeAddr(t)
	args := []string{"--state-dir", dir, "--backend-url", "file://" + f.e.state, "--project-dir", f.e.project,
		"--platform-stack", f.e.stack, "--database-url", f.db, "--max-concurrent", "3", "--skip-plugin-install", "-q",
		"serve", "--addr", addr, "--takeover-after", "3s", "--shutdown-grace", "3s"}
	env := []string{"APPHUB_API_TOKEN=" + apiToken, "PULUMI_HOME=" + f.e.home, "PULUMI_CONFIG_PASSPHRASE=" + passphrase,
		"PATH=" + filepath.Join(f.e.root, "bin") + string(os.PathListSeparator) + os.Getenv("PATH")}
	r := launchServe(t, name, dir, addr, f.bin, args, env)
	f.mu.Lock()
	f.replicas = append(f.replicas, r)
	f.mu.Unlock()
	return r
}

// launchServe starts `apphubctl serve` (args include --addr addr), logging
// to dir/serve.log, with env on top of the test's, and waits for its
// health check.
func launchServe(t *testing.T, name, dir, addr, bin string, args, env []string) *replica {
	t.Helper()
	log, err := os.Create(filepath.Join(dir, "serve.log"))
	require.NoError(t, err)
	r := &replica{name: name, url: "http://" + addr, log: log, exited: make(chan struct{})}
	r.cmd = exec.Command(bin, args...)
	r.cmd.Env = append(os.Environ(), env...)
	r.cmd.Stdout, r.cmd.Stderr = log, log
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, r.cmd.Start())
	go func() { _ = r.cmd.Wait(); close(r.exited) }()
	t.Cleanup(func() { r.kill(); _ = log.Close() })
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var health struct{ Status, Replica string }
		if code := r.get("/healthz", &health); code == http.StatusOK {
			r.id = health.Replica
			return r
		}
		select {
		case <-r.exited:
			t.Fatalf("%s exited: %s", name, r.logText())
		case <-time.After(200 * time.Millisecond):
		}
	}
	t.Fatalf("%s never became healthy: %s", name, r.logText())
	return nil
}

func (r *replica) logText() string {
	b, _ := os.ReadFile(r.log.Name())
	return string(b)
}

// kill sends SIGKILL to the replica's whole process group.
func (r *replica) kill() {
	if r.cmd.Process != nil {
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
	}
	<-r.exited
}

// stop asks the replica to shut down as an orchestrator would (SIGTERM).
func (r *replica) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, r.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-r.exited:
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not stop on SIGTERM: %s", r.name, r.logText())
	}
}

func (r *replica) do(method, path string, body any, out any) int {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, r.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+apiToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

func (r *replica) get(path string, out any) int { return r.do(http.MethodGet, path, nil, out) }

// live returns the replicas that have not been killed or stopped.
func (f *fleet) live() []*replica {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*replica
	for _, r := range f.replicas {
		select {
		case <-r.exited:
		default:
			out = append(out, r)
		}
	}
	return out
}

func (f *fleet) any() *replica {
	live := f.live()
	return live[rand.IntN(len(live))]
}

// request is one request of the run and what it got.
type request struct {
	launch, method string
	image          string
	code           int
	op             queue.Operation
}

// send fires requests at random live replicas, all at once.
func (f *fleet) send(reqs []*request) {
	var wg sync.WaitGroup
	for _, rq := range reqs {
		wg.Add(1)
		go func(rq *request) {
			defer wg.Done()
			r := f.any()
			var body any
			if rq.method == http.MethodPut {
				body = map[string]any{"image": rq.image, "replicas": 1, "cpuRequest": "10m", "cpuLimit": "100m",
					"memoryRequest": "16Mi", "memoryLimit": "64Mi"}
			}
			// A 202 is the operation; a 409 names the one in the way.
			var resp struct {
				queue.Operation
				InTheWay *queue.Operation `json:"operation"`
			}
			rq.code = r.do(rq.method, "/v1/previews/"+rq.launch, body, &resp)
			rq.op = resp.Operation
			if rq.code == http.StatusConflict && resp.InTheWay != nil {
				rq.op = *resp.InTheWay
			}
		}(rq)
	}
	wg.Wait()
}

// waitAll polls until every accepted operation has finished.
func (f *fleet) waitAll(t *testing.T, ids []string, within time.Duration) map[string]*queue.Operation {
	t.Helper()
	deadline := time.Now().Add(within)
	done := map[string]*queue.Operation{}
	for time.Now().Before(deadline) && len(done) < len(ids) {
		for _, id := range ids {
			if done[id] != nil {
				continue
			}
			var op queue.Operation
			if f.any().get("/v1/operations/"+id, &op) == http.StatusOK && op.Done() {
				done[id] = &op
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	if len(done) < len(ids) {
		var missing []string
		for _, id := range ids {
			if done[id] == nil {
				var op map[string]any
				f.any().get("/v1/operations/"+id, &op)
				b, _ := json.Marshal(op)
				missing = append(missing, string(b))
			}
		}
		for _, r := range f.replicas {
			t.Logf("%s log:\n%s", r.name, tail(r.logText(), 4000))
		}
		t.Fatalf("%d of %d operations unfinished after %s:\n%s", len(missing), len(ids), within, strings.Join(missing, "\n"))
	}
	return done
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
