package automation

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/client-go/kubernetes"

	"github.com/apphub/apphub-infra/automation/internal/pulumilocks"
	"github.com/apphub/apphub-infra/internal/validate"
	"github.com/apphub/apphub-infra/stacks"
)

// Execution modes of the catalog (APPHUB_LAUNCH_EXECUTION_MODE,
// APPHUB_BUILD_EXECUTION_MODE).
const (
	ModeKubernetes = "kubernetes"
	ModeStub       = "stub"
)

// DefaultMaxConcurrent bounds simultaneous stack operations unless
// Options.MaxConcurrent says otherwise (the CLI's --max-concurrent too).
const DefaultMaxConcurrent = 4

// Plugin is a provider plugin installed once at start-up.
type Plugin struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Options configure a Manager. Zero values take the documented defaults.
type Options struct {
	// StateDir holds everything the Manager writes unless overridden below.
	// Default: $APPHUB_STATE_DIR, else ./.pulumi-state.
	StateDir string
	// BackendURL is where stack state lives. Default: $PULUMI_BACKEND_URL,
	// else file://<StateDir>.
	BackendURL string
	// Passphrase protects secrets with the passphrase secrets provider.
	// Default: $PULUMI_CONFIG_PASSPHRASE when it is set (PassphraseSet
	// says so; set it to use an explicit empty passphrase).
	Passphrase    string
	PassphraseSet bool
	// PassphraseFile holds the passphrase instead. Default
	// $PULUMI_CONFIG_PASSPHRASE_FILE. Setting both is refused. With neither,
	// only the dev platform runs, with the empty passphrase.
	PassphraseFile string
	// RequirePassphrase refuses the empty passphrase (apphubctl serve,
	// whose stacks hold the catalog's secrets).
	RequirePassphrase bool
	// PulumiHome is PULUMI_HOME for every CLI call, where plugins live.
	// Default: $PULUMI_HOME, else ~/.pulumi — the user's own plugin cache,
	// so a new state directory downloads nothing already there.
	PulumiHome string
	// WorkDir is the root of the per-stack work directories. Default <StateDir>/work.
	WorkDir string
	// PulumiRoot is a directory with bin/pulumi. Default: the directory of
	// ProjectDir if it holds bin/pulumi (the tools build), else PATH.
	PulumiRoot string
	// ProjectDir is the repository with the platform's Pulumi.yaml and stack
	// files. Default: the current directory.
	ProjectDir string
	// PlatformStack is the platform stack the platform commands (up,
	// destroy, env) operate on. Default "dev".
	PlatformStack string
	// Kubeconfig (a path) and KubeContext are the connection to the
	// platform's cluster, for reading the platform, the stacks' provider,
	// logs and the watches. Default: client-go's ($KUBECONFIG, else
	// ~/.kube/config, its current context; in a pod, the pod's identity).
	Kubeconfig, KubeContext string
	// PlatformNamespace holds the platform's ConfigMap (the platform's
	// systemNamespace). Default $APPHUB_PLATFORM_NAMESPACE, else apphub-system.
	PlatformNamespace string
	// MaxConcurrent bounds simultaneous stack operations. Default 4.
	MaxConcurrent int
	// Plugins are installed once at start-up. Default DefaultPlugins(); set
	// SkipPluginInstall where they are preinstalled (or not needed).
	Plugins           []Plugin
	SkipPluginInstall bool
	// LaunchMode and BuildMode are kubernetes or stub. Default: the catalog's
	// APPHUB_LAUNCH_EXECUTION_MODE / APPHUB_BUILD_EXECUTION_MODE, else kubernetes.
	LaunchMode, BuildMode string
	// Logger receives structured progress. Default: discard.
	Logger *slog.Logger
	// Progress receives the engine's human-readable progress. Default: discard.
	Progress io.Writer
	// OnEvent receives every engine event as it happens (JSON lines, HTTP).
	OnEvent func(Event)
	// PreviewProgram, BuildProgram and PlatformProgram default to the
	// stacks package's RunFuncs; tests inject programs that need no provider.
	PreviewProgram, BuildProgram, PlatformProgram pulumi.RunFunc
	// DigestReader reads a finished build's image digest. Default: the API server, through client-go.
	DigestReader DigestReader
	// KubeClient connects to the platform's cluster (build logs). Default:
	// client-go with the kubeconfig as a path or as contents.
	KubeClient func(kubeconfig, kubeContext string) (kubernetes.Interface, error)
	// FailFastAfter ends a preview update whose workload has been blocked
	// at every look for this long (admission refusing its pods, an image
	// that cannot be pulled, a crash loop, no node and no scale-up under
	// way), with the cluster's reason, instead of waiting out the 10-minute
	// await. Default 30s.
	FailFastAfter time.Duration
	// Now is the clock (tests pin it). Default time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() (Options, error) {
	if err := o.pathDefaults(); err != nil {
		return o, err
	}
	if err := o.connectionDefaults(); err != nil {
		return o, err
	}
	if o.PlatformStack == "" {
		o.PlatformStack = devStack
	}
	if err := o.passphraseDefaults(); err != nil {
		return o, err
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = DefaultMaxConcurrent
	}
	if err := o.modeDefaults(); err != nil {
		return o, err
	}
	o.hookDefaults()
	return o, nil
}

