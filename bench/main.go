// Command bench (go run ./bench) measures what AppHub's operations cost on this
// machine and prints Markdown tables for docs/benchmarks.md:
//
//	go run ./bench automation   preview create/update/destroy through the
//	                            Manager against the naive Automation API
//	                            pattern: latency, throughput at 1/5/10/20 in
//	                            flight, memory, state integrity
//	go run ./bench queue        the operation queue's own cost: enqueue to
//	                            start latency and throughput at 1/5/20 in
//	                            flight, River on SQLite and on PostgreSQL
//	                            (1 and 3 replicas) against the JSON files
//	                            it replaced
//	go run ./bench serve-kill   200 concurrent PUTs against apphubctl serve,
//	                            SIGKILLed half way and restarted: accepted,
//	                            finished, lost, p50/p95 of the 202s
//	go run ./bench build        cold and warm `go build` of the platform
//	                            program and apphubctl, and binary sizes
//
// Program evaluation and the cluster comparison are `go test -bench`
// benchmarks (see docs/benchmarks.md).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: go run ./bench automation|queue|serve-kill|build [flags]  (-h for flags)")
		return 2
	}
	var err error
	switch args[0] {
	case "automation":
		err = runAutomationCmd(ctx, args[1:], stdout, stderr)
	case "build":
		err = runBuildCmd(ctx, args[1:], stdout, stderr)
	case "queue":
		err = runQueueCmd(ctx, args[1:], stdout, stderr)
	case "serve-kill":
		err = runServeKillCmd(ctx, args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "unknown benchmark %q: automation, queue, serve-kill or build\n", args[0])
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	return 0
}
