package automation

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"

	"github.com/apphub/apphub-infra/internal/validate"
	"github.com/apphub/apphub-infra/stacks"
)

// platformProject is the platform's project name (Pulumi.yaml at the root).
const platformProject = "apphub"

// PlatformResult is a platform operation's outcome.
type PlatformResult struct {
	Stack      string         `json:"stack"`
	Outputs    map[string]any `json:"outputs,omitempty"`
	LastUpdate *Update        `json:"lastUpdate,omitempty"`
	Recovered  []string       `json:"recovered,omitempty"`
}

// platformStack opens the platform stack over the repository's Pulumi.yaml
// and Pulumi.<stack>.yaml (config and encrypted secrets stay where `pulumi
// up` keeps them) with the platform RunFunc inline, so only the Pulumi CLI
// is needed: no Go toolchain or language plugin compiles the program.
func (m *Manager) platformStack(ctx context.Context, create bool) (auto.Stack, error) {
	opts := []auto.LocalWorkspaceOption{
		auto.WorkDir(m.opts.ProjectDir),
		auto.PulumiHome(m.opts.PulumiHome),
		auto.Pulumi(m.cmd),
		auto.SecretsProvider("passphrase"),
		auto.EnvVars(m.env()),
	}
	if create {
		return auto.UpsertStackInlineSource(ctx, m.opts.PlatformStack, platformProject, m.opts.PlatformProgram, opts...)
	}
	return auto.SelectStackInlineSource(ctx, m.opts.PlatformStack, platformProject, m.opts.PlatformProgram, opts...)
}

// PlatformUp creates or updates the platform stack.
func (m *Manager) PlatformUp(ctx context.Context) (*PlatformResult, error) {
	return m.platformOp(ctx, "platform up", true, func(st auto.Stack, c *collector) (auto.UpdateSummary, auto.OutputMap, error) {
		res, err := st.Up(ctx, optup.ProgressStreams(m.progress(st.Name())), optup.EventStreams(c.ch))
		return res.Summary, res.Outputs, err
	})
}

// PlatformDestroy destroys everything the platform stack created; the stack
// and its config remain for the next `up`.
func (m *Manager) PlatformDestroy(ctx context.Context) (*PlatformResult, error) {
	return m.platformOp(ctx, "platform destroy", false, func(st auto.Stack, c *collector) (auto.UpdateSummary, auto.OutputMap, error) {
		res, err := st.Destroy(ctx, optdestroy.ProgressStreams(m.progress(st.Name())), optdestroy.EventStreams(c.ch))
		return res.Summary, nil, err
	})
}

// platformOp is the one path of platform operations: the stack's lock,
// the inline stack over the project's files (created only by an up; a
// destroy of a stack that never existed has nothing to do), recovery of an
// interrupted update, the run with its events, and the typed result.
func (m *Manager) platformOp(ctx context.Context, op string, create bool,
	run func(auto.Stack, *collector) (auto.UpdateSummary, auto.OutputMap, error)) (*PlatformResult, error) {
	stack := m.opts.PlatformStack
	if stack != devStack && m.opts.emptyPassphrase() {
		e := errNoPassphrase("is empty, which only the dev platform may use")
		e.Op, e.Stack = op, stack
		return nil, e
	}
	defer m.forgetPlatformOutputs()
	release, err := m.acquire(ctx, op, platformProject, stack)
	if err != nil {
		return nil, err
	}
	defer release()
	st, err := m.platformStack(ctx, create)
	if err != nil {
		if !create && auto.IsSelectStack404Error(err) {
			return &PlatformResult{Stack: stack}, nil
		}
		return nil, classify(ctx, op, stack, err, nil)
	}
	pending, err := pendingOperations(ctx, st)
	if err != nil {
		return nil, classify(ctx, op, stack, err, nil)
	}
	if err := refusePending(op, stack, pending); err != nil {
		return nil, err
	}
	var summary auto.UpdateSummary
	var outputs auto.OutputMap
	var diags []string
	recovered, err := m.locked(ctx, st, func() error {
		c := m.collect(ctx, op, stack)
		var err error
		summary, outputs, err = run(st, c)
		diags = c.wait()
		return err
	})
	if err != nil {
		return &PlatformResult{Stack: stack, Recovered: recovered}, classify(ctx, op, stack, err, diags)
	}
	r := &PlatformResult{Stack: stack, LastUpdate: toUpdate(summary), Recovered: recovered}
	if outputs != nil {
		vals, secrets := plainOutputs(outputs)
		r.Outputs = masked(vals, secrets)
	}
	return r, nil
}

// platformOutputs reads the platform stack's outputs, secrets in
// plaintext, from a copy refreshed every platformOutputsTTL: a preview up
// consults them several times (limits, quota, the stuck watch, its config)
// and each read may cost a CLI call; the platform changes rarely, and
// PlatformUp/PlatformDestroy drop the copy.
func (m *Manager) platformOutputs(ctx context.Context) (map[string]any, error) {
	vals, _, err := m.platformOutputsSecret(ctx)
	return vals, err
}

