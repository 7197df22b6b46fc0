package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/apphub/apphub-infra/automation"
	"github.com/apphub/apphub-infra/internal/validate"
)

// Exit codes.
const (
	exitOK       = 0
	exitFailed   = 1 // the operation ran and failed, or an internal error
	exitInvalid  = 2 // bad usage or input: nothing was touched
	exitNotFound = 3
	exitConflict = 4 // another operation holds the stack
	exitTimeout  = 5
	exitCanceled = 6
	exitQuota    = 7 // valid, but the namespace's quota cannot fit it now
)

// globals are the flags every command shares.
type globals struct {
	output            string
	stateDir          string
	backendURL        string
	databaseURL       string
	projectDir        string
	platformStack     string
	kubeconfig        string
	kubeContext       string
	platformNamespace string
	maxConcurrent     int
	skipPluginInstall bool
	requirePassphrase bool
	quiet             bool
	events            bool
	timeout           time.Duration
	vals              flagValues

	stdout, stderr io.Writer
}

// Run executes apphubctl with args and returns the process exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	g := &globals{stdout: stdout, stderr: stderr}
	root := newRootCmd(g)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	if g.output == "json" {
		writeJSONError(stdout, err)
	}
	fmt.Fprintln(stderr, "error:", err)
	return code
}

func exitCode(err error) int {
	switch automation.KindOf(err) {
	case automation.KindInvalid:
		return exitInvalid
	case automation.KindNotFound:
		return exitNotFound
	case automation.KindConflict:
		return exitConflict
	case automation.KindTimeout:
		return exitTimeout
	case automation.KindCanceled:
		return exitCanceled
	case automation.KindQuota:
		return exitQuota
	}
	return exitFailed
}

// flagToken finds the flag a pflag parse error is about: the long name of
// an invalid argument's flag ("-q, --quiet"), else the first flag named.
var (
	invalidArgFlag = regexp.MustCompile(`for "(?:-[A-Za-z0-9], )?(-{1,2}[A-Za-z0-9][A-Za-z0-9-]*)" flag`)
	flagToken      = regexp.MustCompile(`-{1,2}[A-Za-z0-9][A-Za-z0-9-]*`)
)

// flagError reports a parse error pflag stopped at (an unknown flag, a flag
// without its value, a bool that is not one) as invalid input naming the
// flag, like every other bad flag. Scalar flags never stop the parse (see
// flags.go), so this is the one problem cobra could not let through.
func flagError(cmd *cobra.Command, err error) error {
	field := "flags"
	if m := invalidArgFlag.FindStringSubmatch(err.Error()); m != nil {
		field = m[1]
	} else if m := flagToken.FindString(err.Error()); m != "" {
		field = m
	}
	return usage(cmd, field, err)
}

// usage is bad command-line usage as invalid input naming field.
func usage(cmd *cobra.Command, field string, err error) error {
	fields := validate.Errors{{Field: field, Rule: err.Error()}}
	return &automation.Error{Kind: automation.KindInvalid, Op: cmd.CommandPath(), Fields: fields, Reason: fields.Error(), Err: err}
}

