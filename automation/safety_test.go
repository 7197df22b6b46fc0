//go:build clitest

package automation

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/automation/internal/pulumilocks"
	"github.com/apphub/apphub-infra/internal/testing/testprograms"
	"github.com/apphub/apphub-infra/stacks"
)

func TestConcurrentPreviews(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, nil)
	ctx := t.Context()
	const n = 10
	var wg sync.WaitGroup
	errs := make([]error, n)
	urls := make([]string, n)
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			res, err := m.PreviewUp(ctx, PreviewSpec{Launch: fmt.Sprintf("c-%d", i), Image: fmt.Sprintf("registry.test/app:%d", i)})
			errs[i] = err
			if res != nil {
				urls[i] = res.URL
			}
		}(i)
	}
	wg.Wait()
	t.Logf("%d concurrent previews: %.1fs wall", n, time.Since(start).Seconds())
	for i := 0; i < n; i++ {
		require.NoError(t, errs[i], "preview %d", i)
		assert.Equal(t, fmt.Sprintf("http://c-%d.preview.test", i), urls[i])
	}
	list, err := m.PreviewList(ctx)
	require.NoError(t, err)
	assert.Len(t, list, n)
	// Every stack's state is its own: outputs match the request.
	for i := 0; i < n; i++ {
		got, err := m.PreviewGet(ctx, fmt.Sprintf("c-%d", i))
		require.NoError(t, err)
		assert.Equal(t, StateReady, got.State)
		assert.Equal(t, fmt.Sprintf("c-%d", i), got.Outputs[stacks.OutLaunch])
	}
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, errs[i] = m.PreviewDestroy(ctx, fmt.Sprintf("c-%d", i))
		}(i)
	}
	wg.Wait()
	for i := 0; i < n; i++ {
		require.NoError(t, errs[i])
	}
	list, err = m.PreviewList(ctx)
	require.NoError(t, err)
	assert.Empty(t, list)
}

func TestSamePreviewConflict(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, nil)
	ctx := t.Context()
	slow := PreviewSpec{Launch: "busy", Image: "registry.test/app:1", Env: map[string]string{"TEST_SLEEP_MS": "4000"}}
	done := make(chan error, 1)
	go func() { _, err := m.PreviewUp(ctx, slow); done <- err }()
	require.Eventually(t, func() bool { _, busy := m.Busy(stacks.PreviewProject, "preview-busy"); return busy }, 10*time.Second, 20*time.Millisecond)

	_, err := m.PreviewUp(ctx, PreviewSpec{Launch: "busy", Image: "registry.test/app:2"})
	require.Error(t, err)
	assert.True(t, IsConflict(err), "got %v", err)
	_, err = m.PreviewDestroy(ctx, "busy")
	assert.True(t, IsConflict(err), "a destroy during an update conflicts too: %v", err)
	require.NoError(t, <-done, "the first operation is unaffected")

	got, err := m.PreviewGet(ctx, "busy")
	require.NoError(t, err)
	assert.Equal(t, "preview-busy", got.ServiceName)
}

func TestInvalidSpecTouchesNothing(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, nil)
	ctx := t.Context()
	tests := []struct {
		spec  PreviewSpec
		field string
	}{
		{PreviewSpec{Launch: "Bad_Launch", Image: "registry.test/app:1"}, "launch"},
		{PreviewSpec{Launch: "ok", Image: "nginx"}, "image"},
		{PreviewSpec{Launch: "ok", Image: "registry.test/app:1", Port: 80}, "port"},
		{PreviewSpec{Launch: "ok", Image: "registry.test/app:1", Env: map[string]string{"APPHUB_X": "1"}}, "env"},
		{PreviewSpec{Launch: "ok", Image: "registry.test/app:1", EgressAllow: []string{"nowhere"}}, "egressAllow"},
	}
	for _, tt := range tests {
		_, err := m.PreviewUp(ctx, tt.spec)
		require.Error(t, err)
		assert.True(t, IsInvalid(err), "got %v", err)
		var e *Error
		require.ErrorAs(t, err, &e)
		assert.Contains(t, e.Fields.Fields(), tt.field)
	}
	_, err := m.BuildRun(ctx, BuildSpec{ID: "b1", GitURL: "http://insecure.test/x.git", ImageRepository: "apps/web", ImageTag: "1"})
	assert.True(t, IsInvalid(err))
	_, err = m.PreviewDestroy(ctx, "../etc")
	assert.True(t, IsInvalid(err))
	entries, _ := os.ReadDir(filepath.Join(m.Options().WorkDir, stacks.PreviewProject))
	assert.Empty(t, entries, "no work directory, no stack")
	list, err := m.PreviewList(ctx)
	require.NoError(t, err)
	assert.Empty(t, list)
}