// platformOutputsSecret is platformOutputs with the names of the secret
// outputs. A copy older than platformOutputsTTL is still answered at once
// while one refresh runs in the background, so no operation waits for the
// CLI read (0.3–0.7 s with the key derivation) every TTL; only the first
// read, and the first after platform up or destroy, is synchronous.
func (m *Manager) platformOutputsSecret(ctx context.Context) (map[string]any, map[string]bool, error) {
	m.outsMu.Lock()
	defer m.outsMu.Unlock()
	if m.outs != nil {
		if m.opts.Now().Sub(m.outsAt) >= platformOutputsTTL && !m.outsRefreshing {
			m.outsRefreshing = true
			go m.refreshPlatformOutputs(m.outsGen)
		}
		return m.outs, m.outsSecret, nil
	}
	vals, secret, err := m.readPlatformOutputs(ctx)
	if err != nil {
		return nil, nil, err
	}
	m.outs, m.outsSecret, m.outsAt = vals, secret, m.opts.Now()
	return vals, secret, nil
}

// refreshPlatformOutputs replaces the cached outputs; on failure the old
// copy stays (and the next read tries again).
func (m *Manager) refreshPlatformOutputs(gen int) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	vals, secret, err := m.readPlatformOutputs(ctx)
	m.outsMu.Lock()
	defer m.outsMu.Unlock()
	m.outsRefreshing = false
	if err != nil {
		m.opts.Logger.Warn("refreshing the platform outputs", "err", err)
		return
	}
	// Platform up or destroy may have dropped the copy meanwhile: what
	// this read found may then be older than what replaced it.
	if gen == m.outsGen {
		m.outs, m.outsSecret, m.outsAt = vals, secret, m.opts.Now()
	}
}

const platformOutputsTTL = 15 * time.Second

func (m *Manager) forgetPlatformOutputs() {
	m.outsMu.Lock()
	m.outs = nil
	m.outsGen++
	m.outsMu.Unlock()
}

func (m *Manager) readPlatformOutputs(ctx context.Context) (map[string]any, map[string]bool, error) {
	if f := m.opts.PlatformOutputsFile; f != "" {
		vals, err := readPlatformOutputsFile(f)
		return vals, nil, err
	}
	st, err := m.platformStack(ctx, false)
	if err != nil {
		return nil, nil, classify(ctx, "platform env", m.opts.PlatformStack, err, nil)
	}
	outs, err := st.Outputs(ctx)
	if err != nil {
		return nil, nil, classify(ctx, "platform env", m.opts.PlatformStack, fmt.Errorf("reading outputs: %w", err), nil)
	}
	vals, secret := plainOutputs(outs)
	return vals, secret, nil
}

// PlatformEnv returns the catalog's settings from the platform outputs.
func (m *Manager) PlatformEnv(ctx context.Context) ([]stacks.EnvVar, error) {
	outs, err := m.platformOutputs(ctx)
	if err != nil {
		return nil, err
	}
	vars, err := stacks.CatalogEnv(outs)
	if err != nil {
		return nil, &Error{Kind: KindNotFound, Op: "platform env", Stack: m.opts.PlatformStack, Reason: err.Error()}
	}
	return vars, nil
}

// platformConnection returns the kubeconfig (secret) and context the
// platform exported, for tools that talk to the cluster directly.
func (m *Manager) platformConnection(ctx context.Context) (kubeconfig, kubeContext string, err error) {
	outs, err := m.platformOutputs(ctx)
	if err != nil {
		return "", "", err
	}
	kubeconfig, _ = outs[stacks.OutKubeconfig].(string)
	kubeContext, _ = outs[stacks.OutKubeContext].(string)
	return kubeconfig, kubeContext, nil
}

// readPlatformOutputsFile reads the platform outputs the platform wrote for
// the API service (a mounted ConfigMap, updated in place by the kubelet).
func readPlatformOutputsFile(path string) (map[string]any, error) {
	const op = "platform outputs"
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{Kind: KindNotFound, Op: op, Reason: fmt.Sprintf("reading %s: %v", path, err), Err: err}
	}
	outs, err := stacks.ParsePlatformOutputs(string(b))
	if err != nil {
		return nil, &Error{Kind: KindFailed, Op: op, Reason: fmt.Sprintf("%s: %v", path, err), Err: err}
	}
	return outs, nil
}

// withPlatformOutputs hands a preview or build stack the platform outputs
// as config, so its program needs no StackReference: always when the
// Manager reads the platform from a file (the API service in the cluster,
// where the platform's backend is out of reach), and otherwise whenever
// the outputs can travel as plain config. The StackReference costs the
// engine a read of the platform's checkpoint and a key derivation for its
// secrets (0.17 s of a preview create); the outputs are in the Manager's
// cache already (the limit and quota checks read them), at most
// about platformOutputsTTL old.
func (m *Manager) withPlatformOutputs(ctx context.Context, cfg map[string]string) error {
	outs, secret, err := m.platformOutputsSecret(ctx)
	if m.opts.PlatformOutputsFile == "" && (err != nil || !plainConfig(outs, secret)) {
		return nil // the StackReference reads them, and reports what is wrong
	}
	if err != nil {
		return err
	}
	b, err := json.Marshal(outs)
	if err != nil {
		return fmt.Errorf("platform outputs: %w", err)
	}
	cfg["platformOutputs"] = string(b)
	return nil
}

// plainConfig reports whether outputs may be written to a stack's config
// in plaintext: none is secret but a kubeconfig that is only a path.
func plainConfig(outs map[string]any, secret map[string]bool) bool {
	for k := range secret {
		s, _ := outs[k].(string)
		if k != stacks.OutKubeconfig || validate.IsKubeconfigContents(s) {
			return false
		}
	}
	return true
}
