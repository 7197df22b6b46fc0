package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/apphub/apphub-infra/automation"
	"github.com/apphub/apphub-infra/internal/validate"
	"github.com/apphub/apphub-infra/stacks"
)

func newPlatformCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "platform",
		Short: "Bring the platform stack up, tear it down, print the catalog's settings",
		Args:  cobra.ArbitraryArgs,
		RunE:  groupRun,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "up",
		Short: "Create or update the platform stack (config from Pulumi.<stack>.yaml)",
		Example: `  apphubctl platform up --platform-stack dev
  apphubctl platform up --platform-stack prod`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return onManager(g, cmd, args, managerCall[struct{}, *automation.PlatformResult]{
				check: checkPlatform("platform up", true), do: noRequest((*automation.Manager).PlatformUp), text: printPlatform})
		},
	}, &cobra.Command{
		Use:     "destroy",
		Short:   "Destroy everything the platform stack created",
		Example: `  apphubctl platform destroy --platform-stack dev`,
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return onManager(g, cmd, args, managerCall[struct{}, *automation.PlatformResult]{
				check: checkPlatform("platform destroy", false), do: noRequest((*automation.Manager).PlatformDestroy), text: printPlatform})
		},
	}, &cobra.Command{
		Use:   "status",
		Short: "Check the cluster, namespaces, Redis, registry, runners, API service and preview quota",
		Long: `Check each part of the platform against the cluster as it is now. Exits 1
naming what is down (3 when there is no platform), after printing every check.`,
		Example: `  apphubctl platform status
  apphubctl platform status -o json`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return onManager(g, cmd, args, managerCall[struct{}, *automation.PlatformStatus]{lookup: true, partial: true,
				check: checkPlatform("platform status", false), do: noRequest((*automation.Manager).PlatformStatus), text: printStatus})
		},
	}, &cobra.Command{
		Use:   "env",
		Short: "Print the catalog's APPHUB_* and REDIS_URL settings from the platform outputs",
		Example: `  eval "$(apphubctl platform env)"
  apphubctl platform env -o json`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return onManager(g, cmd, args, managerCall[struct{}, []stacks.EnvVar]{lookup: true,
				check: checkPlatform("platform env", false), do: noRequest((*automation.Manager).PlatformEnv),
				text: func(w io.Writer, vars []stacks.EnvVar) { fmt.Fprint(w, stacks.ExportLines(vars)) }})
		},
	})
	return cmd
}

// checkPlatform validates a platform command's invocation; with config,
// the platform stack's config too (platform up).
func checkPlatform(op string, config bool) func(*globals, *cobra.Command, []string) (struct{}, error) {
	return func(g *globals, cmd *cobra.Command, _ []string) (struct{}, error) {
		p := g.check(cmd, nil)
		if config {
			platformConfigProblems(p, g.projectDir, g.platformStack)
		}
		return struct{}{}, invalidInput(op, g.platformStack, p, nil, nil)
	}
}

func printStatus(w io.Writer, s *automation.PlatformStatus) {
	for _, c := range s.Checks {
		state := "ok"
		if !c.OK {
			state = "DOWN"
		}
		fmt.Fprintf(w, "%-4s  %-24s  %s\n", state, c.Name, c.Detail)
	}
}

func printPlatform(w io.Writer, res *automation.PlatformResult) {
	fmt.Fprintf(w, "platform stack %s: done\n", res.Stack)
	printRecovered(w, res.Recovered)
}

// printDestroyed reports a destroy of what (a preview, a build).
func printDestroyed(w io.Writer, what string, alreadyGone bool, recovered []string) {
	if alreadyGone {
		fmt.Fprintf(w, "%s: already gone\n", what)
		return
	}
	fmt.Fprintf(w, "%s: destroyed\n", what)
	printRecovered(w, recovered)
}

func printRecovered(w io.Writer, recovered []string) {
	for _, r := range recovered {
		fmt.Fprintf(w, "recovered: %s\n", r)
	}
}

// platformConfigProblems validates the platform stack's config from its
// stack file (with the catalog's APPHUB_* overrides) before platform up
// creates or updates the stack: the program validates it too, but only
// once the stack exists. What the file cannot show (secret values, an ESC
// environment, a config directory elsewhere) is left to the program.
func platformConfigProblems(p *validate.Problems, projectDir, stack string) {
	if p.Has("--platform-stack") || p.Has("--project-dir") {
		return
	}
	values, opaque, ok, err := readStackConfig(projectDir, stack)
	if err != nil {
		p.Add("Pulumi."+stack+".yaml", "%v", err)
		return
	}
	if !ok {
		return
	}
	unknownKeys(p, values, opaque)
	if err := stacks.CheckPlatformValues(values, opaque); err != nil && !p.Merge(err, nil) {
		p.Add("Pulumi."+stack+".yaml", "%v", err)
	}
}

// unknownKeys refuses project keys the platform does not read: a typo
// (namspace) would otherwise leave the default in force without a word.
func unknownKeys(p *validate.Problems, values map[string]string, opaque map[string]bool) {
	var keys []string
	for k := range values {
		keys = append(keys, k)
	}
	for k := range opaque {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range stacks.UnknownKeys(stacks.PlatformConfigKeys(), keys) {
		p.Add(k.Key, "is not a config key of the platform: it would be ignored%s", k.Hint)
	}
}

// readStackConfig reads the project's keys from Pulumi.<stack>.yaml:
// plain values, and the keys whose values it cannot see (secure or
// structured). ok is false when the file is not the whole story.
func readStackConfig(projectDir, stack string) (values map[string]string, opaque map[string]bool, ok bool, err error) {
	var project struct {
		StackConfigDir string `yaml:"stackConfigDir"`
	}
	if b, err := os.ReadFile(filepath.Join(projectDir, "Pulumi.yaml")); err == nil {
		_ = yaml.Unmarshal(b, &project) // a broken Pulumi.yaml is the CLI's to report
	}
	if project.StackConfigDir != "" {
		return nil, nil, false, nil
	}
	values, opaque = map[string]string{}, map[string]bool{}
	b, err := os.ReadFile(filepath.Join(projectDir, "Pulumi."+stack+".yaml"))
	if errors.Is(err, os.ErrNotExist) {
		return values, opaque, true, nil // a new stack starts without config
	}
	if err != nil {
		return nil, nil, false, fmt.Errorf("reading the stack file: %w", err)
	}
	var doc struct {
		Config      map[string]yaml.Node `yaml:"config"`
		Environment any                  `yaml:"environment"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, nil, false, fmt.Errorf("must be YAML: %w", err)
	}
	if doc.Environment != nil {
		return nil, nil, false, nil
	}
	for k, node := range doc.Config {
		key, ok := strings.CutPrefix(k, platformProject+":")
		if !ok && strings.Contains(k, ":") {
			continue // another namespace: kubernetes:context and the like
		}
		if node.Kind == yaml.ScalarNode {
			values[key] = node.Value
		} else {
			opaque[key] = true
		}
	}
	return values, opaque, true, nil
}

// platformProject is the platform's project name and config namespace.
const platformProject = "apphub"
