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

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
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
	// StateErrors lists what the Pulumi CLI showed wrong after a phase
	// (missing, extra or stale stacks, pending operations) and the locks
	// left behind.
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

// runLevel creates n previews at once, checks the state of e's backend,
// updates them all, checks, destroys them all, checks. prefix keeps launch
// ids unique. Memory is sampled during the phases only: the checks run CLI
// processes of their own.
func runLevel(ctx context.Context, d driver, e env, prefix string, n int) level {
	l := level{Driver: d.Name(), InFlight: n}
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
		mem := startMemSampler(50 * time.Millisecond)
		p := runPhase(s.op, launches, s.run)
		l.Memory = l.Memory.max(mem.Stop())
		l.Phases = append(l.Phases, p)
		want := map[string]string{}
		if s.image != "" {
			for _, id := range launches {
				want[automation.PreviewStack(id)] = s.image
			}
		}
		for _, problem := range checkState(ctx, e, want) {
			l.StateErrors = append(l.StateErrors, s.op+": "+problem)
		}
		if len(p.Errors) > 0 {
			break
		}
	}
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

// checkState asks the Pulumi CLI what the env's backend holds: `pulumi
// stack ls --json --project` lists exactly the wanted preview stacks, the
// `pulumi stack export` of each holds its own image and nothing pending;
// and no lock is left.
func checkState(ctx context.Context, e env, want map[string]string) []string {
	var problems []string
	if have, err := exportStacks(ctx, e, stacks.PreviewProject); err != nil {
		problems = append(problems, err.Error())
	} else {
		problems = compareStacks(have, want)
	}
	problems = append(problems, locksLeft(e.backendDir())...)
	sort.Strings(problems)
	return problems
}

// exported is what `pulumi stack export` gave for one stack.
type exported struct {
	deployment apitype.UntypedDeployment
	err        error
}

// exportStacks lists a project's stacks and exports each one's deployment
// through a LocalWorkspace of the env's CLI, PULUMI_HOME and backend (no
// project of its own: ls names the project, export the stack in full).
func exportStacks(ctx context.Context, e env, project string) (map[string]exported, error) {
	cmd, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: e.pulumiRoot, SkipVersionCheck: true})
	if err != nil {
		return nil, fmt.Errorf("pulumi CLI: %w", err)
	}
	dir := filepath.Join(e.dir, "state-check")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	ws, err := auto.NewLocalWorkspace(ctx, auto.WorkDir(dir), auto.Pulumi(cmd), auto.PulumiHome(e.pulumiHome()), auto.EnvVars(e.cliEnv()))
	if err != nil {
		return nil, err
	}
	// ws.ListStacks has no --project: it lists the workspace's project.
	cliEnv := []string{"PULUMI_HOME=" + ws.PulumiHome()}
	for k, v := range ws.GetEnvVars() {
		cliEnv = append(cliEnv, k+"="+v)
	}
	stdout, stderr, _, err := ws.PulumiCommand().Run(ctx, ws.WorkDir(), nil, nil, nil, cliEnv, "stack", "ls", "--json", "--project", project)
	if err != nil {
		return nil, fmt.Errorf("pulumi stack ls: %w: %s", err, strings.TrimSpace(stderr))
	}
	var list []auto.StackSummary
	if err := json.Unmarshal([]byte(stdout), &list); err != nil {
		return nil, fmt.Errorf("pulumi stack ls: %w", err)
	}
	out := make(map[string]exported, len(list))
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, s := range list {
		// Outside a project directory the CLI gives organization/project/stack.
		full, stack := s.Name, s.Name[strings.LastIndexByte(s.Name, '/')+1:]
		if full == stack {
			full = "organization/" + project + "/" + stack
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			d, err := ws.ExportStack(ctx, full)
			if err != nil {
				err = fmt.Errorf("pulumi stack export: %w", err)
			}
			mu.Lock()
			out[stack] = exported{deployment: d, err: err}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out, nil
}

// compareStacks: exactly the wanted stacks, each holding its image.
func compareStacks(have map[string]exported, want map[string]string) []string {
	var problems []string
	for stack, x := range have {
		image, ok := want[stack]
		if !ok {
			problems = append(problems, "unexpected stack "+stack)
			continue
		}
		err := x.err
		if err == nil {
			err = checkDeployment(x.deployment, image)
		}
		if err != nil {
			problems = append(problems, stack+": "+err.Error())
		}
	}
	for stack := range want {
		if _, ok := have[stack]; !ok {
			problems = append(problems, "missing stack "+stack)
		}
	}
	return problems
}

// checkDeployment: an exported deployment with nothing pending and one
// app resource (the test program's Stash) holding image.
func checkDeployment(d apitype.UntypedDeployment, image string) error {
	if d.Version < apitype.DeploymentSchemaVersionCurrent || d.Version > apitype.DeploymentSchemaVersionLatest {
		return fmt.Errorf("deployment schema version %d", d.Version)
	}
	if len(d.Deployment) == 0 || string(d.Deployment) == "null" {
		return fmt.Errorf("no deployment")
	}
	var dep apitype.DeploymentV3
	if err := json.Unmarshal(d.Deployment, &dep); err != nil {
		return fmt.Errorf("deployment does not parse: %w", err)
	}
	if len(dep.PendingOperations) > 0 {
		return fmt.Errorf("%d pending operations", len(dep.PendingOperations))
	}
	stashes := 0
	for _, r := range dep.Resources {
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

// locksLeft names the lock files left in a file backend. The CLI has no
// command that lists locks, and the project's lock reader
// (automation/internal/pulumilocks) is internal to automation/, out of
// bench's reach: this walks .pulumi/locks and reads file names only.
func locksLeft(backendDir string) []string {
	var out []string
	_ = filepath.WalkDir(filepath.Join(backendDir, ".pulumi", "locks"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".json") {
			out = append(out, "lock left behind: "+path)
		}
		return nil
	})
	return out
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