// envOr is the environment variable k when it is set and not empty, else def.
func envOr(k, def string) string {
	if v, ok := os.LookupEnv(k); ok && v != "" {
		return v
	}
	return def
}

// pathDefaults fills in where the Manager keeps things: the state, work
// and project directories (made absolute), the backend,
// PULUMI_HOME and the Pulumi CLI.
func (o *Options) pathDefaults() error {
	if o.StateDir == "" {
		o.StateDir = envOr("APPHUB_STATE_DIR", ".pulumi-state")
	}
	abs, err := filepath.Abs(o.StateDir)
	if err != nil {
		return fmt.Errorf("state dir %q: %w", o.StateDir, err)
	}
	o.StateDir = abs
	if o.BackendURL == "" {
		o.BackendURL = envOr("PULUMI_BACKEND_URL", "file://"+o.StateDir)
	}
	// Each stack's CLI runs in its own work directory: a relative file://
	// backend would be a different one for each.
	if o.BackendURL, err = pulumilocks.AbsoluteURL(o.BackendURL); err != nil {
		return invalidSetting("PULUMI_BACKEND_URL", err.Error())
	}
	if o.PulumiHome == "" {
		if o.PulumiHome, err = defaultPulumiHome(); err != nil {
			return err
		}
	}
	if o.WorkDir == "" {
		o.WorkDir = filepath.Join(o.StateDir, "work")
	}
	if o.ProjectDir == "" {
		o.ProjectDir = "."
	}
	if o.ProjectDir, err = filepath.Abs(o.ProjectDir); err != nil {
		return fmt.Errorf("project dir: %w", err)
	}
	if o.PulumiRoot == "" {
		if _, err := os.Stat(filepath.Join(o.ProjectDir, "bin", "pulumi")); err == nil {
			o.PulumiRoot = o.ProjectDir
		}
	}
	return nil
}

// modeDefaults fills in the execution modes from the catalog's variables
// and refuses any mode but kubernetes and stub.
func (o *Options) modeDefaults() error {
	if o.LaunchMode == "" {
		o.LaunchMode = envOr("APPHUB_LAUNCH_EXECUTION_MODE", ModeKubernetes)
	}
	if o.BuildMode == "" {
		o.BuildMode = envOr("APPHUB_BUILD_EXECUTION_MODE", ModeKubernetes)
	}
	for name, mode := range map[string]string{"APPHUB_LAUNCH_EXECUTION_MODE": o.LaunchMode, "APPHUB_BUILD_EXECUTION_MODE": o.BuildMode} {
		if mode != ModeKubernetes && mode != ModeStub {
			return fmt.Errorf("%s must be %q or %q, got %q", name, ModeKubernetes, ModeStub, mode)
		}
	}
	return nil
}

// hookDefaults fills in the outputs, programs, clients and clock.
func (o *Options) hookDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.PreviewProgram == nil {
		o.PreviewProgram = stacks.Preview
	}
	if o.BuildProgram == nil {
		o.BuildProgram = stacks.Build
	}
	if o.PlatformProgram == nil {
		o.PlatformProgram = stacks.Platform
	}
	if o.DigestReader == nil {
		o.DigestReader = ClusterDigest{}
	}
	if o.FailFastAfter <= 0 {
		o.FailFastAfter = 30 * time.Second
	}
	if o.KubeClient == nil {
		o.KubeClient = kubeClient
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// defaultPulumiHome is where the Pulumi CLI itself keeps plugins.
func defaultPulumiHome() (string, error) {
	if home := os.Getenv("PULUMI_HOME"); home != "" {
		return filepath.Abs(home)
	}
	user, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("PULUMI_HOME is unset and there is no home directory: %w", err)
	}
	return filepath.Join(user, ".pulumi"), nil
}

// connectionDefaults checks the cluster connection and names the
// platform's namespace.
func (o *Options) connectionDefaults() error {
	if o.PlatformNamespace == "" {
		o.PlatformNamespace = envOr("APPHUB_PLATFORM_NAMESPACE", defaultPlatformNamespace)
	}
	if o.Kubeconfig == "" {
		return nil
	}
	// It travels to every stack's config: a path, never the contents.
	if validate.IsKubeconfigContents(o.Kubeconfig) {
		return fmt.Errorf("Kubeconfig must be a path to a kubeconfig file, not its contents")
	}
	abs, err := filepath.Abs(o.Kubeconfig)
	if err != nil {
		return fmt.Errorf("Kubeconfig %q: %w", o.Kubeconfig, err)
	}
	o.Kubeconfig = abs
	return nil
}

// defaultPlatformNamespace is the platform's systemNamespace by default.
const defaultPlatformNamespace = "apphub-system"
