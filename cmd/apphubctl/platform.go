package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/apphub/apphub-infra/automation"
	"github.com/apphub/apphub-infra/stacks"
)

func newPlatformCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "platform",
		Short: "Bring the platform stack up, tear it down, print the catalog's settings",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "up",
		Short: "Create or update the platform stack (config from Pulumi.<stack>.yaml)",
		Example: `  apphubctl platform up --platform-stack dev
  APPHUB_K8S_NAMESPACE=launches apphubctl platform up --platform-stack prod`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return platformRun(cmd, g, (*automation.Manager).PlatformUp)
		},
	}, &cobra.Command{
		Use:     "destroy",
		Short:   "Destroy everything the platform stack created",
		Example: `  apphubctl platform destroy --platform-stack dev`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return platformRun(cmd, g, (*automation.Manager).PlatformDestroy)
		},
	}, &cobra.Command{
		Use:   "env",
		Short: "Print the catalog's APPHUB_* and REDIS_URL settings from the platform outputs",
		Example: `  eval "$(apphubctl platform env)"
  apphubctl platform env -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, ctx, cancel, err := g.session(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			vars, err := m.PlatformEnv(ctx)
			if err != nil {
				return err
			}
			return g.emit(vars, func(w io.Writer) { fmt.Fprint(w, stacks.ExportLines(vars)) })
		},
	})
	return cmd
}

func platformRun(cmd *cobra.Command, g *globals, op func(*automation.Manager, context.Context) (*automation.PlatformResult, error)) error {
	m, ctx, cancel, err := g.session(cmd)
	if err != nil {
		return err
	}
	defer cancel()
	res, err := op(m, ctx)
	if err != nil {
		return err
	}
	return g.emit(res, func(w io.Writer) {
		fmt.Fprintf(w, "platform stack %s: done\n", res.Stack)
		printRecovered(w, res.Recovered)
	})
}

func printRecovered(w io.Writer, recovered []string) {
	for _, r := range recovered {
		fmt.Fprintf(w, "recovered: %s\n", r)
	}
}
