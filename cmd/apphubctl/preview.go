package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/apphub/apphub-infra/automation"
)

type previewUpFlags struct {
	spec     automation.PreviewSpec
	replicas int
	env      []string
	health   string
	ttl      time.Duration
}

func newPreviewCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "preview", Short: "Create, inspect and destroy preview stacks (one per launch)"}
	cmd.AddCommand(newPreviewUpCmd(g), newPreviewDestroyCmd(g), newPreviewGetCmd(g), newPreviewListCmd(g), newPreviewGCCmd(g))
	return cmd
}

func newPreviewUpCmd(g *globals) *cobra.Command {
	var f previewUpFlags
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Create or update a launch's preview and wait until it serves",
		Example: `  apphubctl preview up --launch pr-42 --image apphub-registry:5000/apps/web:abc123
  apphubctl preview up --launch pr-42 --image ghcr.io/acme/web:1.4.0 --port 3000 \
      --env LOG_LEVEL=debug --ttl 48h --egress 10.0.0.0/8:5432 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec := f.spec
			if cmd.Flags().Changed("replicas") {
				spec.Replicas = &f.replicas
			}
			if cmd.Flags().Changed("health-path") {
				spec.HealthPath = &f.health
			}
			env, err := keyValues("--env", f.env)
			if err != nil {
				return err
			}
			spec.Env = env
			spec.TTLSeconds = int(f.ttl / time.Second)
			m, ctx, cancel, err := g.session(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			res, err := m.PreviewUp(ctx, spec)
			if err != nil {
				return err
			}
			return g.emit(res, func(w io.Writer) { printPreview(w, res) })
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.spec.Launch, "launch", "", "launch id (required): a DNS label, at most 46 characters")
	fl.StringVar(&f.spec.Image, "image", "", "image with tag or digest (required)")
	fl.IntVar(&f.spec.Port, "port", 0, "container port (default 8080)")
	fl.IntVar(&f.replicas, "replicas", 1, "replicas")
	fl.StringArrayVar(&f.env, "env", nil, "environment variable KEY=VALUE (repeatable)")
	fl.StringVar(&f.spec.CPURequest, "cpu-request", "", "CPU request (default 100m)")
	fl.StringVar(&f.spec.MemoryRequest, "memory-request", "", "memory request (default 128Mi)")
	fl.StringVar(&f.spec.CPULimit, "cpu-limit", "", "CPU limit (default 500m)")
	fl.StringVar(&f.spec.MemoryLimit, "memory-limit", "", "memory limit (default 512Mi)")
	fl.StringVar(&f.health, "health-path", "/", "readiness HTTP path; empty for a TCP check")
	fl.DurationVar(&f.ttl, "ttl", 0, "expire the preview this long after this update (preview gc destroys it)")
	fl.StringArrayVar(&f.spec.EgressAllow, "egress", nil, "allowed egress CIDR:port (repeatable)")
	fl.BoolVar(&f.spec.MountToken, "mount-token", false, "mount the service account token")
	cmd.PreRunE = requireFlags("launch", "image")
	return cmd
}

func newPreviewDestroyCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "destroy LAUNCH",
		Short:   "Destroy a launch's preview and remove its stack (succeeds when already gone)",
		Example: `  apphubctl preview destroy pr-42`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, ctx, cancel, err := g.session(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			res, err := m.PreviewDestroy(ctx, args[0])
			if err != nil {
				return err
			}
			return g.emit(res, func(w io.Writer) {
				if res.AlreadyGone {
					fmt.Fprintf(w, "preview %s: already gone\n", res.Launch)
					return
				}
				fmt.Fprintf(w, "preview %s: destroyed\n", res.Launch)
				printRecovered(w, res.Recovered)
			})
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
			m, ctx, cancel, err := g.session(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			res, err := m.PreviewGet(ctx, args[0])
			if err != nil {
				return err
			}
			return g.emit(res, func(w io.Writer) { printPreview(w, res) })
		},
	}
}

func newPreviewListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List preview stacks",
		Example: `  apphubctl preview list -o json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, ctx, cancel, err := g.session(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			items, err := m.PreviewList(ctx)
			if err != nil {
				return err
			}
			return g.emit(items, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "LAUNCH\tLAST UPDATE\tIN PROGRESS\tRESOURCES")
				for _, it := range items {
					fmt.Fprintf(tw, "%s\t%s\t%t\t%d\n", it.Launch, it.LastUpdate, it.UpdateInProgress, it.Resources)
				}
				_ = tw.Flush()
			})
		},
	}
}

func newPreviewGCCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "gc",
		Short:   "Destroy previews whose expiry (--ttl) has passed",
		Example: `  apphubctl preview gc   # e.g. from a CronJob or a systemd timer`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, ctx, cancel, err := g.session(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			results, err := m.GC(ctx)
			if emitErr := g.emit(results, func(w io.Writer) {
				if len(results) == 0 {
					fmt.Fprintln(w, "no expired previews")
				}
				for _, r := range results {
					status := "destroyed"
					if !r.Destroyed {
						status = "failed: " + r.Error
					}
					fmt.Fprintf(w, "%s (expired %s): %s\n", r.Launch, r.ExpiresAt, status)
				}
			}); emitErr != nil {
				return emitErr
			}
			return err
		},
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

// keyValues parses repeated KEY=VALUE flags.
func keyValues(flag string, kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usageError{fmt.Errorf("%s %q: want KEY=VALUE", flag, kv)}
		}
		out[k] = v
	}
	return out, nil
}

func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

// requireFlags reports missing required flags as a usage error (exit 2).
func requireFlags(names ...string) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		var missing []string
		for _, n := range names {
			if !cmd.Flags().Changed(n) {
				missing = append(missing, "--"+n)
			}
		}
		if len(missing) > 0 {
			return usageError{fmt.Errorf("required flag(s) %s not set", strings.Join(missing, ", "))}
		}
		return nil
	}
}
