//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
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
	victim, onVictim, killedAt := killMidUpdate(t, f, acceptedIDs(first))
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

// engineStarts follows the event streams of ids (NDJSON, from any live
// replica, open until each operation ends) and sends each id whose engine
// has started its program's root resource, as that event arrives. Cancel
// ctx to stop following.
func engineStarts(ctx context.Context, f *fleet, ids []string) <-chan string {
	out := make(chan string, len(ids))
	for _, id := range ids {
		go func() {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.any().url+"/v1/operations/"+id+"/events", nil)
			if err != nil {
				return
			}
			req.Header.Set("Authorization", "Bearer "+apiToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			dec := json.NewDecoder(resp.Body)
			for {
				var e automation.Event
				if dec.Decode(&e) != nil {
					return
				}
				if e.Type == "resource-start" && e.Resource == "pulumi:pulumi:Stack" {
					out <- id
					return
				}
			}
		}()
	}
	return out
}

// acceptedIDs are the operations the service accepted (202).
func acceptedIDs(reqs []*request) []string {
	var ids []string
	for _, rq := range reqs {
		if rq.code == http.StatusAccepted {
			ids = append(ids, rq.op.ID)
		}
	}
	return ids
}

// killMidUpdate waits for the first of ids whose engine is at work on a
// live replica, then kills that replica's process group; it returns the
// victim and the operations it was running when it died (read after the
// kill: a dead replica changes nothing, and a takeover comes only after
// --takeover-after).
func killMidUpdate(t *testing.T, f *fleet, ids []string) (*replica, []string, time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	starts := engineStarts(ctx, f, ids)
	for {
		var id string
		select {
		case id = <-starts:
		case <-ctx.Done():
			t.Fatal("no replica's engine ever started an operation")
		}
		var op queue.Operation
		f.any().get("/v1/operations/"+id, &op)
		for _, r := range f.live() {
			if r.id == op.Replica && op.Status == queue.StatusRunning {
				killedAt := time.Now()
				r.kill()
				running := runningByReplica(f)[r.id]
				t.Logf("killed %s (%s) with SIGKILL while it ran %v", r.name, r.id, running)
				return r, running, killedAt
			}
		}
	}
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
	// Restart once an engine is at work on one of them.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	select {
	case <-engineStarts(ctx, f, ids):
	case <-ctx.Done():
		t.Fatal("no engine ever started one of the operations")
	}
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