func newRootCmd(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "apphubctl",
		Short: "Create, inspect and destroy AppHub platform, preview and build stacks",
		Long: `apphubctl drives AppHub's Pulumi stacks through the Automation API:
the platform (namespaces, identities, registry, Redis, runners), one preview
stack per launch and one build stack per image build. It needs only the
Pulumi CLI (make pulumi builds it into ./bin); programs run inline.

Exit codes: 0 ok, 1 failed, 2 invalid input, 3 not found, 4 conflict,
5 timeout, 6 canceled, 7 quota exceeded. Progress goes to stderr; results to stdout
(--output json for machines).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.ArbitraryArgs,
		RunE:          groupRun,
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return flagError(cmd, err) })
	f, v := root.PersistentFlags(), &g.vals
	v.stringVarP(f, &g.output, "output", "o", "text", "result format: text or json")
	v.stringVar(f, &g.stateDir, "state-dir", "", "state directory (default $APPHUB_STATE_DIR or ./.pulumi-state)")
	v.stringVar(f, &g.backendURL, "backend-url", "", "Pulumi backend (default $PULUMI_BACKEND_URL or file://<state-dir>)")
	v.stringVar(f, &g.databaseURL, "database-url", "", "operation queue: postgres://… shared by replicas, or sqlite://PATH (default $APPHUB_DATABASE_URL, else <state-dir>/queue.db)")
	v.stringVar(f, &g.projectDir, "project-dir", ".", "repository holding the platform's Pulumi.yaml and stack files")
	v.stringVar(f, &g.platformStack, "platform-stack", "dev", "platform stack of the platform commands (up, destroy, env)")
	v.stringVar(f, &g.kubeconfig, "kubeconfig", "", "kubeconfig file of the platform's cluster (default $KUBECONFIG, else ~/.kube/config; in a pod, its identity)")
	v.stringVar(f, &g.kubeContext, "context", "", "kubeconfig context of the platform's cluster (default: the current context)")
	v.stringVar(f, &g.platformNamespace, "platform-namespace", "", "namespace of the platform's ConfigMap, its systemNamespace (default $APPHUB_PLATFORM_NAMESPACE, else apphub-system)")
	v.intVar(f, &g.maxConcurrent, "max-concurrent", automation.DefaultMaxConcurrent, "simultaneous stack operations")
	f.BoolVar(&g.skipPluginInstall, "skip-plugin-install", false, "do not install provider plugins at start-up")
	f.BoolVarP(&g.quiet, "quiet", "q", false, "no progress on stderr")
	f.BoolVar(&g.events, "events", false, "engine events as JSON lines on stderr instead of human progress")
	v.durationVar(f, &g.timeout, "timeout", 0, "give up after this long (0: no limit); the update is cancelled cleanly")
	root.AddCommand(newPlatformCmd(g), newPreviewCmd(g), newBuildCmd(g), newServeCmd(g), newOperationCmd(g), newMigrateCmd(g), newPluginsCmd(g), newLockCmd(g))
	return root
}

// stackName is what a platform stack may be called: a Pulumi stack name
// (letters, digits, '-', '_', '.'), unqualified, in the project's own
// directory.
var stackName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}$`)

// check starts the validation of one invocation: every bad flag (global
// and the command's own locals) and catalog variable, named as the caller
// wrote it. Commands add their own rules, then call invalidInput.
func (g *globals) check(cmd *cobra.Command, locals *flagValues) *validate.Problems {
	var p validate.Problems
	g.vals.report(&p)
	if locals != nil {
		locals.report(&p)
	}
	changed := cmd.Flags().Changed
	if !p.Has("--output") && g.output != "text" && g.output != "json" {
		p.Add("--output", "must be text or json, got %q", g.output)
	}
	nonEmpty(&p, changed("state-dir"), "state-dir", g.stateDir)
	nonEmpty(&p, changed("project-dir"), "project-dir", g.projectDir)
	if !p.Has("--platform-stack") && !stackName.MatchString(g.platformStack) {
		p.Add("--platform-stack", "must be a stack name of letters, digits, '-', '_' or '.' (at most 100), got %q", g.platformStack)
	}
	if !p.Has("--max-concurrent") {
		positive(&p, changed("max-concurrent"), "max-concurrent", g.maxConcurrent)
	}
	if g.timeout < 0 {
		p.Add("--timeout", "must not be negative (0: no limit), got %s", g.timeout)
	}
	switch {
	case changed("backend-url"):
		backendURL(&p, "--backend-url", g.backendURL)
	case os.Getenv("PULUMI_BACKEND_URL") != "":
		backendURL(&p, "PULUMI_BACKEND_URL", os.Getenv("PULUMI_BACKEND_URL"))
	}
	g.checkDatabaseURL(&p, changed("database-url"))
	g.checkConnection(&p, changed)
	for _, name := range []string{"APPHUB_LAUNCH_EXECUTION_MODE", "APPHUB_BUILD_EXECUTION_MODE"} {
		if mode := os.Getenv(name); mode != "" && mode != automation.ModeKubernetes && mode != automation.ModeStub {
			p.Add(name, "must be %q or %q, got %q", automation.ModeKubernetes, automation.ModeStub, mode)
		}
	}
	return &p
}

