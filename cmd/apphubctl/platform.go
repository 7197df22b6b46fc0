package main

import (
	"context"
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
  APPHUB_K8S_NAMESPACE=launches apphubctl platform up --platform-stack prod`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			p := g.check(cmd, nil)
			platformConfigProblems(p, g.projectDir, g.platformStack)
			return platformRun(cmd, g, p, (*automation.Manager).PlatformUp)
		},
	}, &cobra.Command{
		Use:     "destroy",
		Short:   "Destroy everything the platform stack created",
		Example: `  apphubctl platform destroy --platform-stack dev`,
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return platformRun(cmd, g, g.check(cmd, nil), (*automation.Manager).PlatformDestroy)
		},
	}, &cobra.Command{
		Use:   "env",
		Short: "Print the catalog's APPHUB_* and REDIS_URL settings from the platform outputs",
		Example: `  eval "$(apphubctl platform env)"
  apphubctl platform env -o json`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := invalidInput("platform env", g.platformStack, g.check(cmd, nil), nil, nil); err != nil {
				return err
			}
			m, ctx, cancel, err := g.session(cmd, true)
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

// platformRun runs a platform operation once the invocation's problems p
// came out empty.
func platformRun(cmd *cobra.Command, g *globals, p *validate.Problems, op func(*automation.Manager, context.Context) (*automation.PlatformResult, error)) error {
	if err := invalidInput("platform "+cmd.Name(), g.platformStack, p, nil, nil); err != nil {
		return err
	}
	m, ctx, cancel, err := g.session(cmd, false)
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
	if err := stacks.CheckPlatformValues(values, opaque, stacks.OSEnv); err != nil && !p.Merge(err, nil) {
		p.Add("Pulumi."+stack+".yaml", "%v", err)
	}
}

// unknownKeys refuses project keys the platform does not read: a typo
// (namspace) would otherwise leave the default in force without a word.
func unknownKeys(p *validate.Problems, values map[string]string, opaque map[string]bool) {
	known := map[string]bool{}
	for _, k := range stacks.PlatformConfigKeys() {
		known[k.Name] = true
	}
	var keys []string
	for k := range values {
		keys = append(keys, k)
	}
	for k := range opaque {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if known[k] {
			continue
		}
		rule := "is not a config key of the platform: it would be ignored"
		for name := range known {
			if strings.EqualFold(name, k) {
				rule += fmt.Sprintf(" (keys are case-sensitive: did you mean %q?)", name)
			}
		}
		p.Add(k, "%s", rule)
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
