package automation

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optrefresh"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
)

// lockHolder is one holder of a stack's lock as the CLI names it when it
// refuses an update (pkg/backend/diy checkForLock): "<lock>: created by
// user@host (pid N) at <RFC 3339>".
type lockHolder struct {
	Username, Hostname string
	Pid                int
	Since              time.Time
}

var lockLine = regexp.MustCompile(`created by (.*)@(\S+) \(pid (\d+)\) at (\S+)`)

// lockHolders reads the holders out of the CLI's refusal; nil when the
// error names none.
func lockHolders(err error) []lockHolder {
	var out []lockHolder
	for _, m := range lockLine.FindAllStringSubmatch(err.Error(), -1) {
		pid, _ := strconv.Atoi(m[3])
		since, perr := time.Parse(time.RFC3339, m[4])
		if perr != nil {
			return nil // a shape this reader does not know: prove nothing
		}
		out = append(out, lockHolder{Username: m[1], Hostname: m[2], Pid: pid, Since: since})
	}
	return out
}

// deadHolder reports whether a lock's holder is provably dead: a process
// of this host that no longer runs, or, in a takeover, a lock the dead
// attempt's host took since that attempt began (the queue's lease proved
// that attempt dead).
func (m *Manager) deadHolder(ctx context.Context, h lockHolder) bool {
	if h.Hostname == m.hostname {
		return !processAlive(h.Pid)
	}
	t, ok := takeoverFrom(ctx)
	return ok && h.Hostname == t.Host && !h.Since.Before(t.Since.Add(-clockSkew))
}

// breakDeadLock handles the CLI's refusal of a locked stack: when every
// holder it names is provably dead, the locks are removed with `pulumi
// cancel` (which deletes a DIY stack's lock files) and the caller retries
// once. A live holder on this host gets a bounded wait in a takeover (an
// orphaned CLI exits once its program host is gone). Anything else stays a
// Conflict naming the holders.
func (m *Manager) breakDeadLock(ctx context.Context, st auto.Stack, err error) ([]string, bool) {
	if !isConcurrentUpdate(err) {
		return nil, false
	}
	holders := lockHolders(err)
	if len(holders) == 0 {
		return nil, false
	}
	var broken []string
	for _, h := range holders {
		if !m.deadHolder(ctx, h) {
			return nil, false
		}
		broken = append(broken, fmt.Sprintf("removed stale lock of dead process %d (%s@%s, taken %s)", h.Pid, h.Username, h.Hostname, h.Since.UTC().Format(time.RFC3339)))
	}
	if cerr := st.Cancel(ctx); cerr != nil {
		m.opts.Logger.Warn("removing a dead holder's lock", "stack", st.Name(), "err", cerr)
		return nil, false
	}
	for _, b := range broken {
		m.opts.Logger.Warn("recovered stack", "stack", st.Name(), "what", b)
	}
	return broken, true
}

// waitOrphanCLI gives a live Pulumi process of this host that holds the
// stack in a takeover a bounded time to exit (an orphaned CLI exits once
// its program host is gone); true when the caller should try again.
func (m *Manager) waitOrphanCLI(ctx context.Context, err error, waited *time.Duration) bool {
	if _, ok := takeoverFrom(ctx); !ok || !isConcurrentUpdate(err) || *waited >= orphanCLIWait {
		return false
	}
	for _, h := range lockHolders(err) {
		if h.Hostname != m.hostname {
			return false
		}
	}
	select {
	case <-ctx.Done():
		return false
	case <-time.After(orphanCLIPoll):
	}
	*waited += orphanCLIPoll
	return true
}

const (
	orphanCLIWait = 60 * time.Second
	orphanCLIPoll = 500 * time.Millisecond
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

// pendingOperations lists, through `pulumi stack export`, the operations
// an interrupted update left pending ("creating urn:…").
func pendingOperations(ctx context.Context, st auto.Stack) ([]string, error) {
	exported, err := st.Export(ctx)
	if err != nil {
		return nil, fmt.Errorf("exporting state: %w", err)
	}
	var dep apitype.DeploymentV3
	if len(exported.Deployment) > 0 {
		if err := json.Unmarshal(exported.Deployment, &dep); err != nil {
			return nil, fmt.Errorf("reading exported state: %w", err)
		}
	}
	out := make([]string, 0, len(dep.PendingOperations))
	for _, op := range dep.PendingOperations {
		out = append(out, fmt.Sprintf("%s of %s", op.Type, op.Resource.URN))
	}
	return out, nil
}

// clearPendingCreates drops pending creates with a refresh. Only preview
// and build stacks do this: their provider adopts an object that already
// exists (upsertExistingObjects) as the same field manager every attempt
// uses, so a create an interrupted update sent and never recorded is taken
// over by the next update instead of failing or leaking.
func (m *Manager) clearPendingCreates(ctx context.Context, st auto.Stack, pending []string) ([]string, error) {
	if _, err := st.Refresh(ctx, optrefresh.ClearPendingCreates(), optrefresh.ProgressStreams(m.progress(st.Name()))); err != nil {
		return nil, fmt.Errorf("clearing pending operations: %w", err)
	}
	out := make([]string, len(pending))
	for i, p := range pending {
		out[i] = "cleared pending " + p
	}
	return out, nil
}

// refusePending stops a platform operation while an interrupted update's
// operations are pending: the platform's objects (namespaces, Helm
// releases) are not adopted, so dropping a pending create would turn it
// into an AlreadyExists on the next up, or forget what it made.
func refusePending(op, stack string, pending []string) error {
	if len(pending) == 0 {
		return nil
	}
	return &Error{Kind: KindConflict, Op: op, Stack: stack, Reason: fmt.Sprintf(
		"an interrupted update left %d operation(s) pending: %s. Run `pulumi refresh -s %s` in a terminal: for each one it "+
			"asks whether to import the object (give its ID) or clear it (when it does not exist in the cluster)",
		len(pending), strings.Join(pending, "; "), stack)}
}

// clearAfterAdoption drops the pending creates a successful preview or
// build update found: every object its program declares is now in the
// state, adopted if an interrupted attempt had created it, and the names
// of a launch's or build's objects are fixed, so nothing the pending
// creates stood for is forgotten.
func (m *Manager) clearAfterAdoption(ctx context.Context, st auto.Stack) ([]string, error) {
	pending, err := pendingOperations(ctx, st)
	if err != nil || len(pending) == 0 {
		return nil, err
	}
	return m.clearPendingCreates(ctx, st, pending)
}

// clearLeftPending drops what a destroy leaves pending and names it: the
// engine destroyed every resource the state records, but not an object an
// interrupted update was creating when it died.
func (m *Manager) clearLeftPending(ctx context.Context, st auto.Stack) ([]string, error) {
	pending, err := pendingOperations(ctx, st)
	if err != nil || len(pending) == 0 {
		return nil, err
	}
	if _, err := m.clearPendingCreates(ctx, st, pending); err != nil {
		return nil, err
	}
	out := make([]string, len(pending))
	for i, p := range pending {
		out[i] = "not destroyed, never recorded: pending " + p + " (an interrupted update may have created it; check the cluster)"
	}
	return out, nil
}
