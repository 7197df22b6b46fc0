package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/apphub/apphub-infra/automation"
)

// newPluginsCmd lists the provider plugins this binary's programs need, at
// the versions go.mod pins for their SDKs: what an image or an offline
// machine must install (the Dockerfile and `make plugins` read it).
func newPluginsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "plugins",
		Short: "List the provider plugins (name and version) the programs need",
		Example: `  apphubctl plugins
  apphubctl plugins | while read -r name version; do pulumi plugin install resource "$name" "$version"; done`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := invalidInput(cmd.CommandPath(), "", g.check(cmd, nil), nil, nil); err != nil {
				return err
			}
			plugins, err := automation.DefaultPlugins()
			if err != nil {
				return err
			}
			return g.emit(plugins, func(w io.Writer) {
				for _, p := range plugins {
					fmt.Fprintf(w, "%s %s\n", p.Name, p.Version)
				}
			})
		},
	}
}
