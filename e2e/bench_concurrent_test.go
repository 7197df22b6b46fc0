//go:build e2e

package e2e

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/queue"
)

// concurrentCreates PUTs n small previews at once to the HTTP API and
// waits for all of them, sampling the memory of the Pulumi processes the
// operations run (the CLI and its provider plugins); then destroys them
// all at once. It returns the wall time of the creates and the peak
// memory per operation in flight.
func concurrentCreates(b *testing.B, a *api, n, workers int) (wall time.Duration, perOp float64) {
	b.Helper()
	stop := make(chan struct{})
	peak := make(chan float64)
	go func() { peak <- peakPulumiRSS(stop) }()
	start := time.Now()
	errs := sendAll(b, a, n, http.MethodPut)
	wall = time.Since(start)
	close(stop)
	peakMiB := <-peak
	require.Empty(b, errs, "every create succeeds")
	require.Empty(b, sendAll(b, a, n, http.MethodDelete), "every destroy succeeds")
	inFlight := min(n, workers)
	return wall, peakMiB / float64(inFlight)
}

// sendAll sends one request per launch at once and waits for each
// operation; it returns what failed.
func sendAll(b *testing.B, a *api, n int, method string) []string {
	var mu sync.Mutex
	var failed []string
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var body any
			if method == http.MethodPut {
				body = map[string]any{"image": "registry.test/apps/web:1", "replicas": 1,
					"cpuRequest": "10m", "cpuLimit": "100m", "memoryRequest": "16Mi", "memoryLimit": "64Mi"}
			}
			code, accepted := a.do(b, method, fmt.Sprintf("/v1/previews/bench-n-%d", i), body)
			status := ""
			if code == http.StatusAccepted {
				op := a.waitStream(b, accepted)
				status, _ = op["status"].(string)
			}
			if status != queue.StatusSucceeded {
				mu.Lock()
				failed = append(failed, fmt.Sprintf("%d: %d %v", i, code, accepted))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return failed
}

// peakPulumiRSS samples, every 100 ms until stop, the summed resident
// memory of the pulumi CLI and pulumi-resource-* processes, in MiB.
func peakPulumiRSS(stop <-chan struct{}) float64 {
	var peak float64
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return peak
		case <-tick.C:
			peak = max(peak, pulumiRSS())
		}
	}
}

func pulumiRSS() float64 {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var kb float64
	for _, d := range dirs {
		comm, err := os.ReadFile(filepath.Join(d, "comm"))
		name := strings.TrimSpace(string(comm))
		if err != nil || (name != "pulumi" && !strings.HasPrefix(name, "pulumi-resource")) {
			continue
		}
		f, err := os.Open(filepath.Join(d, "status"))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
				n, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
				kb += n
			}
		}
		f.Close()
	}
	return kb / 1024
}
