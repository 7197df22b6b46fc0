package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Targets from the performance issue.
const (
	targetOverhead     = 2 * time.Second
	targetMemPerOp     = 300 << 20
	targetConcurrentOK = 20
)

type automationReport struct {
	Date       string         `json:"date"`
	Machine    string         `json:"machine"`
	Sequential []level        `json:"sequential"`
	Levels     []level        `json:"levels"`
	Targets    []targetResult `json:"targets"`
}

type targetResult struct {
	Name   string `json:"name"`
	Figure string `json:"figure"`
	Met    bool   `json:"met"`
}

// automationFlags are the automation subcommand's flags.
type automationFlags struct {
	levels, baseline []int
	sequential       int
	root, jsonOut    string
	check, keep      bool
}

func parseAutomationFlags(args []string, stderr io.Writer) (*automationFlags, error) {
	fs := flag.NewFlagSet("automation", flag.ContinueOnError)
	fs.SetOutput(stderr)
	levelsFlag := fs.String("levels", "1,5,10,20", "operations in flight, comma-separated")
	baselineFlag := fs.String("baseline-levels", "", "levels for the naive baseline (default: -levels)")
	f := &automationFlags{}
	fs.IntVar(&f.sequential, "sequential", 5, "sequential create/update/destroy rounds per driver")
	fs.StringVar(&f.root, "pulumi-root", "", "directory holding bin/pulumi (default: found above the working directory)")
	fs.StringVar(&f.jsonOut, "json", "", "also write the raw results to this file")
	fs.BoolVar(&f.check, "check", false, "exit non-zero when a target is missed")
	fs.BoolVar(&f.keep, "keep", false, "keep the state directories")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	var err error
	if f.levels, err = parseLevels(*levelsFlag); err != nil {
		return nil, err
	}
	f.baseline = f.levels
	if *baselineFlag != "" {
		if f.baseline, err = parseLevels(*baselineFlag); err != nil {
			return nil, err
		}
	}
	if f.root == "" {
		if f.root, err = findPulumiRoot(); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func runAutomationCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseAutomationFlags(args, stderr)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "apphub-bench-")
	if err != nil {
		return err
	}
	if !f.keep {
		defer os.RemoveAll(tmp)
	}
	progress := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }
	rep, err := benchAutomation(ctx, benchConfig{
		PulumiRoot: f.root, Dir: tmp, Levels: f.levels, BaselineLevels: f.baseline, Sequential: f.sequential, Progress: progress,
	})
	if err != nil {
		return err
	}
	writeAutomationMarkdown(stdout, rep)
	if f.jsonOut != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(f.jsonOut, b, 0o644); err != nil {
			return err
		}
	}
	return verdict(rep, f.check)
}

