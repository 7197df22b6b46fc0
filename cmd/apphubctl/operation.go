package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/apphub/apphub-infra/automation"
	"github.com/apphub/apphub-infra/queue"
)

func newOperationCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "operation", Short: "List, inspect and cancel the service's queued operations", Args: cobra.ArbitraryArgs, RunE: groupRun}
	cmd.AddCommand(newOperationListCmd(g), newOperationGetCmd(g), newOperationCancelCmd(g))
	return cmd
}

type operationListFlags struct {
	stack, status string
	limit         int
	vals          flagValues
}

func newOperationListCmd(g *globals) *cobra.Command {
	f := &operationListFlags{}
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List operations, newest first",
		Example: "  apphubctl operation list --stack preview-pr-42\n  apphubctl operation list --status running -o json",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			filter, err := f.request(g, cmd)
			if err != nil {
				return err
			}
			q, err := g.openQueue(cmd.Context())
			if err != nil {
				return err
			}
			defer q.Close()
			ops, err := q.List(cmd.Context(), filter)
			if err != nil {
				return err
			}
			return g.emit(map[string]any{"operations": ops}, func(w io.Writer) { printOperations(w, ops) })
		},
	}
	fl, v := cmd.Flags(), &f.vals
	v.stringVar(fl, &f.stack, "stack", "", "only this stack: preview-<launch> or build-<id>")
	v.stringVar(fl, &f.status, "status", "", "only this status: "+fmt.Sprint(queue.Statuses))
	v.intVar(fl, &f.limit, "limit", 100, "at most this many, 1-1000")
	return cmd
}

func (f *operationListFlags) request(g *globals, cmd *cobra.Command) (queue.Filter, error) {
	p := g.check(cmd, &f.vals)
	filter := queue.Filter{Status: f.status, Limit: f.limit}
	changed := cmd.Flags().Changed
	if changed("stack") {
		var err error
		if filter.Target, err = queue.StackTarget(f.stack); err != nil {
			p.Add("--stack", "%v", err)
		}
	}
	if changed("status") {
		if err := queue.ValidStatus(f.status); err != nil {
			p.Add("--status", "%v", err)
		}
	}
	if !p.Has("--limit") && (f.limit < 1 || f.limit > 1000) {
		p.Add("--limit", "must be 1-1000, got %d", f.limit)
	}
	return filter, invalidInput("operation list", "", p, nil, nil)
}

func newOperationGetCmd(g *globals) *cobra.Command {
	var vals flagValues
	return &cobra.Command{
		Use:     "get ID",
		Short:   "Show an operation with its events",
		Example: "  apphubctl operation get 20261201T082152-0123456789abcdef -o json",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.onOperation(cmd, &vals, "operation get", args[0], func(q *queue.Queue) error {
				return getOperation(g, cmd, q, args[0])
			})
		},
	}
}

func getOperation(g *globals, cmd *cobra.Command, q *queue.Queue, id string) error {
	op, err := q.Get(cmd.Context(), id)
	if err != nil {
		return err
	}
	if op == nil {
		return &automation.Error{Kind: automation.KindNotFound, Op: "operation get", Reason: fmt.Sprintf("no operation %q", id)}
	}
	if op.Events, _, err = q.Events(cmd.Context(), op.ID, 0); err != nil {
		return err
	}
	return g.emit(op, func(w io.Writer) { printOperations(w, []*queue.Operation{op}) })
}

func newOperationCancelCmd(g *globals) *cobra.Command {
	var vals flagValues
	return &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a queued operation, or interrupt a running one (the stack stays consistent)",
		Long: `cancel stops an operation wherever it is: a queued one is canceled at once;
a running one is interrupted through the Automation API (the Pulumi CLI gets
SIGINT and stops cleanly) on whichever replica runs it, and ends canceled.`,
		Example: "  apphubctl operation cancel 20261201T082152-0123456789abcdef",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.onOperation(cmd, &vals, "operation cancel", args[0], func(q *queue.Queue) error {
				return cancelOperation(g, cmd, q, args[0])
			})
		},
	}
}

func cancelOperation(g *globals, cmd *cobra.Command, q *queue.Queue, id string) error {
	op, err := q.Cancel(cmd.Context(), id)
	switch {
	case errors.Is(err, queue.ErrFinished):
		return &automation.Error{Kind: automation.KindConflict, Op: "operation cancel", Reason: fmt.Sprintf("operation %s already %s", op.ID, op.Status)}
	case err != nil:
		return err
	case op == nil:
		return &automation.Error{Kind: automation.KindNotFound, Op: "operation cancel", Reason: fmt.Sprintf("no operation %q", id)}
	}
	return g.emit(op, func(w io.Writer) { printOperations(w, []*queue.Operation{op}) })
}

// onOperation validates an operation id, then runs fn on the queue.
func (g *globals) onOperation(cmd *cobra.Command, vals *flagValues, op, id string, fn func(*queue.Queue) error) error {
	p := g.check(cmd, vals)
	if err := queue.ValidID(id); err != nil {
		p.Add("ID", "%v", err)
	}
	if err := invalidInput(op, "", p, nil, nil); err != nil {
		return err
	}
	q, err := g.openQueue(cmd.Context())
	if err != nil {
		return err
	}
	defer q.Close()
	return fn(q)
}

func printOperations(w io.Writer, ops []*queue.Operation) {
	printTable(w, "ID\tKIND\tTARGET\tSTATUS\tATTEMPTS\tCREATED\tREASON", "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", ops, func(op *queue.Operation) []any {
		return []any{op.ID, op.Kind, op.Target, op.Status, op.Attempts, op.CreatedAt.Format(time.RFC3339), op.Reason}
	})
}

func newMigrateCmd(g *globals) *cobra.Command {
	var vals flagValues
	return &cobra.Command{
		Use:   "migrate",
		Short: "Create or upgrade the operation queue's tables (serve also does this at start-up)",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := invalidInput("migrate", "", g.check(cmd, &vals), nil, nil); err != nil {
				return err
			}
			q, err := g.openQueue(cmd.Context())
			if err != nil {
				return err
			}
			q.Close()
			driver, _ := queue.Driver(g.queueURL())
			return g.emit(map[string]any{"migrated": true, "driver": driver}, func(w io.Writer) {
				fmt.Fprintf(w, "operation queue migrated (%s)\n", driver)
			})
		},
	}
}
