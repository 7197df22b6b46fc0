package automation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optrefresh"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
)

// lockFile is the file backend's lock record.
type lockFile struct {
	Pid      int    `json:"pid"`
	Username string `json:"username"`
	Hostname string `json:"hostname"`
}

// stateDir is the local directory of a file:// backend, or "" for others.
func (m *Manager) stateDir() string {
	u, err := url.Parse(m.opts.BackendURL)
	if err != nil || u.Scheme != "file" {
		return ""
	}
	return u.Path
}

// clearStaleLocks removes lock files of this stack left by processes of
// this host that no longer run. A lock held by a live process, or by
// another host, is left alone: the operation then fails as a Conflict.
func (m *Manager) clearStaleLocks(project, stack string) ([]string, error) {
	root := m.stateDir()
	if root == "" {
		return nil, nil
	}
	dir := filepath.Join(root, ".pulumi", "locks", "organization", project, stack)
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading locks: %w", err)
	}
	var cleared []string
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		var l lockFile
		if json.Unmarshal(b, &l) != nil || l.Hostname != m.hostname || processAlive(l.Pid) {
			continue
		}
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			return cleared, fmt.Errorf("removing stale lock %s: %w", path, err)
		}
		cleared = append(cleared, fmt.Sprintf("removed stale lock of dead process %d (%s@%s)", l.Pid, l.Username, l.Hostname))
	}
	return cleared, nil
}

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
	pending := pendingOperations(dep)
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
	dep, err := m.state.deployment(project, st.Name())
	if !errors.Is(err, errUnknown) {
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
