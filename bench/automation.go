package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"

	"github.com/apphub/apphub-infra/automation"
	"github.com/apphub/apphub-infra/stacks"
)

// phase is one kind of operation run n at a time.
type phase struct {
	Op         string          `json:"op"`
	InFlight   int             `json:"inFlight"`
	Wall       time.Duration   `json:"wallNs"`
	Latencies  []time.Duration `json:"latenciesNs"`
	Errors     []string        `json:"errors,omitempty"`
	Throughput float64         `json:"opsPerSecond"`
}

// level is create, update and destroy of n previews, n in flight.
type level struct {
	Driver   string   `json:"driver"`
	InFlight int      `json:"inFlight"`
	Phases   []phase  `json:"phases"`
	Memory   memPeaks `json:"memoryBytes"`
	// StateErrors lists what the backend's files showed wrong after a
	// phase: missing, extra or stale stacks, pending operations, locks.
	StateErrors []string `json:"stateErrors,omitempty"`
}

func (l level) failed() bool {
	if len(l.StateErrors) > 0 {
		return true
	}
	for _, p := range l.Phases {
		if len(p.Errors) > 0 {
			return true
		}
	}
	return false
}

// runLevel creates n previews at once, checks the state, updates them all,
// checks, destroys them all, checks. prefix keeps launch ids unique.
func runLevel(ctx context.Context, d driver, backendDir, prefix string, n int) level {
	l := level{Driver: d.Name(), InFlight: n}
	mem := startMemSampler(50 * time.Millisecond)
	launches := make([]string, n)
	for i := range launches {
		launches[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	steps := []struct {
		op    string
		run   func(string) error
		image string // what every stack must hold afterwards; "" = gone
	}{
		{"create", func(id string) error { return d.Create(ctx, id, "registry.test/app:1") }, "registry.test/app:1"},
		{"update", func(id string) error { return d.Update(ctx, id, "registry.test/app:2") }, "registry.test/app:2"},
		{"destroy", func(id string) error { return d.Destroy(ctx, id) }, ""},
	}
	for _, s := range steps {
		p := runPhase(s.op, launches, s.run)
		l.Phases = append(l.Phases, p)
		want := map[string]string{}
		if s.image != "" {
			for _, id := range launches {
				want[automation.PreviewStack(id)] = s.image
			}
		}
		for _, e := range checkState(backendDir, want) {
			l.StateErrors = append(l.StateErrors, s.op+": "+e)
		}
		if len(p.Errors) > 0 {
			break
		}
	}
	l.Memory = mem.Stop()
	return l
}

func runPhase(op string, launches []string, run func(string) error) phase {
	p := phase{Op: op, InFlight: len(launches), Latencies: make([]time.Duration, len(launches))}
	var wg sync.WaitGroup
	var mu sync.Mutex
	start := time.Now()
	for i, id := range launches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.Now()
			err := run(id)
			p.Latencies[i] = time.Since(t)
			if err != nil {
				mu.Lock()
				p.Errors = append(p.Errors, fmt.Sprintf("%s %s: %v", op, id, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	p.Wall = time.Since(start)
	p.Throughput = float64(len(launches)) / p.Wall.Seconds()
	return p
}

// checkState reads the backend's files: exactly the wanted preview stacks
// exist, each holds its own image and nothing pending, and no lock is left.
func checkState(backendDir string, want map[string]string) []string {
	var problems []string
	dir := filepath.Join(backendDir, ".pulumi", "stacks", stacks.PreviewProject)
	entries, _ := os.ReadDir(dir)
	seen := map[string]bool{}
	for _, e := range entries {
		stack, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		seen[stack] = true
		image, ok := want[stack]
		if !ok {
			problems = append(problems, "unexpected stack "+stack)
			continue
		}
		if err := checkCheckpoint(filepath.Join(dir, e.Name()), image); err != nil {
			problems = append(problems, stack+": "+err.Error())
		}
	}
	for stack := range want {
		if !seen[stack] {
			problems = append(problems, "missing stack "+stack)
		}
	}
	_ = filepath.WalkDir(filepath.Join(backendDir, ".pulumi", "locks"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".json") {
			problems = append(problems, "lock left behind: "+path)
		}
		return nil
	})
	sort.Strings(problems)
	return problems
}

func checkCheckpoint(path, image string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var vc apitype.VersionedCheckpoint
	if err := json.Unmarshal(raw, &vc); err != nil {
		return fmt.Errorf("checkpoint does not parse: %w", err)
	}
	var cp apitype.CheckpointV3
	if err := json.Unmarshal(vc.Checkpoint, &cp); err != nil {
		return fmt.Errorf("checkpoint does not parse: %w", err)
	}
	if cp.Latest == nil {
		return fmt.Errorf("no deployment")
	}
	if len(cp.Latest.PendingOperations) > 0 {
		return fmt.Errorf("%d pending operations", len(cp.Latest.PendingOperations))
	}
	stashes := 0
	for _, r := range cp.Latest.Resources {
		if r.Type != "pulumi:index:Stash" {
			continue
		}
		stashes++
		if got, _ := r.Outputs["input"].(string); got != image {
			return fmt.Errorf("holds image %q, want %q", got, image)
		}
	}
	if stashes != 1 {
		return fmt.Errorf("%d app resources, want 1", stashes)
	}
	return nil
}

// stats summarises latencies.
type stats struct{ Median, Mean, Max time.Duration }

func summarise(ds []time.Duration) stats {
	if len(ds) == 0 {
		return stats{}
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stats{Median: med, Mean: sum / time.Duration(len(s)), Max: s[len(s)-1]}
}