// checkConnection checks the cluster connection flags before anything
// runs: a kubeconfig that is a readable file, names that are not blank.
func (g *globals) checkConnection(p *validate.Problems, changed func(string) bool) {
	nonEmpty(p, changed("kubeconfig"), "kubeconfig", g.kubeconfig)
	nonEmpty(p, changed("context"), "context", g.kubeContext)
	nonEmpty(p, changed("platform-namespace"), "platform-namespace", g.platformNamespace)
	if g.kubeconfig != "" && !p.Has("--kubeconfig") {
		if _, err := os.Stat(g.kubeconfig); err != nil {
			p.Add("--kubeconfig", "cannot be read: %v", err)
		}
	}
	ns := g.platformNamespace
	field := "--platform-namespace"
	if !changed("platform-namespace") {
		ns, field = os.Getenv("APPHUB_PLATFORM_NAMESPACE"), "APPHUB_PLATFORM_NAMESPACE"
	}
	if ns != "" && !p.Has(field) && len(validation.IsDNS1123Label(ns)) > 0 {
		p.Add(field, "must be a namespace name (a DNS label), got %q", ns)
	}
}

// backendURL checks a Pulumi backend URL: a scheme and "://" (file://,
// s3://, gs://, azblob://, postgres://, https:// for Pulumi Cloud).
func backendURL(p *validate.Problems, field, value string) {
	if u, err := url.Parse(value); err != nil || u.Scheme == "" || !strings.Contains(value, "://") {
		p.Add(field, "must be a backend URL such as file:///var/lib/apphub or s3://bucket/apphub, got %q", value)
	}
}

// invalidInput turns an invocation's problems and the spec's (renamed
// through names from spec fields to flags) into one Invalid error, or nil.
func invalidInput(op, stack string, p *validate.Problems, specErr error, names map[string]string) error {
	return automation.Invalid(op, stack, p, specErr, names)
}

// manager builds the Manager from the global flags.
func (g *globals) manager(ctx context.Context, lookup bool) (*automation.Manager, error) {
	opts := automation.Options{
		StateDir: g.stateDir, BackendURL: g.stackBackend(), ProjectDir: g.projectDir,
		PlatformStack: g.platformStack, MaxConcurrent: g.maxConcurrent,
		Kubeconfig: g.kubeconfig, KubeContext: g.kubeContext, PlatformNamespace: g.platformNamespace,
		SkipPluginInstall: g.skipPluginInstall || lookup, RequirePassphrase: g.requirePassphrase,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if !g.quiet && !g.events {
		opts.Progress = g.stderr
		opts.Logger = slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	enc := json.NewEncoder(g.stderr)
	opts.OnEvent = func(e automation.Event) {
		if g.events {
			_ = enc.Encode(e)
		}
	}
	m, err := automation.New(opts)
	if err != nil {
		return nil, err
	}
	if err := m.Start(ctx); err != nil {
		return nil, fmt.Errorf("%w (pass --skip-plugin-install when the plugins are installed already)", err)
	}
	return m, nil
}

// session builds the Manager and the command's context, bounded by
// --timeout. Call it only after the invocation validated: it prepares the
// state directory and, unless lookup is set, installs provider plugins. A
// lookup (get, list, env) runs no program, so it installs nothing.
func (g *globals) session(cmd *cobra.Command, lookup bool) (*automation.Manager, context.Context, context.CancelFunc, error) {
	m, err := g.manager(cmd.Context(), lookup)
	if err != nil {
		return nil, nil, nil, err
	}
	if g.timeout > 0 {
		ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
		return m, ctx, cancel, nil
	}
	ctx, cancel := context.WithCancel(cmd.Context())
	return m, ctx, cancel, nil
}

// emit writes a result as JSON or as text.
func (g *globals) emit(v any, text func(io.Writer)) error {
	if g.output == "json" {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	text(g.stdout)
	return nil
}

// printTable writes a tab-aligned table: the header line, then each item's
// row in format.
func printTable[T any](w io.Writer, header, format string, items []T, row func(T) []any) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, it := range items {
		fmt.Fprintf(tw, format, row(it)...)
	}
	_ = tw.Flush()
}

func writeJSONError(w io.Writer, err error) {
	body := map[string]any{"error": err.Error()}
	var e *automation.Error
	if errors.As(err, &e) {
		body["kind"] = e.Kind
		if e.Reason != "" {
			body["reason"] = e.Reason
		}
		if len(e.Fields) > 0 {
			body["fields"] = e.Fields
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(body)
}
