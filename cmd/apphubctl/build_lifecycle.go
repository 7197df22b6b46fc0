package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/apphub/apphub-infra/automation"
)

func newBuildListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List build stacks",
		Example: `  apphubctl build list -o json`,
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := invalidInput("build list", "", g.check(cmd, nil), nil, nil); err != nil {
				return err
			}
			m, ctx, cancel, err := g.session(cmd, true)
			if err != nil {
				return err
			}
			defer cancel()
			items, err := m.BuildList(ctx)
			if err != nil {
				return err
			}
			return g.emit(items, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tLAST UPDATE\tIN PROGRESS\tRESOURCES")
				for _, it := range items {
					fmt.Fprintf(tw, "%s\t%s\t%t\t%d\n", it.ID, it.LastUpdate, it.UpdateInProgress, it.Resources)
				}
				_ = tw.Flush()
			})
		},
	}
}

func newBuildDestroyCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "destroy ID",
		Short:   "Delete a build's Job and remove its stack (the image stays; succeeds when already gone)",
		Example: `  apphubctl build destroy b-7`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			const op = "build destroy"
			id := args[0]
			if err := checkBuildID(g, cmd, op, id); err != nil {
				return err
			}
			m, ctx, cancel, err := g.session(cmd, false)
			if err != nil {
				return err
			}
			defer cancel()
			res, err := m.BuildDestroy(ctx, id)
			if err != nil {
				return err
			}
			return g.emit(res, func(w io.Writer) {
				if res.AlreadyGone {
					fmt.Fprintf(w, "build %s: already gone\n", res.ID)
					return
				}
				fmt.Fprintf(w, "build %s: destroyed\n", res.ID)
				printRecovered(w, res.Recovered)
			})
		},
	}
}

func newBuildLogsCmd(g *globals) *cobra.Command {
	var follow bool
	cmd := &cobra.Command{
		Use:   "logs ID",
		Short: "Print a build's logs from its Job's pods (every attempt); -f follows until the Job ends",
		Example: `  apphubctl build logs b-7
  apphubctl build logs b-7 -f`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			const op = "build logs"
			id := args[0]
			if err := checkBuildID(g, cmd, op, id); err != nil {
				return err
			}
			m, ctx, cancel, err := g.session(cmd, true)
			if err != nil {
				return err
			}
			defer cancel()
			return m.BuildLogs(ctx, id, follow, g.stdout)
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "stream until the Job has finished")
	return cmd
}

// checkBuildID validates the invocation of a command that takes a build ID.
func checkBuildID(g *globals, cmd *cobra.Command, op, id string) error {
	return invalidInput(op, automation.BuildStack(id), g.check(cmd, nil), automation.ValidBuild(op, id), map[string]string{"id": "ID"})
}
