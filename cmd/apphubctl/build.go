package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/apphub/apphub-infra/automation"
)

func newBuildCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "build", Short: "Run BuildKit builds as stacks and inspect them"}
	cmd.AddCommand(newBuildRunCmd(g), newBuildGetCmd(g))
	return cmd
}

func newBuildRunCmd(g *globals) *cobra.Command {
	var spec automation.BuildSpec
	var args []string
	var backoff int
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Build and push an image; waits for the Job and prints the image reference",
		Example: `  apphubctl build run --id b-7 --git-url https://github.com/acme/web.git --git-ref main \
      --repository apps/web --tag "$(git rev-parse --short HEAD)"
  apphubctl build run --id b-8 --context-url https://example.com/src.tar.gz \
      --repository apps/api --tag 1.2.0 --build-arg GO_VERSION=1.26 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			buildArgs, err := keyValues("--build-arg", args)
			if err != nil {
				return err
			}
			spec.BuildArgs = buildArgs
			if cmd.Flags().Changed("backoff-limit") {
				spec.BackoffLimit = &backoff
			}
			m, ctx, cancel, err := g.session(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			res, err := m.BuildRun(ctx, spec)
			if err != nil {
				return err
			}
			return g.emit(res, func(w io.Writer) { printBuild(w, res) })
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&spec.ID, "id", "", "build id (required): a DNS label, at most 48 characters")
	fl.StringVar(&spec.GitURL, "git-url", "", "https git repository")
	fl.StringVar(&spec.GitRef, "git-ref", "", "branch, tag or commit")
	fl.StringVar(&spec.ContextDir, "context-dir", "", "subdirectory used as build context")
	fl.StringVar(&spec.ContextURL, "context-url", "", "https URL of a context tarball (instead of --git-url)")
	fl.StringVar(&spec.Dockerfile, "dockerfile", "", "Dockerfile path in the context (default Dockerfile)")
	fl.StringVar(&spec.ImageRepository, "repository", "", "repository under the platform registry (required), e.g. apps/web")
	fl.StringVar(&spec.ImageTag, "tag", "", "image tag (required)")
	fl.StringArrayVar(&args, "build-arg", nil, "build argument KEY=VALUE (repeatable)")
	fl.IntVar(&backoff, "backoff-limit", 1, "retries of a failed build pod")
	cmd.PreRunE = requireFlags("id", "repository", "tag")
	return cmd
}

func newBuildGetCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "get ID",
		Short:   "Show a build's state and image",
		Example: `  apphubctl build get b-7 -o json`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, ctx, cancel, err := g.session(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			res, err := m.BuildGet(ctx, args[0])
			if err != nil {
				return err
			}
			return g.emit(res, func(w io.Writer) { printBuild(w, res) })
		},
	}
}

func printBuild(w io.Writer, r *automation.BuildResult) {
	fmt.Fprintf(w, "build %s: %s\n", r.ID, r.State)
	if r.Stub {
		fmt.Fprintln(w, "  (stub execution mode: nothing was built)")
	}
	for _, kv := range [][2]string{{"image", r.Image}, {"pushed", r.PushRef}, {"job", r.JobName}} {
		if kv[1] != "" {
			fmt.Fprintf(w, "  %-7s %s\n", kv[0], kv[1])
		}
	}
	printRecovered(w, r.Recovered)
}
