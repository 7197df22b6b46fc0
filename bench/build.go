package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

type buildResult struct {
	Target     string
	Cold, Warm time.Duration
	ColdPeak   memPeaks
	Size       int64
}

// runBuildCmd times `go build` of each binary with an empty build cache
// (cold: the module cache stays warm, nothing is downloaded) and again with
// that cache filled (warm: what an edit-free rebuild costs).
func runBuildCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	repo := fs.String("repo", ".", "repository root")
	if err := fs.Parse(args); err != nil {
		return err
	}
	root, err := filepath.Abs(*repo)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "apphub-build-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var results []buildResult
	for _, t := range []struct{ name, pkg string }{{"platform program (main.go)", "."}, {"apphubctl", "./cmd/apphubctl"}} {
		cache := filepath.Join(tmp, "cache-"+filepath.Base(t.pkg))
		out := filepath.Join(tmp, "bin-"+filepath.Base(t.pkg))
		r := buildResult{Target: t.name}
		fmt.Fprintf(stderr, "cold build of %s ...\n", t.pkg)
		mem := startMemSampler(100 * time.Millisecond)
		if r.Cold, err = goBuild(ctx, root, cache, out, t.pkg); err != nil {
			mem.Stop()
			return err
		}
		r.ColdPeak = mem.Stop()
		if r.Warm, err = goBuild(ctx, root, cache, out, t.pkg); err != nil {
			return err
		}
		st, err := os.Stat(out)
		if err != nil {
			return err
		}
		r.Size = st.Size()
		results = append(results, r)
	}
	fmt.Fprintf(stdout, "### Build cost — %s\n\nMachine: %s. Cold = empty GOCACHE, module cache already downloaded.\n\n", time.Now().UTC().Format(time.RFC3339), machine())
	fmt.Fprintln(stdout, "| binary | cold build | warm rebuild | peak RSS of the build (all processes) | binary size |")
	fmt.Fprintln(stdout, "|---|---|---|---|---|")
	for _, r := range results {
		fmt.Fprintf(stdout, "| %s | %s | %s | %.0f MiB | %.1f MiB |\n", r.Target, secs(r.Cold), secs(r.Warm), mib(r.ColdPeak.Children), mib(r.Size))
	}
	return nil
}

func goBuild(ctx context.Context, root, cache, out, pkg string) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOCACHE="+cache, "GOFLAGS=-mod=readonly")
	start := time.Now()
	if b, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return time.Since(start), nil
}
