package automation

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/client-go/kubernetes"

	"github.com/apphub/apphub-infra/automation/internal/pulumilocks"
)

// Manager runs stack operations. It is safe for concurrent use.
type Manager struct {
	opts     Options
	cmd      auto.PulumiCommand
	sem      chan struct{}
	hostname string

	kubeMu      sync.Mutex
	kubeClients map[string]kubernetes.Interface

	mu   sync.Mutex
	busy map[string]string // stack key -> operation holding it
}

// New validates the options, finds the Pulumi CLI and prepares the state
// directories. Call Start before the first operation to install plugins.
func New(opts Options) (*Manager, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("automation: %w", err)
	}
	for _, dir := range []string{o.StateDir, o.PulumiHome, o.WorkDir} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("automation: creating %s: %w", dir, err)
		}
	}
	if dir, err := pulumilocks.FileBackendDir(o.BackendURL); err != nil {
		return nil, fmt.Errorf("automation: %w", err)
	} else if dir != "" {
		// The file backend refuses a directory that does not exist yet.
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("automation: creating backend dir %s: %w", dir, err)
		}
	}
	cmd, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: o.PulumiRoot})
	if err != nil {
		return nil, fmt.Errorf("automation: Pulumi CLI (build it with `make pulumi`): %w", err)
	}
	host, _ := os.Hostname()
	m := &Manager{opts: o, sem: make(chan struct{}, o.MaxConcurrent), hostname: host, busy: map[string]string{}}
	m.cmd = cmd
	return m, nil
}

// Options returns the effective options (defaults applied).
func (m *Manager) Options() Options { return m.opts }

// Start installs the provider plugins that PULUMI_HOME lacks, once:
// installing them from concurrent operations races, and asking the
// registry about a plugin that is already there costs seconds (and fails
// offline).
func (m *Manager) Start(ctx context.Context) error {
	if err := m.openBackend(ctx); err != nil {
		return err
	}
	if m.opts.SkipPluginInstall {
		return nil
	}
	if m.opts.Plugins == nil {
		plugins, err := DefaultPlugins()
		if err != nil {
			return fmt.Errorf("automation: %w", err)
		}
		m.opts.Plugins = plugins
	}
	missing := m.missingPlugins()
	if len(missing) == 0 {
		return nil
	}
	dir := filepath.Join(m.opts.WorkDir, ".plugins")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("automation: %w", err)
	}
	ws, err := auto.NewLocalWorkspace(ctx, m.wsOpts("apphub-plugins", dir)...)
	if err != nil {
		return fmt.Errorf("automation: plugin workspace: %w", err)
	}
	for _, p := range missing {
		m.opts.Logger.Info("installing plugin", "name", p.Name, "version", p.Version, "home", m.opts.PulumiHome)
		if err := ws.InstallPlugin(ctx, p.Name, p.Version); err != nil {
			return fmt.Errorf("automation: installing plugin %s %s into %s: %s", p.Name, p.Version, m.opts.PulumiHome, reason(err, nil))
		}
	}
	return nil
}

// missingPlugins lists the configured plugins PULUMI_HOME does not hold
// completely (the CLI leaves a .partial marker while it downloads).
func (m *Manager) missingPlugins() []Plugin {
	var missing []Plugin
	for _, p := range m.opts.Plugins {
		dir := filepath.Join(m.opts.PulumiHome, "plugins", "resource-"+p.Name+"-"+p.Version)
		bin, err := os.Stat(filepath.Join(dir, "pulumi-resource-"+p.Name))
		_, partial := os.Stat(dir + ".partial")
		if err != nil || bin.Mode()&0o111 == 0 || partial == nil {
			missing = append(missing, p)
		}
	}
	return missing
}

// acquire reserves a stack for one operation (a second operation on the
// same stack is a Conflict, not a queue: the caller decides whether to
// retry) and then waits for a concurrency slot, honouring ctx.
func (m *Manager) acquire(ctx context.Context, op, project, stack string) (func(), error) {
	key := project + "/" + stack
	m.mu.Lock()
	if holder, ok := m.busy[key]; ok {
		m.mu.Unlock()
		return nil, &Error{Kind: KindConflict, Op: op, Stack: stack, Reason: fmt.Sprintf("%s is already running on this stack", holder)}
	}
	m.busy[key] = op
	m.mu.Unlock()
	unbusy := func() {
		m.mu.Lock()
		delete(m.busy, key)
		m.mu.Unlock()
	}
	select {
	case m.sem <- struct{}{}:
	case <-ctx.Done():
		unbusy()
		return nil, classify(ctx, op, stack, ctx.Err(), nil)
	}
	return func() { <-m.sem; unbusy() }, nil
}

