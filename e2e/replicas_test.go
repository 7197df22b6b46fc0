//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/automation"
	"github.com/apphub/apphub-infra/internal/testing/pgtest"
	"github.com/apphub/apphub-infra/queue"
)

// replicasOnPostgres runs three `apphubctl serve` processes on one
// PostgreSQL queue (the stacks in the tier's file backend, as
// --backend-url may say): 60 requests over 20 previews at random replicas
// with same-stack conflicts, one replica killed with SIGKILL mid-update,
// every replica restarted with work queued, and PostgreSQL restarted
// mid-run. Nothing may be lost, run twice or left locked, and the backend
// must hold exactly the previews the last operations say.
func replicasOnPostgres(ctx context.Context, t *testing.T, e *env, m *automation.Manager) {
	pg := pgtest.Require(t)
	db, err := pg.NewDatabase(ctx, "replicas")
	require.NoError(t, err)
	f := &fleet{e: e, bin: buildApphubctl(t, e), db: db}
	for i := 0; i < 3; i++ {
		f.start(t)
	}
	launches := make([]string, 20)
	for i := range launches {
		launches[i] = fmt.Sprintf("rep-%02d", i)
	}
	var all []*request
	round := func(method string, image func(i int) string, only func(i int) bool) []*request {
		var reqs []*request
		for i, l := range launches {
			if only == nil || only(i) {
				reqs = append(reqs, &request{launch: l, method: method, image: image(i)})
			}
		}
		f.send(reqs)
		all = append(all, reqs...)
		return reqs
	}
	img := func(tag string) func(int) string { return func(int) string { return "registry.test/apps/rep:" + tag } }

	first := round(http.MethodPut, img("1"), nil)
	round(http.MethodPut, img("2"), func(i int) bool { return i%2 == 0 }) // mostly 409: the first is under way
	victim, onVictim, killedAt := killMidUpdate(t, f)
	f.waitAll(t, accepted(t, first), 5*time.Minute)
	round(http.MethodDelete, img(""), func(i int) bool { return i%2 == 0 })
	round(http.MethodPut, img("3"), func(i int) bool { return i%2 == 1 })
	round(http.MethodPut, img("3b"), func(i int) bool { return i%4 == 1 }) // conflicts with the round before
	round(http.MethodPut, img("3c"), func(i int) bool { return i%4 == 3 })
	require.Len(t, all, 60)
	ops := f.waitAll(t, accepted(t, all), 6*time.Minute)
	assertRun(t, f, ops, victim, onVictim, killedAt)

	restartAll(t, f, launches)
	postgresRestart(t, f, pg, launches)
	assertBackendMatches(ctx, t, e, m, f, launches)
}

// accepted lists the operations the requests created (202s), checking that
// every other answer was a conflict naming an existing operation.
func accepted(t *testing.T, reqs []*request) []string {
	t.Helper()
	var ids []string
	conflicts := 0
	for _, rq := range reqs {
		switch rq.code {
		case http.StatusAccepted:
			ids = append(ids, rq.op.ID)
		case http.StatusConflict:
			conflicts++
			assert.NotEmpty(t, rq.op.ID, "a 409 names the operation in the way (%s %s)", rq.method, rq.launch)
		default:
			t.Errorf("%s %s: unexpected status %d", rq.method, rq.launch, rq.code)
		}
	}
	t.Logf("%d requests: %d accepted, %d conflicts", len(reqs), len(ids), conflicts)
	return ids
}

// engineStarted reports whether the operation's recorded events show the
// engine at work (its program's root resource started).
func engineStarted(f *fleet, id string) bool {
	var op queue.Operation
	f.any().get("/v1/operations/"+id, &op)
	for _, e := range op.Events {
		if e.Type == "resource-start" {
			return true
		}
	}
	return false
}

// killMidUpdate waits until a replica's engine is at work on an update,
// then kills its process group; it returns the victim and the operations
// it was running when it died (read after the kill: a dead replica changes
// nothing, and a takeover comes only after --takeover-after).
func killMidUpdate(t *testing.T, f *fleet) (*replica, []string, time.Time) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		byReplica := runningByReplica(f)
		for _, r := range f.live() {
			if ids := byReplica[r.id]; len(ids) > 0 && engineStarted(f, ids[0]) {
				killedAt := time.Now()
				r.kill()
				ids = runningByReplica(f)[r.id]
				t.Logf("killed %s (%s) with SIGKILL while it ran %v", r.name, r.id, ids)
				return r, ids, killedAt
			}
		}
		time.Sleep(50 * time.Millisecond) // polling the service from outside
	}
	t.Fatal("no replica ever ran an operation")
	return nil, nil, time.Time{}
}

// runningByReplica lists the running operations by the replica running them.
func runningByReplica(f *fleet) map[string][]string {
	var list struct{ Operations []queue.Operation }
	f.any().get("/v1/operations?status=running&limit=200", &list)
	out := map[string][]string{}
	for _, op := range list.Operations {
		out[op.Replica] = append(out[op.Replica], op.ID)
	}
	return out
}

