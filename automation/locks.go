package automation

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/apphub/apphub-infra/automation/internal/pulumilocks"
	"github.com/apphub/apphub-infra/stacks"
)

// LockInfo is one holder of a stack's Pulumi lock, for an operator.
type LockInfo struct {
	Stack    string    `json:"stack"`
	Username string    `json:"username"`
	Hostname string    `json:"hostname"`
	Pid      int       `json:"pid"`
	Since    time.Time `json:"since"`
	Age      string    `json:"age"`
	// Holder says what this host can tell of the holding process: "dead"
	// (this host, gone), "running" (this host, a live Pulumi process) or
	// "unknown" (another host).
	Holder string `json:"holder"`
}

// stackOf names the stack an operator means: "platform", "preview <launch>"
// or "build <id>".
func (m *Manager) stackOf(kind, name string) (project, stack string, err error) {
	switch {
	case kind == "platform" && name == "":
		return platformProject, m.opts.PlatformStack, nil
	case kind == "preview" && name != "":
		return stacks.PreviewProject, PreviewStack(name), nil
	case kind == "build" && name != "":
		return stacks.BuildProject, BuildStack(name), nil
	}
	return "", "", &Error{Kind: KindInvalid, Op: "lock", Reason: fmt.Sprintf("name the stack as platform, preview <launch> or build <id>, got %q", strings.TrimSpace(kind+" "+name))}
}

// Locks lists who holds a stack's lock and since when. It reads the lock
// records of a file:// or postgres:// backend (as Pulumi's docs tell an
// operator to look at them); other backends have none to show.
func (m *Manager) Locks(ctx context.Context, kind, name string) ([]LockInfo, error) {
	project, stack, err := m.stackOf(kind, name)
	if err != nil {
		return nil, err
	}
	store, closeStore, err := pulumilocks.NewStore(m.opts.BackendURL)
	if err != nil {
		return nil, &Error{Kind: KindInvalid, Op: "lock show", Stack: stack, Reason: err.Error(), Err: err}
	}
	if store == nil {
		return nil, &Error{Kind: KindInvalid, Op: "lock show", Stack: stack, Reason: "this backend keeps no lock records: its locks are the service's own (Pulumi Cloud: pulumi cancel)"}
	}
	defer closeStore()
	locks, err := store.List(ctx, project, stack)
	if err != nil {
		return nil, classify(ctx, "lock show", stack, err, nil)
	}
	out := make([]LockInfo, 0, len(locks))
	for _, l := range locks {
		holder := "unknown"
		if l.Hostname == m.hostname {
			holder = map[bool]string{true: "running", false: "dead"}[processAlive(l.Pid)]
		}
		out = append(out, LockInfo{Stack: stack, Username: l.Username, Hostname: l.Hostname, Pid: l.Pid, Since: l.Timestamp,
			Age: m.opts.Now().Sub(l.Timestamp).Round(time.Second).String(), Holder: holder})
	}
	return out, nil
}

// BreakLock removes every lock of a stack with `pulumi cancel`, on an
// operator's explicit request: the operator has made sure no update of the
// stack still runs. The stack's in-process operation, if any, is refused.
func (m *Manager) BreakLock(ctx context.Context, kind, name string) error {
	project, stack, err := m.stackOf(kind, name)
	if err != nil {
		return err
	}
	const op = "lock break"
	release, err := m.acquire(ctx, op, project, stack)
	if err != nil {
		return err
	}
	defer release()
	st, done, err := m.lookupStack(ctx, op, project, stack, nil)
	if err != nil {
		return err
	}
	defer done()
	if err := st.Cancel(ctx); err != nil {
		return classify(ctx, op, stack, fmt.Errorf("pulumi cancel: %w", err), nil)
	}
	m.opts.Logger.Warn("lock broken on request", "stack", stack)
	return nil
}