// verdict fails the run when an operation failed or the state was wrong,
// and, with check, when a target was missed.
func verdict(rep *automationReport, check bool) error {
	var problems []string
	for _, l := range allLevels(rep) {
		if l.failed() {
			problems = append(problems, fmt.Sprintf("%s at %d in flight: %s", l.Driver, l.InFlight, firstProblem(l)))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("operations failed or state was wrong:\n  %s", strings.Join(problems, "\n  "))
	}
	if !check {
		return nil
	}
	for _, t := range rep.Targets {
		if !t.Met {
			problems = append(problems, t.Name+": "+t.Figure)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("targets missed:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}

func firstProblem(l level) string {
	for _, p := range l.Phases {
		if len(p.Errors) > 0 {
			return p.Errors[0]
		}
	}
	if len(l.StateErrors) > 0 {
		return l.StateErrors[0]
	}
	return ""
}

func parseLevels(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("levels: %q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// findPulumiRoot walks up from the working directory to the repository's
// bin/pulumi (built by `make pulumi`).
func findPulumiRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "bin", "pulumi")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("bin/pulumi not found above the working directory: run `make pulumi` or pass -pulumi-root")
		}
		dir = parent
	}
}

type benchConfig struct {
	PulumiRoot             string
	Dir                    string
	Levels, BaselineLevels []int
	Sequential             int
	Progress               func(string, ...any)
}

// benchAutomation runs both drivers on their own backends: a warm-up cycle
// each (the first stack on a new backend pays one-off costs), sequential
// rounds alternating between them, then each concurrency level.
func benchAutomation(ctx context.Context, c benchConfig) (*automationReport, error) {
	rep := &automationReport{Date: time.Now().UTC().Format(time.RFC3339), Machine: machine()}
	oursEnv := env{pulumiRoot: c.PulumiRoot, dir: filepath.Join(c.Dir, "ours"), passphrase: "bench"}
	naiveEnv := env{pulumiRoot: c.PulumiRoot, dir: filepath.Join(c.Dir, "naive"), passphrase: "bench"}
	nv, err := newNaive(naiveEnv)
	if err != nil {
		return nil, err
	}
	oursAt := func(n int) (driver, error) { return newOurs(oursEnv, n) }
	for _, d := range []struct {
		e   env
		get func(int) (driver, error)
	}{{oursEnv, oursAt}, {naiveEnv, func(int) (driver, error) { return nv, nil }}} {
		drv, err := d.get(1)
		if err != nil {
			return nil, err
		}
		if l := runLevel(ctx, drv, d.e, "warm", 1); l.failed() {
			return nil, fmt.Errorf("warm-up of %s: %s", drv.Name(), firstProblem(l))
		}
	}
	for i := 0; i < c.Sequential; i++ {
		o, err := oursAt(1)
		if err != nil {
			return nil, err
		}
		rep.Sequential = append(rep.Sequential, runLevel(ctx, o, oursEnv, fmt.Sprintf("seq%d", i), 1))
		rep.Sequential = append(rep.Sequential, runLevel(ctx, nv, naiveEnv, fmt.Sprintf("seq%d", i), 1))
		c.Progress("sequential round %d/%d done", i+1, c.Sequential)
	}
	baseline := map[int]bool{}
	for _, n := range c.BaselineLevels {
		baseline[n] = true
	}
	for _, n := range c.Levels {
		o, err := oursAt(n)
		if err != nil {
			return nil, err
		}
		rep.Levels = append(rep.Levels, runLevel(ctx, o, oursEnv, fmt.Sprintf("c%d", n), n))
		c.Progress("apphub: %d in flight done", n)
		if baseline[n] {
			rep.Levels = append(rep.Levels, runLevel(ctx, nv, naiveEnv, fmt.Sprintf("c%d", n), n))
			c.Progress("naive: %d in flight done", n)
		}
	}
	rep.Targets = targets(rep)
	return rep, nil
}

// sequentialStats gathers the latencies of one driver's sequential rounds
// per operation.
func sequentialStats(rep *automationReport, driverName string) map[string]stats {
	by := map[string][]time.Duration{}
	for _, l := range rep.Sequential {
		if l.Driver != driverName {
			continue
		}
		for _, p := range l.Phases {
			by[p.Op] = append(by[p.Op], p.Latencies...)
		}
	}
	out := map[string]stats{}
	for op, ds := range by {
		out[op] = summarise(ds)
	}
	return out
}

func targets(rep *automationReport) []targetResult {
	var out []targetResult
	seq := sequentialStats(rep, (&ours{}).Name())
	for _, op := range []string{"create", "update", "destroy"} {
		med := seq[op].Median
		out = append(out, targetResult{
			Name:   "automation overhead per preview " + op + " <= 2 s",
			Figure: fmt.Sprintf("median %.2f s (max %.2f s) over %d sequential runs", med.Seconds(), seq[op].Max.Seconds(), len(rep.Sequential)/2),
			Met:    med > 0 && med <= targetOverhead,
		})
	}
	concurrent := targetResult{Name: "20 concurrent preview operations, no error, no state corruption", Figure: "level 20 not run"}
	worst, worstLevel := 0.0, 0
	for _, l := range rep.Levels {
		if l.Driver != (&ours{}).Name() {
			continue
		}
		if l.InFlight >= targetConcurrentOK {
			errs := 0
			for _, p := range l.Phases {
				errs += len(p.Errors)
			}
			concurrent.Met = !l.failed() && len(l.Phases) == 3
			concurrent.Figure = fmt.Sprintf("%d in flight: %d operations, %d errors, %d state problems", l.InFlight, 3*l.InFlight, errs, len(l.StateErrors))
		}
		if per := mib(l.Memory.Total) / float64(l.InFlight); per > worst {
			worst, worstLevel = per, l.InFlight
		}
	}
	out = append(out, concurrent)
	out = append(out, targetResult{
		Name:   "memory per in-flight operation <= 300 MiB",
		Figure: fmt.Sprintf("worst %.0f MiB (peak service + CLI processes / in flight, at %d in flight)", worst, worstLevel),
		Met:    worst > 0 && worst <= mib(targetMemPerOp),
	})
	return out
}