func assertRun(t *testing.T, f *fleet, ops map[string]*queue.Operation, victim *replica, onVictim []string, killedAt time.Time) {
	t.Helper()
	taken := map[string]bool{}
	for _, id := range onVictim {
		taken[id] = true
		require.Contains(t, ops, id, "the killed replica's operation is not lost")
	}
	for id, op := range ops {
		assert.Equal(t, queue.StatusSucceeded, op.Status, "%s %s: %s", op.Kind, op.Target, op.Reason)
		if op.Replica == victim.id {
			// Only what the victim finished before it died.
			require.NotNil(t, op.FinishedAt, "%s", id)
			assert.False(t, op.FinishedAt.After(killedAt), "%s finished by the killed replica after its death", id)
		}
		if !taken[id] {
			assert.Equal(t, 1, op.Attempts, "%s ran once", id)
			continue
		}
		assert.Equal(t, 2, op.Attempts, "%s: the killed attempt, then the takeover", id)
		var full queue.Operation
		require.Equal(t, http.StatusOK, f.any().get("/v1/operations/"+id, &full))
		var takeover []string
		for _, ev := range full.Events {
			if ev.Type == "takeover" {
				takeover = append(takeover, ev.Message)
			}
		}
		require.Len(t, takeover, 1, "%s says it was taken over", id)
		assert.Contains(t, takeover[0], victim.id)
		started, finished := *full.StartedAt, *full.FinishedAt
		t.Logf("%s taken over %.1fs after the SIGKILL (--takeover-after 3s), finished %.1fs after it", id, started.Sub(killedAt).Seconds(), finished.Sub(killedAt).Seconds())
		assert.Less(t, started.Sub(killedAt), 20*time.Second, "takeover is bounded by --takeover-after and the sweep")
	}
}

// updateOdd sends an update of every other preview to the image tag.
func (f *fleet) updateOdd(launches []string, tag string) []*request {
	var reqs []*request
	for i, l := range launches {
		if i%2 == 1 {
			reqs = append(reqs, &request{launch: l, method: http.MethodPut, image: "registry.test/apps/rep:" + tag})
		}
	}
	f.send(reqs)
	return reqs
}

// restartAll stops every replica (SIGTERM) right after work was queued,
// starts three new ones, and expects the queued work to finish.
func restartAll(t *testing.T, f *fleet, launches []string) {
	t.Helper()
	reqs := f.updateOdd(launches, "4")
	for _, r := range f.live() {
		r.stop(t)
	}
	for i := 0; i < 3; i++ {
		f.start(t)
	}
	ops := f.waitAll(t, accepted(t, reqs), 5*time.Minute)
	for _, op := range ops {
		assert.Equal(t, queue.StatusSucceeded, op.Status, "%s after the restart of every replica: %s", op.Target, op.Reason)
	}
}

// postgresRestart restarts the database while operations run.
func postgresRestart(t *testing.T, f *fleet, pg *pgtest.Server, launches []string) {
	t.Helper()
	reqs := f.updateOdd(launches, "5")
	ids := accepted(t, reqs)
	// Restart once the engines are at work on some of them.
	require.Eventually(t, func() bool {
		for _, id := range ids {
			if engineStarted(f, id) {
				return true
			}
		}
		return false
	}, 2*time.Minute, 50*time.Millisecond)
	require.NoError(t, pg.Restart(2*time.Second), pg.Log())
	ops := f.waitAll(t, ids, 5*time.Minute)
	for _, op := range ops {
		assert.Equal(t, queue.StatusSucceeded, op.Status, "%s across a database restart: %s", op.Target, op.Reason)
		assert.LessOrEqual(t, op.Attempts, 2)
	}
	for _, r := range f.live() {
		var h struct{ Status string }
		assert.Equal(t, http.StatusOK, r.get("/healthz", &h), "%s reconnected", r.name)
	}
}

// assertBackendMatches compares the stacks with the last operation of each
// launch, checks that no Pulumi lock is left, then destroys what is left
// through the replicas.
func assertBackendMatches(ctx context.Context, t *testing.T, e *env, m *automation.Manager, f *fleet, launches []string) {
	t.Helper()
	want := map[string]bool{}
	for _, l := range launches {
		var list struct{ Operations []queue.Operation }
		require.Equal(t, http.StatusOK, f.any().get("/v1/operations?stack=preview-"+l+"&limit=1", &list))
		require.Len(t, list.Operations, 1, l)
		last := list.Operations[0]
		require.True(t, last.Done(), "%s: %s", l, last.Status)
		want[l] = last.Kind == queue.KindPreviewUp
	}
	items, err := m.PreviewList(ctx)
	require.NoError(t, err)
	got := map[string]bool{}
	for _, it := range items {
		if strings.HasPrefix(it.Launch, "rep-") {
			got[it.Launch] = true
		}
	}
	for _, l := range launches {
		assert.Equal(t, want[l], got[l], "%s: the backend holds the stack exactly when its last operation was an up", l)
		objects := kubectl(t, "get", "deploy", "-n", "apphub", "-l", "apphub.io/launch="+l, "-o", "name")
		assert.Equal(t, want[l], objects != "", "%s: objects exactly when the stack exists: %q", l, objects)
	}
	assert.Empty(t, lockFiles(t, e), "no Pulumi lock is left")

	var destroys []*request
	for _, l := range launches {
		if got[l] {
			destroys = append(destroys, &request{launch: l, method: http.MethodDelete})
		}
	}
	f.send(destroys)
	f.waitAll(t, accepted(t, destroys), 5*time.Minute)
	assert.Empty(t, kubectl(t, "get", "deploy,svc,ingress", "-n", "apphub", "-l", "apphub.io/launch", "-o", "name"), "every preview destroyed")
}

func lockFiles(t *testing.T, e *env) []string {
	t.Helper()
	var out []string
	root := filepath.Join(e.state, ".pulumi", "locks")
	_ = filepath.Walk(root, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			out = append(out, strings.TrimPrefix(path, root))
		}
		return nil
	})
	sort.Strings(out)
	return out
}
