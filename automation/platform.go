package automation

import (
	"context"
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"

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

// platformStackOutputs reads the platform stack's own outputs, secrets
// in plaintext, for the operator's commands on that stack.
func (m *Manager) platformStackOutputs(ctx context.Context) (map[string]any, error) {
	st, err := m.platformStack(ctx, false)
	if err != nil {
		return nil, classify(ctx, "platform env", m.opts.PlatformStack, err, nil)
	}
	outs, err := st.Outputs(ctx)
	if err != nil {
		return nil, classify(ctx, "platform env", m.opts.PlatformStack, fmt.Errorf("reading outputs: %w", err), nil)
	}
	vals, _ := plainOutputs(outs)
	return vals, nil
}

// PlatformEnv returns the catalog's settings from the platform stack's
// outputs (the Redis URL among them is a secret the ConfigMap leaves out).
func (m *Manager) PlatformEnv(ctx context.Context) ([]stacks.EnvVar, error) {
	outs, err := m.platformStackOutputs(ctx)
	if err != nil {
		return nil, err
	}
	vars, err := stacks.CatalogEnv(outs)
	if err != nil {
		return nil, &Error{Kind: KindNotFound, Op: "platform env", Stack: m.opts.PlatformStack, Reason: err.Error()}
	}
	return vars, nil
}