// Busy reports the operation holding a stack in this process, if any.
func (m *Manager) Busy(project, stack string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	op, ok := m.busy[project+"/"+stack]
	return op, ok
}

// stackDir is the stable work directory of one stack: the passphrase salt
// lives in its Pulumi.<stack>.yaml, and sharing one directory between
// stacks races (pulumi/pulumi#8186).
func (m *Manager) stackDir(project, stack string) string {
	return filepath.Join(m.opts.WorkDir, project, stack)
}

func (m *Manager) env() map[string]string {
	env := map[string]string{
		"PULUMI_BACKEND_URL":       m.opts.BackendURL,
		"PULUMI_SKIP_UPDATE_CHECK": "true",
	}
	m.opts.passphraseEnv(env)
	return env
}

func (m *Manager) wsOpts(project, dir string) []auto.LocalWorkspaceOption {
	return []auto.LocalWorkspaceOption{
		auto.WorkDir(dir),
		auto.PulumiHome(m.opts.PulumiHome),
		auto.Pulumi(m.cmd),
		auto.SecretsProvider("passphrase"),
		auto.EnvVars(m.env()),
		auto.Project(workspace.Project{
			Name:    tokens.PackageName(project),
			Runtime: workspace.NewProjectRuntimeInfo("go", nil),
		}),
	}
}

// workspace opens a stack's work directory.
func (m *Manager) workspace(ctx context.Context, project, stack string, program pulumi.RunFunc) (auto.Workspace, error) {
	dir := m.stackDir(project, stack)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return auto.NewLocalWorkspace(ctx, append(m.wsOpts(project, dir), auto.Program(program))...)
}

// upsert creates or selects an inline stack in its own work directory.
// Which the CLI is asked first is only a guess from that directory (a
// stack this process has configured before keeps its stack settings
// there); the other is the fallback, so a wrong guess costs one CLI call,
// never a wrong answer.
func (m *Manager) upsert(ctx context.Context, project, stack string, program pulumi.RunFunc) (auto.Stack, error) {
	_, seen := os.Stat(filepath.Join(m.stackDir(project, stack), "Pulumi."+stack+".yaml"))
	ws, err := m.workspace(ctx, project, stack, program)
	if err != nil {
		return auto.Stack{}, err
	}
	if seen == nil {
		return auto.UpsertStack(ctx, stack, ws)
	}
	st, err := auto.NewStack(ctx, stack, ws)
	// The stack exists: already created, or locked (the DIY backend checks
	// the lock before it looks), which the update's own lock handling
	// (Manager.locked) resolves or reports.
	if err != nil && (auto.IsCreateStack409Error(err) || auto.IsConcurrentUpdateError(err)) {
		return auto.SelectStack(ctx, stack, ws)
	}
	return st, err
}

// selectStack selects an existing inline stack; NotFound when it is absent.
func (m *Manager) selectStack(ctx context.Context, op, project, stack string, program pulumi.RunFunc) (auto.Stack, error) {
	ws, err := m.workspace(ctx, project, stack, program)
	if err != nil {
		return auto.Stack{}, classify(ctx, op, stack, err, nil)
	}
	st, err := auto.SelectStack(ctx, stack, ws)
	if err != nil {
		return st, classify(ctx, op, stack, err, nil)
	}
	return st, nil
}

// listWorkspace is a workspace for project-wide commands (stack ls).
func (m *Manager) listWorkspace(ctx context.Context, project string, program pulumi.RunFunc) (auto.Workspace, error) {
	dir := filepath.Join(m.opts.WorkDir, project, ".list")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return auto.NewLocalWorkspace(ctx, append(m.wsOpts(project, dir), auto.Program(program))...)
}

// openBackend has the CLI open a file backend once, before operations run
// at the same time: its first use writes the backend's metadata, and
// concurrent first commands on a fresh backend race on it (one reads it
// half written: `read ".pulumi/meta.yaml": EOF`).
func (m *Manager) openBackend(ctx context.Context) error {
	if dir, err := pulumilocks.FileBackendDir(m.opts.BackendURL); err != nil || dir == "" {
		return err
	}
	dir := filepath.Join(m.opts.WorkDir, ".backend")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("automation: %w", err)
	}
	ws, err := auto.NewLocalWorkspace(ctx, m.wsOpts("apphub-backend", dir)...)
	if err != nil {
		return fmt.Errorf("automation: backend workspace: %w", err)
	}
	if _, err := ws.ListStacks(ctx); err != nil {
		return fmt.Errorf("automation: opening the backend %s: %s", m.opts.BackendURL, reason(err, nil))
	}
	return nil
}
