package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/apphub/apphub-infra/automation"
	"github.com/apphub/apphub-infra/internal/validate"
)

type previewUpFlags struct {
	spec     automation.PreviewSpec
	replicas int
	env      []string
	health   string
	ttl      time.Duration
	vals     flagValues
}

// previewFlags names the spec's fields as preview up's flags.
var previewFlags = map[string]string{
	"launch": "--launch", "image": "--image", "port": "--port", "replicas": "--replicas", "env": "--env",
	"cpuRequest": "--cpu-request", "memoryRequest": "--memory-request", "cpuLimit": "--cpu-limit",
	"memoryLimit": "--memory-limit", "healthPath": "--health-path", "ttlSeconds": "--ttl",
	"egressAllow": "--egress", "mountServiceAccountToken": "--mount-token",
}

func newPreviewCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "preview", Short: "Create, inspect and destroy preview stacks (one per launch)", Args: cobra.ArbitraryArgs, RunE: groupRun}
	cmd.AddCommand(newPreviewUpCmd(g), newPreviewDestroyCmd(g), newPreviewGetCmd(g), newPreviewListCmd(g), newPreviewGCCmd(g))
	return cmd
}

func newPreviewUpCmd(g *globals) *cobra.Command {
	f := &previewUpFlags{}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Create or update a launch's preview and wait until it serves",
		Example: `  apphubctl preview up --launch pr-42 --image apphub-registry:5000/apps/web:abc123
  apphubctl preview up --launch pr-42 --image ghcr.io/acme/web:1.4.0 --port 3000 \
      --env LOG_LEVEL=debug --ttl 48h --egress 10.0.0.0/8:5432 -o json`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return onManager(g, cmd, args, managerCall[automation.PreviewSpec, *automation.PreviewResult]{
				check: f.request, do: (*automation.Manager).PreviewUp, text: printPreview})
		},
	}
	fl, v := cmd.Flags(), &f.vals
	v.stringVar(fl, &f.spec.Launch, "launch", "", "launch id (required): a DNS label, at most 46 characters")
	v.stringVar(fl, &f.spec.Image, "image", "", "image with tag or digest (required)")
	v.intVar(fl, &f.spec.Port, "port", 0, "container port, 1024-65535 (default 8080)")
	v.intVar(fl, &f.replicas, "replicas", 1, "replicas, 0-10")
	fl.StringArrayVar(&f.env, "env", nil, "environment variable KEY=VALUE (repeatable)")
	v.stringVar(fl, &f.spec.CPURequest, "cpu-request", "", "CPU request (default 100m)")
	v.stringVar(fl, &f.spec.MemoryRequest, "memory-request", "", "memory request (default 128Mi)")
	v.stringVar(fl, &f.spec.CPULimit, "cpu-limit", "", "CPU limit (default 500m)")
	v.stringVar(fl, &f.spec.MemoryLimit, "memory-limit", "", "memory limit (default 512Mi)")
	v.stringVar(fl, &f.health, "health-path", "/", "readiness HTTP path; empty for a TCP check")
	v.durationVar(fl, &f.ttl, "ttl", 0, "expire the preview this long (whole seconds) after this update; preview gc destroys it")
	fl.StringArrayVar(&f.spec.EgressAllow, "egress", nil, "allowed egress CIDR:port (repeatable)")
	fl.BoolVar(&f.spec.MountToken, "mount-token", false, "mount the service account token")
	return cmd
}

// request builds the spec from the flags and validates the invocation as a
// whole, before anything is prepared or installed.
func (f *previewUpFlags) request(g *globals, cmd *cobra.Command, _ []string) (automation.PreviewSpec, error) {
	p := g.check(cmd, &f.vals)
	spec, changed := f.spec, cmd.Flags().Changed
	if changed("replicas") {
		spec.Replicas = &f.replicas
	}
	if changed("health-path") {
		spec.HealthPath = &f.health
	}
	spec.Env = keyValues(p, "env", f.env)
	if !p.Has("--ttl") {
		wholeSeconds(p, "ttl", f.ttl)
		spec.TTLSeconds = int(f.ttl / time.Second)
	}
	given := func(field string) bool { return changed(strings.TrimPrefix(previewFlags[field], "--")) }
	err := invalidInput("preview up", automation.PreviewStack(spec.Launch), p, automation.ValidatePreviewRequest(spec, given), previewFlags)
	return spec, err
}

func newPreviewDestroyCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "destroy LAUNCH",
		Short:   "Destroy a launch's preview and remove its stack (succeeds when already gone)",
		Example: `  apphubctl preview destroy pr-42`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return onManager(g, cmd, args, managerCall[string, *automation.PreviewResult]{
				check: launchArg.check("preview destroy"), do: (*automation.Manager).PreviewDestroy,
				text: func(w io.Writer, r *automation.PreviewResult) {
					printDestroyed(w, "preview "+r.Launch, r.AlreadyGone, r.Recovered)
				}})
		},
	}
}

func newPreviewGetCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "get LAUNCH",
		Short:   "Show a preview's state, URL, outputs and last update",
		Example: `  apphubctl preview get pr-42 -o json`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return onManager(g, cmd, args, managerCall[string, *automation.PreviewResult]{lookup: true,
				check: launchArg.check("preview get"), do: (*automation.Manager).PreviewGet, text: printPreview})
		},
	}
}

func newPreviewListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List preview stacks",
		Example: `  apphubctl preview list -o json`,
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return onManager(g, cmd, args, managerCall[struct{}, []automation.PreviewListItem]{lookup: true,
				check: checkGlobals("preview list"), do: noRequest((*automation.Manager).PreviewList), text: printPreviewList})
		},
	}
}

func printPreviewList(w io.Writer, items []automation.PreviewListItem) {
	printTable(w, "LAUNCH\tLAST UPDATE\tIN PROGRESS\tRESOURCES", "%s\t%s\t%t\t%d\n", items, func(it automation.PreviewListItem) []any {
		return []any{it.Launch, it.LastUpdate, it.UpdateInProgress, it.Resources}
	})
}

func newPreviewGCCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "gc",
		Short:   "Destroy previews whose expiry (--ttl) has passed",
		Example: `  apphubctl preview gc   # e.g. from a CronJob or a systemd timer`,
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return onManager(g, cmd, args, managerCall[struct{}, []automation.GCResult]{partial: true,
				check: checkGlobals("preview gc"), do: noRequest((*automation.Manager).GC), text: printGC})
		},
	}
}

func printGC(w io.Writer, results []automation.GCResult) {
	if len(results) == 0 {
		fmt.Fprintln(w, "no expired previews")
	}
	for _, r := range results {
		if r.Unreadable {
			fmt.Fprintf(w, "%s: cannot read its state (expiry unknown): %s\n", r.Launch, r.Error)
			continue
		}
		status := "destroyed"
		if !r.Destroyed {
			status = "failed: " + r.Error
		}
		fmt.Fprintf(w, "%s (expired %s): %s\n", r.Launch, r.ExpiresAt, status)
	}
}

func printPreview(w io.Writer, r *automation.PreviewResult) {
	fmt.Fprintf(w, "preview %s: %s\n", r.Launch, r.State)
	if r.Stub {
		fmt.Fprintln(w, "  (stub execution mode: nothing was created)")
	}
	for _, kv := range [][2]string{{"url", r.URL}, {"namespace", r.Namespace}, {"service", r.ServiceName}, {"expires", r.ExpiresAt}} {
		if kv[1] != "" {
			fmt.Fprintf(w, "  %-10s %s\n", kv[0], kv[1])
		}
	}
	if r.LastUpdate != nil {
		fmt.Fprintf(w, "  %-10s %s %s at %s\n", "last", r.LastUpdate.Kind, r.LastUpdate.Result, r.LastUpdate.StartTime.Format(time.RFC3339))
	}
	printRecovered(w, r.Recovered)
}

// keyValues parses repeated KEY=VALUE flags, recording each malformed or
// repeated key (a map would keep only the last).
func keyValues(p *validate.Problems, name string, kvs []string) map[string]string {
	if len(kvs) == 0 {
		return nil
	}
	out := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		switch _, dup := out[k]; {
		case !ok || k == "":
			p.Add(flagName(name), "entry %q must be KEY=VALUE", kv)
		case dup:
			p.Add(flagName(name), "key %q is given more than once", k)
		default:
			out[k] = v
		}
	}
	return out
}

// groupRun is the RunE of commands that only group subcommands: help
// without arguments, an unknown command (exit 2) otherwise. Without it
// cobra prints help and exits 0 for "preview frob".
func groupRun(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return cmd.Help()
	}
	err := fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's own default, set only on its path
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		err = fmt.Errorf("%w; did you mean %q?", err, s[0])
	}
	return usage(cmd, "command", err)
}

func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return usage(cmd, "args", err)
		}
		return nil
	}
}
