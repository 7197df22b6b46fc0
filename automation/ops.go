package automation

import (
	"context"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Update describes a stack's last (or just finished) update.
type Update struct {
	Kind      string         `json:"kind"`
	Result    string         `json:"result"`
	StartTime time.Time      `json:"startTime"`
	EndTime   time.Time      `json:"endTime,omitempty"`
	Changes   map[string]int `json:"changes,omitempty"`
}

func toUpdate(s auto.UpdateSummary) *Update {
	u := &Update{Kind: s.Kind, Result: s.Result}
	u.StartTime, _ = time.Parse(time.RFC3339, s.StartTime)
	if s.EndTime != nil {
		u.EndTime, _ = time.Parse(time.RFC3339, *s.EndTime)
	}
	if s.ResourceChanges != nil {
		u.Changes = *s.ResourceChanges
	}
	return u
}

// opResult is what a stack operation produced.
type opResult struct {
	Outputs   map[string]any
	Secrets   map[string]bool
	Update    *Update
	Recovered []string
}

// plainOutputs splits outputs into values and secret flags; secret values
// are kept for the caller to mask or reveal.
func plainOutputs(out auto.OutputMap) (map[string]any, map[string]bool) {
	vals, secrets := map[string]any{}, map[string]bool{}
	for k, v := range out {
		vals[k] = v.Value
		if v.Secret {
			secrets[k] = true
		}
	}
	return vals, secrets
}

// masked returns outputs with secret values replaced, for results that may
// be logged or served.
func masked(vals map[string]any, secrets map[string]bool) map[string]any {
	out := make(map[string]any, len(vals))
	for k, v := range vals {
		if secrets[k] {
			v = "[secret]"
		}
		out[k] = v
	}
	return out
}

// locked runs one CLI operation on st; when the CLI refuses because the
// stack is locked, a provably dead holder's lock is removed (or, in a
// takeover, a live orphan on this host is waited for) and it runs again.
func (m *Manager) locked(ctx context.Context, st auto.Stack, run func() error) ([]string, error) {
	var recovered []string
	var waited time.Duration
	for {
		err := run()
		if err == nil {
			return recovered, nil
		}
		if broken, ok := m.breakDeadLock(ctx, st, err); ok {
			recovered = append(recovered, broken...)
			continue
		}
		if m.waitOrphanCLI(ctx, err, &waited) {
			continue
		}
		return recovered, err
	}
}

// setConfig makes the stack's config exactly cfg: keys the request no
// longer sets are dropped so an update cannot inherit stale values (an env
// var removed from the spec, say). It rewrites Pulumi.<stack>.yaml through
// the workspace (no CLI call; the encryption salt is kept). The values are
// plaintext by design: preview and build config holds no secret, the
// credentials come from the platform stack's secret outputs.
func setConfig(ctx context.Context, st auto.Stack, project string, cfg map[string]string) error {
	ws := st.Workspace()
	settings, err := ws.StackSettings(ctx, st.Name())
	if err != nil {
		// No Pulumi.<stack>.yaml in this work directory (the stack was
		// created from another work directory on a shared backend): the
		// first write goes through the CLI, which knows where the stack's
		// encryption salt lives.
		all := auto.ConfigMap{}
		for k, v := range cfg {
			all[project+":"+k] = auto.ConfigValue{Value: v}
		}
		if err := st.SetAllConfig(ctx, all); err != nil {
			return fmt.Errorf("setting config: %w", err)
		}
		return nil
	}
	settings.Config = config.Map{}
	for k, v := range cfg {
		key, err := config.ParseKey(project + ":" + k)
		if err != nil {
			return fmt.Errorf("config key %q: %w", k, err)
		}
		settings.Config[key] = config.NewValue(v)
	}
	if err := ws.SaveStackSettings(ctx, st.Name(), settings); err != nil {
		return fmt.Errorf("writing stack settings: %w", err)
	}
	return nil
}

// up creates or updates a stack with config and runs the program inline.
func (m *Manager) up(ctx context.Context, op, project, stack string, program pulumi.RunFunc, cfg map[string]string) (*opResult, error) {
	release, err := m.acquire(ctx, op, project, stack)
	if err != nil {
		return nil, err
	}
	defer release()
	start := m.opts.Now()
	m.opts.Logger.Info("operation started", "op", op, "stack", stack)

	st, err := m.upsert(ctx, project, stack, program)
	if err != nil {
		return nil, classify(ctx, op, stack, fmt.Errorf("selecting stack: %w", err), nil)
	}
	if err := setConfig(ctx, st, project, cfg); err != nil {
		return nil, classify(ctx, op, stack, err, nil)
	}
	var vals map[string]any
	var secrets map[string]bool
	var update *Update
	var diags []string
	var pending bool
	recovered, err := m.locked(ctx, st, func() error {
		c := m.collect(ctx, op, stack)
		var err error
		vals, secrets, update, err = m.inlineUp(ctx, st, program, c)
		diags, pending = c.wait(), c.sawPending()
		return err
	})
	if err == nil && pending {
		// The update adopted what an interrupted one created; the pending
		// creates it left would only repeat the engine's warning.
		cleared, cerr := m.clearAfterAdoption(ctx, st)
		recovered = append(recovered, cleared...)
		err = cerr
	}
	if err != nil {
		e := classify(ctx, op, stack, err, diags)
		m.opts.Logger.Error("operation failed", "op", op, "stack", stack, "kind", e.Kind, "reason", e.Reason, "seconds", m.opts.Now().Sub(start).Seconds())
		return &opResult{Recovered: recovered}, e
	}
	m.opts.Logger.Info("operation succeeded", "op", op, "stack", stack, "seconds", m.opts.Now().Sub(start).Seconds())
	return &opResult{Outputs: vals, Secrets: secrets, Update: update, Recovered: recovered}, nil
}

// destroy destroys and removes a stack; a stack that does not exist is
// already destroyed, which is success (gone=true).
func (m *Manager) destroy(ctx context.Context, op, project, stack string, program pulumi.RunFunc) (res *opResult, gone bool, err error) {
	release, err := m.acquire(ctx, op, project, stack)
	if err != nil {
		return nil, false, err
	}
	defer release()
	st, err := m.selectStack(ctx, op, project, stack, program)
	if IsNotFound(err) {
		_ = os.RemoveAll(m.stackDir(project, stack))
		return &opResult{}, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	var update *Update
	var diags []string
	var pending bool
	recovered, err := m.locked(ctx, st, func() error {
		c := m.collect(ctx, op, stack)
		var err error
		update, err = m.inlineDestroy(ctx, st, program, c)
		diags, pending = c.wait(), c.sawPending()
		return err
	})
	if err != nil {
		return &opResult{Recovered: recovered}, false, classify(ctx, op, stack, err, diags)
	}
	if pending {
		// The engine warned of operations an interrupted update left: a
		// create it never recorded was not destroyed. Say so, with its URN,
		// before the stack goes.
		cleared, err := m.clearLeftPending(ctx, st)
		recovered = append(recovered, cleared...)
		if err != nil {
			return &opResult{Recovered: recovered}, false, classify(ctx, op, stack, err, nil)
		}
	}
	if err := m.removeStack(ctx, project, st); err != nil {
		return &opResult{Recovered: recovered}, false, classify(ctx, op, stack, err, nil)
	}
	if err := os.RemoveAll(m.stackDir(project, stack)); err != nil {
		m.opts.Logger.Warn("removing work dir", "stack", stack, "err", err)
	}
	return &opResult{Update: update, Recovered: recovered}, false, nil
}

// removeStack removes a stack its destroy emptied (`pulumi stack rm`).
func (m *Manager) removeStack(ctx context.Context, project string, st auto.Stack) error {
	if err := st.Workspace().RemoveStack(ctx, st.Name()); err != nil {
		return fmt.Errorf("removing stack: %w", err)
	}
	return nil
}

// StackInfo is a stack's current state as the backend knows it.
type StackInfo struct {
	Outputs    map[string]any
	Secrets    map[string]bool
	LastUpdate *Update
	// Running names the operation this process is running on the stack.
	Running string
	// Tags are the stack's tags, when the caller asked for them.
	Tags map[string]string
}

// withTags makes get read the stack's tags too (one more CLI call, which
// opens no secrets manager).
type withTags bool

// get reads outputs and the last update of an existing stack. A lookup
// writes nothing: a stack without a work directory here is read through a
// temporary workspace outside the state directory.
func (m *Manager) get(ctx context.Context, op, project, stack string, program pulumi.RunFunc, tags withTags) (*StackInfo, error) {
	info := &StackInfo{}
	if running, ok := m.Busy(project, stack); ok {
		info.Running = running
	}
	st, done, err := m.lookupStack(ctx, op, project, stack, program)
	if err != nil {
		return nil, err
	}
	defer done()
	outs, err := st.Outputs(ctx)
	if err != nil {
		return nil, classify(ctx, op, stack, fmt.Errorf("reading outputs: %w", err), nil)
	}
	info.Outputs, info.Secrets = plainOutputs(outs)
	hist, err := st.History(ctx, 1, 1)
	if err != nil {
		return nil, classify(ctx, op, stack, fmt.Errorf("reading history: %w", err), nil)
	}
	if len(hist) > 0 {
		info.LastUpdate = toUpdate(hist[0])
	}
	if tags {
		if info.Tags, err = st.Workspace().ListTags(ctx, st.Name()); err != nil {
			return nil, classify(ctx, op, stack, fmt.Errorf("reading tags: %w", err), nil)
		}
	}
	return info, nil
}

// lookupStack selects a stack for reading: in its work directory when
// there is one, otherwise in a temporary workspace that done removes, so
// looking up a stack (or a typo of one) leaves no work directory behind.
func (m *Manager) lookupStack(ctx context.Context, op, project, stack string, program pulumi.RunFunc) (auto.Stack, func(), error) {
	if _, err := os.Stat(m.stackDir(project, stack)); err == nil {
		st, err := m.selectStack(ctx, op, project, stack, program)
		return st, func() {}, err
	}
	ws, done, err := m.lookupWorkspace(ctx, project, program)
	if err != nil {
		return auto.Stack{}, nil, classify(ctx, op, stack, err, nil)
	}
	st, err := auto.SelectStack(ctx, stack, ws)
	if err != nil {
		done()
		return auto.Stack{}, nil, classify(ctx, op, stack, err, nil)
	}
	return st, done, nil
}

// lookupWorkspace is a throwaway workspace for read-only commands, outside
// the state directory; done removes it.
func (m *Manager) lookupWorkspace(ctx context.Context, project string, program pulumi.RunFunc) (auto.Workspace, func(), error) {
	dir, err := os.MkdirTemp("", "apphub-lookup-")
	if err != nil {
		return nil, nil, fmt.Errorf("lookup workspace: %w", err)
	}
	done := func() { _ = os.RemoveAll(dir) }
	ws, err := auto.NewLocalWorkspace(ctx, append(m.wsOpts(project, dir), auto.Program(program))...)
	if err != nil {
		done()
		return nil, nil, fmt.Errorf("lookup workspace: %w", err)
	}
	return ws, done, nil
}

// list returns the stacks of a project. Like get, it writes nothing: the
// listing runs in a throwaway workspace.
func (m *Manager) list(ctx context.Context, op, project string, program pulumi.RunFunc) ([]auto.StackSummary, error) {
	ws, done, err := m.lookupWorkspace(ctx, project, program)
	if err != nil {
		return nil, classify(ctx, op, project, err, nil)
	}
	defer done()
	stacks, err := ws.ListStacks(ctx)
	if err != nil {
		return nil, classify(ctx, op, project, fmt.Errorf("listing stacks: %w", err), nil)
	}
	sort.Slice(stacks, func(i, j int) bool { return stacks[i].Name < stacks[j].Name })
	return stacks, nil
}