func TestCancelThenUpdateSucceeds(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, nil)
	ctx, cancel := context.WithCancel(t.Context())
	// The program runs (and sleeps) once the engine reports its root
	// stack resource starting.
	running := make(chan struct{})
	var once sync.Once
	ctx = WithEvents(ctx, func(e Event) {
		if e.Type == "resource-start" && e.Resource == "pulumi:pulumi:Stack" {
			once.Do(func() { close(running) })
		}
	})
	done := make(chan error, 1)
	go func() {
		_, err := m.PreviewUp(ctx, PreviewSpec{Launch: "cancel", Image: "registry.test/app:1", Env: map[string]string{"TEST_SLEEP_MS": "20000"}})
		done <- err
	}()
	select {
	case <-running:
	case err := <-done:
		t.Fatalf("the update ended before its program ran: %v", err)
	}
	start := time.Now()
	cancel()
	err := <-done
	t.Logf("cancel took %.1fs", time.Since(start).Seconds())
	require.Error(t, err)
	assert.Equal(t, KindCanceled, KindOf(err), "got %v", err)
	_, busy := m.Busy(stacks.PreviewProject, "preview-cancel")
	assert.False(t, busy, "the stack is released")

	res, err := m.PreviewUp(t.Context(), PreviewSpec{Launch: "cancel", Image: "registry.test/app:1"})
	require.NoError(t, err, "the next update succeeds")
	assert.Equal(t, StateReady, res.State)
	for _, r := range res.Recovered {
		t.Logf("recovered: %s", r)
	}
}

// writeLock plants a file-backend lock for a stack as another process would.
func writeLock(t *testing.T, m *Manager, stack string, pid int, host string) string {
	dir := filepath.Join(m.Options().StateDir, ".pulumi", "locks", "organization", stacks.PreviewProject, stack)
	require.NoError(t, os.MkdirAll(dir, 0o700))
	path := filepath.Join(dir, "0b5e6c1e-dead-4bad-beef-000000000001.json")
	b, _ := json.Marshal(map[string]any{"pid": pid, "username": "ci", "hostname": host, "timestamp": time.Now()})
	require.NoError(t, os.WriteFile(path, b, 0o600))
	return path
}

func deadPID(t *testing.T) int {
	cmd := exec.Command("true")
	require.NoError(t, cmd.Run())
	return cmd.Process.Pid
}

func TestStaleLockRecovery(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, nil)
	ctx := t.Context()
	spec := PreviewSpec{Launch: "locked", Image: "registry.test/app:1"}
	_, err := m.PreviewUp(ctx, spec)
	require.NoError(t, err)

	host, _ := os.Hostname()
	lock := writeLock(t, m, "preview-locked", deadPID(t), host)
	res, err := m.PreviewUp(ctx, spec)
	require.NoError(t, err, "a lock left by a dead process on this host is cleared")
	require.Len(t, res.Recovered, 1)
	assert.Contains(t, res.Recovered[0], "removed stale lock of dead process")
	assert.NoFileExists(t, lock)

	// A lock held by a live Pulumi process is respected.
	fake := filepath.Join(t.TempDir(), "pulumi-lockholder")
	sleep, err := exec.LookPath("sleep")
	require.NoError(t, err)
	b, err := os.ReadFile(sleep)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(fake, b, 0o755))
	holder := exec.Command(fake, "60")
	require.NoError(t, holder.Start())
	t.Cleanup(func() { _ = holder.Process.Kill(); _ = holder.Wait() })
	writeLock(t, m, "preview-locked", holder.Process.Pid, host)
	_, err = m.PreviewUp(ctx, spec)
	require.Error(t, err)
	assert.True(t, IsConflict(err), "a live lock is a conflict: %v", err)

	// So is one from another host, whose processes we cannot see.
	_ = holder.Process.Kill()
	_ = holder.Wait()
	entries, _ := os.ReadDir(filepath.Dir(lock))
	for _, e := range entries {
		_ = os.Remove(filepath.Join(filepath.Dir(lock), e.Name()))
	}
	writeLock(t, m, "preview-locked", deadPID(t), "another-host")
	_, err = m.PreviewUp(ctx, spec)
	assert.True(t, IsConflict(err), "got %v", err)
}

