package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/apphub/apphub-infra/automation"
)

func newBuildCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "build", Short: "Run BuildKit builds as stacks and inspect them", Args: cobra.ArbitraryArgs, RunE: groupRun}
	cmd.AddCommand(newBuildRunCmd(g), newBuildGetCmd(g), newBuildListCmd(g), newBuildDestroyCmd(g), newBuildLogsCmd(g))
	return cmd
}

// buildFlags names the spec's fields as build run's flags.
var buildFlags = map[string]string{
	"id": "--id", "gitUrl": "--git-url", "gitRef": "--git-ref", "contextDir": "--context-dir",
	"contextUrl": "--context-url", "dockerfile": "--dockerfile", "imageRepository": "--repository",
	"imageTag": "--tag", "buildArgs": "--build-arg", "backoffLimit": "--backoff-limit",
}

type buildRunFlags struct {
	spec    automation.BuildSpec
	args    []string
	backoff int
	vals    flagValues
}

func newBuildRunCmd(g *globals) *cobra.Command {
	f := &buildRunFlags{}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Build and push an image; waits for the Job and prints the image reference",
		Example: `  apphubctl build run --id b-7 --git-url https://github.com/acme/web.git --git-ref main \
      --repository apps/web --tag "$(git rev-parse --short HEAD)"
  apphubctl build run --id b-8 --context-url https://example.com/src.tar.gz \
      --repository apps/api --tag 1.2.0 --build-arg GO_VERSION=1.26 -o json`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return onManager(g, cmd, args, managerCall[automation.BuildSpec, *automation.BuildResult]{
				check: f.request, do: (*automation.Manager).BuildRun, text: printBuild})
		},
	}
	fl, v, spec := cmd.Flags(), &f.vals, &f.spec
	v.stringVar(fl, &spec.ID, "id", "", "build id (required): a DNS label, at most 48 characters")
	v.stringVar(fl, &spec.GitURL, "git-url", "", "https git repository")
	v.stringVar(fl, &spec.GitRef, "git-ref", "", "branch, tag or commit")
	v.stringVar(fl, &spec.ContextDir, "context-dir", "", "subdirectory used as build context")
	v.stringVar(fl, &spec.ContextURL, "context-url", "", "https URL of a context tarball (instead of --git-url)")
	v.stringVar(fl, &spec.Dockerfile, "dockerfile", "", "Dockerfile path in the context (default Dockerfile)")
	v.stringVar(fl, &spec.ImageRepository, "repository", "", "repository under the platform registry (required), e.g. apps/web")
	v.stringVar(fl, &spec.ImageTag, "tag", "", "image tag (required)")
	fl.StringArrayVar(&f.args, "build-arg", nil, "build argument KEY=VALUE (repeatable)")
	v.intVar(fl, &f.backoff, "backoff-limit", 1, "retries of a failed build pod, 0-5")
	return cmd
}

// request builds the spec from the flags and validates the invocation as a
// whole, before anything is prepared or installed.
func (f *buildRunFlags) request(g *globals, cmd *cobra.Command, _ []string) (automation.BuildSpec, error) {
	p := g.check(cmd, &f.vals)
	spec, changed := f.spec, cmd.Flags().Changed
	spec.BuildArgs = keyValues(p, "build-arg", f.args)
	if changed("backoff-limit") {
		spec.BackoffLimit = &f.backoff
	}
	given := func(field string) bool {
		name, ok := buildFlags[field]
		return ok && changed(strings.TrimPrefix(name, "--"))
	}
	err := invalidInput("build run", automation.BuildStack(spec.ID), p, automation.ValidateBuildRequest(spec, given), buildFlags)
	return spec, err
}

func newBuildGetCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "get ID",
		Short:   "Show a build's state and image",
		Example: `  apphubctl build get b-7 -o json`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return onManager(g, cmd, args, managerCall[string, *automation.BuildResult]{lookup: true,
				check: buildIDArg.check("build get"), do: (*automation.Manager).BuildGet, text: printBuild})
		},
	}
}

func printBuild(w io.Writer, r *automation.BuildResult) {
	fmt.Fprintf(w, "build %s: %s\n", r.ID, r.State)
	if r.Stub {
		fmt.Fprintln(w, "  (stub execution mode: nothing was built)")
	}
	for _, kv := range [][2]string{{"image", r.Image}, {"pushed", r.PushRef}, {"job", r.JobName}, {"note", r.Note}} {
		if kv[1] != "" {
			fmt.Fprintf(w, "  %-7s %s\n", kv[0], kv[1])
		}
	}
	printRecovered(w, r.Recovered)
}
