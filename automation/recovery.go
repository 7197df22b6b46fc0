package automation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optrefresh"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"

	"github.com/apphub/apphub-infra/automation/internal/pulumistate"
)

// fileBackendDir is the local directory of a file:// backend, or "" for others.
func (m *Manager) fileBackendDir() string {
	u, err := url.Parse(m.opts.BackendURL)
	if err != nil || u.Scheme != "file" {
		return ""
	}
	return u.Path
}

// locks opens the backend's lock store once.
func (m *Manager) locks() (pulumistate.LockStore, error) {
	m.locksOnce.Do(func() {
		m.lockStore, m.closeLocks, m.locksErr = pulumistate.NewLockStore(m.opts.BackendURL)
	})
	return m.lockStore, m.locksErr
}

// clearStaleLocks removes the stack's Pulumi locks whose holder is
// provably dead: a process of this host that no longer runs, or, in a
// takeover, a lock the dead attempt's host took since that attempt began
// (the queue's lease proved that attempt dead). A live holder on this host
// gets a bounded wait in a takeover (an orphaned CLI exits once its
// program host is gone); any other lock is left and the operation fails
// as a Conflict naming it.
func (m *Manager) clearStaleLocks(ctx context.Context, project, stack string) ([]string, error) {
	ls, err := m.locks()
	if err != nil || ls == nil {
		return nil, err
	}
	takeover, isTakeover := takeoverFrom(ctx)
	deadline := m.opts.Now().Add(orphanCLIWait)
	var cleared []string
	for {
		entries, err := ls.List(ctx, project, stack)
		if err != nil {
			return cleared, err
		}
		waiting := false
		for _, l := range entries {
			dead := l.Hostname == m.hostname && !processAlive(l.Pid)
			if !dead && isTakeover && l.Hostname != m.hostname && l.Hostname == takeover.Host {
				dead = !l.Timestamp.Before(takeover.Since.Add(-clockSkew))
			}
			if !dead {
				waiting = waiting || isTakeover && l.Hostname == m.hostname
				continue
			}
			if err := ls.Remove(ctx, l.Key); err != nil {
				return cleared, err
			}
			cleared = append(cleared, fmt.Sprintf("removed stale lock of dead process %d (%s@%s, taken %s)", l.Pid, l.Username, l.Hostname, l.Timestamp.UTC().Format(time.RFC3339)))
		}
		if !waiting || m.opts.Now().After(deadline) {
			return cleared, nil
		}
		select {
		case <-ctx.Done():
			return cleared, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

const (
	orphanCLIWait = 60 * time.Second
	clockSkew     = time.Minute
)

// processAlive reports whether pid runs a Pulumi process; a reused pid of
// an unrelated program does not keep a lock alive.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && err != syscall.EPERM {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return true // no /proc (not Linux): trust the signal probe
	}
	return strings.Contains(string(cmdline), "pulumi")
}

// clearPendingOperations finds operations an interrupted update left
// pending. Pending creates are dropped with a refresh, after which the next
// update creates (or, with upsertExistingObjects, adopts) those objects.
func (m *Manager) clearPendingOperations(ctx context.Context, project string, st auto.Stack) ([]string, error) {
	dep, err := m.deployment(ctx, project, st)
	if err != nil {
		return nil, err
	}
	pending := pulumistate.PendingOperations(dep)
	if len(pending) == 0 {
		return nil, nil
	}
	if _, err := st.Refresh(ctx, optrefresh.ClearPendingCreates(), optrefresh.ProgressStreams(m.progress(st.Name()))); err != nil {
		return nil, fmt.Errorf("clearing pending operations: %w", err)
	}
	out := make([]string, len(pending))
	for i, p := range pending {
		out[i] = "cleared pending " + p
	}
	return out, nil
}

// deployment reads the stack's latest deployment from the file backend, or
// through `pulumi stack export` where only the CLI can read it.
func (m *Manager) deployment(ctx context.Context, project string, st auto.Stack) (*apitype.DeploymentV3, error) {
	dep, err := m.state.Deployment(project, st.Name())
	if !errors.Is(err, pulumistate.ErrUnknown) {
		return dep, err
	}
	exported, err := st.Export(ctx)
	if err != nil {
		return nil, fmt.Errorf("exporting state: %w", err)
	}
	dep = &apitype.DeploymentV3{}
	if len(exported.Deployment) > 0 {
		if err := json.Unmarshal(exported.Deployment, dep); err != nil {
			return nil, fmt.Errorf("reading exported state: %w", err)
		}
	}
	return dep, nil
}