func TestPendingCreateRecovery(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, nil)
	ctx := t.Context()
	spec := PreviewSpec{Launch: "pending", Image: "registry.test/app:1"}
	_, err := m.PreviewUp(ctx, spec)
	require.NoError(t, err)

	st := plantPendingCreate(t, m, "pending")

	res, err := m.PreviewUp(ctx, spec)
	require.NoError(t, err)
	require.Len(t, res.Recovered, 1)
	assert.Contains(t, res.Recovered[0], "cleared pending creating of")
	assert.Contains(t, res.Recovered[0], "::interrupted")

	after, err := pendingOperations(ctx, st)
	require.NoError(t, err)
	assert.Empty(t, after, "the update adopted the launch's objects, so the pending create was dropped")
}

// plantPendingCreate leaves a launch's stack as an update killed
// mid-create does: the file backend's checkpoint keeps a pending create
// (`stack import` would drop it, so the checkpoint is edited the way a
// dying CLI leaves it; only this test writes it).
func plantPendingCreate(t *testing.T, m *Manager, launch string) auto.Stack {
	t.Helper()
	ctx := t.Context()
	plantPending(t, m, stacks.PreviewProject, PreviewStack(launch))
	st, err := m.selectStack(ctx, "test", stacks.PreviewProject, PreviewStack(launch), testprograms.Preview)
	require.NoError(t, err)
	before, err := pendingOperations(ctx, st)
	require.NoError(t, err)
	require.Len(t, before, 1, "`stack export` shows the planted pending create")
	return st
}

// plantPending edits a stack's checkpoint: a copy of its Stash, renamed
// "interrupted", pending creation.
func plantPending(t *testing.T, m *Manager, project, stack string) {
	t.Helper()
	path := filepath.Join(m.Options().StateDir, ".pulumi", "stacks", project, stack+".json")
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(raw, &doc))
	latest := doc["checkpoint"].(map[string]any)["latest"].(map[string]any)
	var stash map[string]any
	for _, r := range latest["resources"].([]any) {
		if r.(map[string]any)["type"] == "pulumi:index:Stash" {
			stash = r.(map[string]any)
		}
	}
	require.NotNil(t, stash)
	pendingRes := map[string]any{}
	for k, v := range stash {
		pendingRes[k] = v
	}
	urn := stash["urn"].(string)
	pendingRes["urn"] = urn[:strings.LastIndex(urn, "::")] + "::interrupted"
	latest["pending_operations"] = []any{map[string]any{"resource": pendingRes, "type": "creating"}}
	raw, err = json.Marshal(doc)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, raw, 0o600))
}

// A platform operation stops at an interrupted update's pending
// operations: the platform's objects are not adopted, so clearing one
// would forget what it made. The refusal names it and says what to run;
// nothing is changed.
func TestPlatformRefusesPendingOperations(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, func(o *Options) { o.PlatformStack = "staging" })
	ctx := t.Context()
	_, err := m.PlatformUp(ctx)
	require.NoError(t, err)
	plantPending(t, m, platformProject, "staging")

	for name, op := range map[string]func(context.Context) (*PlatformResult, error){"up": m.PlatformUp, "destroy": m.PlatformDestroy} {
		_, err = op(ctx)
		require.Error(t, err, name)
		assert.True(t, IsConflict(err), "%s: %v", name, err)
		assert.Contains(t, err.Error(), "creating of urn:pulumi:staging::apphub::pulumi:index:Stash::interrupted", name)
		assert.Contains(t, err.Error(), "pulumi refresh -s staging", name)
	}
	st, err := m.platformStack(ctx, false)
	require.NoError(t, err)
	pending, err := pendingOperations(ctx, st)
	require.NoError(t, err)
	assert.Len(t, pending, 1, "still pending: nothing was cleared")
}

// A destroy after an interrupted update destroys what the state records
// and names the create it never recorded.
func TestPendingCreateAtDestroy(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, nil)
	ctx := t.Context()
	_, err := m.PreviewUp(ctx, PreviewSpec{Launch: "pending-rm", Image: "registry.test/app:1"})
	require.NoError(t, err)
	plantPendingCreate(t, m, "pending-rm")

	res, err := m.PreviewDestroy(ctx, "pending-rm")
	require.NoError(t, err)
	assert.False(t, res.AlreadyGone)
	assert.Equal(t, 2, res.LastUpdate.Changes["delete"], "the stack and its recorded Stash")
	require.Len(t, res.Recovered, 1)
	assert.Contains(t, res.Recovered[0], "not destroyed, never recorded: pending creating of")
	assert.Contains(t, res.Recovered[0], "::interrupted")
	_, err = m.PreviewGet(ctx, "pending-rm")
	assert.True(t, IsNotFound(err), "the stack is gone: %v", err)
}

