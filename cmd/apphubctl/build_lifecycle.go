package main

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/apphub/apphub-infra/automation"
)

func newBuildListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List build stacks",
		Example: `  apphubctl build list -o json`,
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return onManager(g, cmd, args, managerCall[struct{}, []automation.BuildListItem]{lookup: true,
				check: checkGlobals("build list"), do: noRequest((*automation.Manager).BuildList), text: printBuildList})
		},
	}
}

func printBuildList(w io.Writer, items []automation.BuildListItem) {
	printTable(w, "ID\tLAST UPDATE\tIN PROGRESS\tRESOURCES", "%s\t%s\t%t\t%d\n", items, func(it automation.BuildListItem) []any {
		return []any{it.ID, it.LastUpdate, it.UpdateInProgress, it.Resources}
	})
}

func newBuildDestroyCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "destroy ID",
		Short:   "Delete a build's Job and remove its stack (the image stays; succeeds when already gone)",
		Example: `  apphubctl build destroy b-7`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return onManager(g, cmd, args, managerCall[string, *automation.BuildResult]{
				check: buildIDArg.check("build destroy"), do: (*automation.Manager).BuildDestroy,
				text: func(w io.Writer, r *automation.BuildResult) {
					printDestroyed(w, "build "+r.ID, r.AlreadyGone, r.Recovered)
				}})
		},
	}
}

// buildLogsFlags is build logs' flagpole.
type buildLogsFlags struct {
	follow bool
}

func newBuildLogsCmd(g *globals) *cobra.Command {
	f := &buildLogsFlags{}
	cmd := &cobra.Command{
		Use:   "logs ID",
		Short: "Print a build's logs from its Job's pods (every attempt); -f follows until the Job ends",
		Example: `  apphubctl build logs b-7
  apphubctl build logs b-7 -f`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return onManager(g, cmd, args, managerCall[string, struct{}]{lookup: true,
				check: buildIDArg.check("build logs"),
				do: func(m *automation.Manager, ctx context.Context, id string) (struct{}, error) {
					return struct{}{}, m.BuildLogs(ctx, id, f.follow, g.stdout) // streams; no result to emit
				}})
		},
	}
	cmd.Flags().BoolVarP(&f.follow, "follow", "f", false, "stream until the Job has finished")
	return cmd
}
