package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/apphub/apphub-infra/automation"
)

// lockTarget is the stack an operator names: platform, preview <launch> or
// build <id>.
type lockTarget struct{ kind, name string }

func newLockCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lock",
		Short: "Show who holds a stack's Pulumi lock, or break it on an operator's word",
		Long: `A Pulumi update locks its stack. A process that dies (a killed CLI, a
rescheduled pod, a CI runner that is gone) leaves its lock behind; apphubctl
removes such a lock by itself only when it can prove the holder dead (a
process of this host that no longer runs, or a replica the queue proved
dead). Any other lock stays until an operator, having made sure no update of
the stack still runs, breaks it here (pulumi cancel).`,
		Args: cobra.ArbitraryArgs,
		RunE: groupRun,
	}
	var yes bool
	show := &cobra.Command{
		Use:     "show platform | preview <launch> | build <id>",
		Short:   "List the stack's locks: holder, host, pid, age",
		Example: "  apphubctl lock show preview pr-42\n  apphubctl lock show platform --platform-stack prod -o json",
		Args:    cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return onManager(g, cmd, args, managerCall[lockTarget, []automation.LockInfo]{lookup: true,
				check: checkLockTarget("lock show", nil),
				do: func(m *automation.Manager, ctx context.Context, t lockTarget) ([]automation.LockInfo, error) {
					return m.Locks(ctx, t.kind, t.name)
				},
				text: printLocks})
		},
	}
	brk := &cobra.Command{
		Use:     "break platform | preview <launch> | build <id> --yes",
		Short:   "Remove every lock of the stack (pulumi cancel); only when no update of it runs anywhere",
		Example: "  apphubctl lock break preview pr-42 --yes",
		Args:    cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return onManager(g, cmd, args, managerCall[lockTarget, string]{lookup: true,
				check: checkLockTarget("lock break", &yes),
				do: func(m *automation.Manager, ctx context.Context, t lockTarget) (string, error) {
					return "lock broken", m.BreakLock(ctx, t.kind, t.name)
				},
				text: func(w io.Writer, s string) { fmt.Fprintln(w, s) }})
		},
	}
	brk.Flags().BoolVar(&yes, "yes", false, "confirm that no update of the stack runs anywhere")
	cmd.AddCommand(show, brk)
	return cmd
}

// checkLockTarget validates the stack named in args (and, for a break,
// the confirmation) before anything is opened.
func checkLockTarget(op string, yes *bool) func(*globals, *cobra.Command, []string) (lockTarget, error) {
	return func(g *globals, cmd *cobra.Command, args []string) (lockTarget, error) {
		p := g.check(cmd, nil)
		t := lockTarget{kind: args[0]}
		if len(args) > 1 {
			t.name = args[1]
		}
		if ok := (t.kind == "platform") == (t.name == "") && (t.kind == "platform" || t.kind == "preview" || t.kind == "build"); !ok {
			p.Add("stack", "must be platform, preview <launch> or build <id>, got %q", strings.Join(args, " "))
		}
		if yes != nil && !*yes {
			p.Add("--yes", "is required: breaking a lock a live update holds corrupts its stack; confirm no update of it runs anywhere")
		}
		return t, invalidInput(op, "", p, nil, nil)
	}
}

func printLocks(w io.Writer, locks []automation.LockInfo) {
	if len(locks) == 0 {
		fmt.Fprintln(w, "no locks")
		return
	}
	printTable(w, "STACK\tHOLDER\tPID\tAGE\tPROCESS", "%s\t%s@%s\t%d\t%s\t%s\n", locks, func(l automation.LockInfo) []any {
		return []any{l.Stack, l.Username, l.Hostname, l.Pid, l.Age, l.Holder}
	})
}