// A lock no process here can be proven dead by stays until an operator
// breaks it: show names the holder and its age, break removes it through
// `pulumi cancel`, and the next update runs.
func TestOperatorShowsAndBreaksALock(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, nil)
	ctx := t.Context()
	spec := PreviewSpec{Launch: "held", Image: "registry.test/app:1"}
	_, err := m.PreviewUp(ctx, spec)
	require.NoError(t, err)
	lock := writeLock(t, m, "preview-held", 4242, "gone-ci-runner")

	locks, err := m.Locks(ctx, "preview", "held")
	require.NoError(t, err)
	require.Len(t, locks, 1)
	assert.Equal(t, "gone-ci-runner", locks[0].Hostname)
	assert.Equal(t, 4242, locks[0].Pid)
	assert.Equal(t, "unknown", locks[0].Holder, "another host's process cannot be seen from here")
	assert.NotEmpty(t, locks[0].Age)

	_, err = m.PreviewUp(ctx, spec)
	require.True(t, IsConflict(err), "a lock of another host is never broken on a guess: %v", err)
	assert.FileExists(t, lock)

	require.NoError(t, m.BreakLock(ctx, "preview", "held"))
	assert.NoFileExists(t, lock)
	_, err = m.PreviewUp(ctx, spec)
	require.NoError(t, err)

	_, err = m.Locks(ctx, "preview", "")
	assert.True(t, IsInvalid(err), "a preview lock needs its launch: %v", err)
}

// What an update reports (outputs, summary) is what
// the CLI says when asked afterwards.
func TestUpdateResultAgreesWithTheCLI(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, nil)
	ctx := t.Context()
	for _, img := range []string{"registry.test/app:1", "registry.test/app:2"} {
		up, err := m.PreviewUp(ctx, PreviewSpec{Launch: "agree", Image: img, Env: map[string]string{"A": "1"}})
		require.NoError(t, err)
		got, err := m.PreviewGet(ctx, "agree")
		require.NoError(t, err)
		assert.Equal(t, got.Outputs, up.Outputs)
		require.NotNil(t, up.LastUpdate)
		assert.Equal(t, got.LastUpdate.Kind, up.LastUpdate.Kind)
		assert.Equal(t, got.LastUpdate.Result, up.LastUpdate.Result)
		assert.Equal(t, got.LastUpdate.Changes, up.LastUpdate.Changes)
		assert.WithinDuration(t, got.LastUpdate.EndTime, up.LastUpdate.EndTime, 2*time.Second)
	}
}

// Preview and build operations leave the project directory alone: the
// service runs them from wherever it was started, which is no place for a
// Pulumi.yaml.
func TestOperationsWriteNothingIntoTheProjectDir(t *testing.T) {
	t.Parallel()
	project := t.TempDir()
	m := newTestManager(t, func(o *Options) { o.ProjectDir = project })
	ctx := t.Context()
	_, err := m.PreviewUp(ctx, PreviewSpec{Launch: "quiet", Image: "registry.test/app:1"})
	require.NoError(t, err)
	_, err = m.BuildRun(ctx, BuildSpec{ID: "quiet", GitURL: "https://git.test/acme/web.git", ImageRepository: "apps/web", ImageTag: "1"})
	require.NoError(t, err)
	_, err = m.PreviewList(ctx)
	require.NoError(t, err)
	_, err = m.PreviewGet(ctx, "quiet")
	require.NoError(t, err)
	_, err = m.PreviewDestroy(ctx, "quiet")
	require.NoError(t, err)
	_, err = m.BuildDestroy(ctx, "quiet")
	require.NoError(t, err)
	entries, err := os.ReadDir(project)
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing written into the project directory")

	// The backend keeps its checkpoints but no .attrs sidecar, which
	// fileblob writes in place (a killed CLI would leave it empty).
	dir, err := pulumilocks.FileBackendDir(m.Options().BackendURL)
	require.NoError(t, err)
	var checkpoints, sidecars []string
	require.NoError(t, filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case strings.HasSuffix(path, ".attrs"):
			sidecars = append(sidecars, path)
		case strings.HasSuffix(path, ".json"):
			checkpoints = append(checkpoints, path)
		}
		return nil
	}))
	assert.NotEmpty(t, checkpoints, "the stacks' checkpoints are in %s", dir)
	assert.Empty(t, sidecars)
}
