//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/automation"
	"github.com/apphub/apphub-infra/internal/testing/kubetier"
	"github.com/apphub/apphub-infra/queue"
	"github.com/apphub/apphub-infra/stacks"
)

// BenchmarkPulumiPreviewOnCluster compares, in one run on one cluster, a
// preview created, updated and destroyed by the full path (Manager, CLI,
// engine, kubernetes provider and its await logic) with the same objects
// applied by `kubectl apply --server-side` + `kubectl rollout status` and
// removed by `kubectl delete`, and times the same create and destroy
// through the HTTP API (warm process) and the apphubctl CLI (a process per
// call). It logs where a Manager operation's time goes (see phases).
//
//	go test -tags e2e -run '^$' -bench PulumiPreviewOnCluster -benchtime 3x -v ./e2e
func BenchmarkPulumiPreviewOnCluster(b *testing.B) {
	e := newEnv(b)
	e.writeProject(b, withoutService(withoutARC(e.platformConfig())))
	m := e.manager(b)
	ctx := context.Background()
	platform, err := m.PlatformUp(ctx)
	require.NoError(b, err)
	b.Cleanup(func() { _, _ = m.PlatformDestroy(context.Background()) })
	a := startAPI(b, e, m)
	cli := e.cliRunner(b)

	var r benchRuns
	i := 0
	for b.Loop() {
		i++
		r.manager(b, ctx, m, fmt.Sprintf("bench-p-%d", i))
		r.kubectl(b, ctx, platform.Outputs, fmt.Sprintf("bench-k-%d", i))
		r.http(b, a, fmt.Sprintf("bench-h-%d", i))
		r.cli(b, ctx, cli, fmt.Sprintf("bench-c-%d", i))
	}
	r.report(b)
	b.StopTimer()
	wall, perOp := concurrentCreates(b, a, 20, automation.DefaultMaxConcurrent)
	b.ReportMetric(wall.Seconds(), "http-20-concurrent-creates-s")
	b.ReportMetric(perOp, "MiB/op-in-flight")
	b.Logf("20 concurrent HTTP creates: %.1f s wall, 0 errors; peak Pulumi memory %.0f MiB per operation in flight (%d at once)",
		wall.Seconds(), perOp, automation.DefaultMaxConcurrent)
}

// benchRuns are the figures of every iteration, per path and operation.
type benchRuns struct {
	phases map[string][]map[string]time.Duration // Manager operation → breakdowns
	wall   map[string][]time.Duration            // "path op" → wall times
}

func (r *benchRuns) add(key string, d time.Duration) {
	if r.wall == nil {
		r.wall = map[string][]time.Duration{}
	}
	r.wall[key] = append(r.wall[key], d)
}

func (r *benchRuns) manager(b *testing.B, ctx context.Context, m *automation.Manager, launch string) {
	b.Helper()
	if r.phases == nil {
		r.phases = map[string][]map[string]time.Duration{}
	}
	var p phases
	spec := automation.PreviewSpec{Launch: launch, Image: "registry.test/apps/web:1", Replicas: ptr(2)}
	for _, step := range []struct {
		op string
		fn func(context.Context) error
	}{
		{"create", func(c context.Context) error { _, err := m.PreviewUp(c, spec); return err }},
		{"update", func(c context.Context) error {
			s := spec
			s.Image = "registry.test/apps/web:2"
			_, err := m.PreviewUp(c, s)
			return err
		}},
		{"destroy", func(c context.Context) error { _, err := m.PreviewDestroy(c, launch); return err }},
	} {
		got, err := p.run(ctx, step.fn)
		require.NoError(b, err, step.op)
		r.phases[step.op] = append(r.phases[step.op], got)
		r.add("manager "+step.op, got["total"])
	}
}

func (r *benchRuns) kubectl(b *testing.B, ctx context.Context, platform map[string]any, launch string) {
	b.Helper()
	ns, _ := platform[stacks.OutNamespace].(string)
	render := func(image string) []kubetier.Object {
		b.StopTimer()
		defer b.StartTimer()
		return kubetier.Program(b, stacks.PreviewProject, stacks.Preview, map[string]string{
			"launch": launch, "image": image, "replicas": "2",
		}, platform)
	}
	rollout := func(objs []kubetier.Object) time.Duration {
		start := time.Now()
		require.NoError(b, kubetier.Apply(ctx, objs))
		_, err := kubetier.Kubectl(ctx, nil, "rollout", "status", "deployment/preview-"+launch, "-n", ns, "--timeout=120s")
		require.NoError(b, err)
		return time.Since(start)
	}
	r.add("kubectl create", rollout(render("registry.test/apps/web:1")))
	objs := render("registry.test/apps/web:2")
	r.add("kubectl update", rollout(objs))
	start := time.Now()
	require.NoError(b, kubetier.Delete(ctx, objs))
	r.add("kubectl destroy", time.Since(start))
}

func (r *benchRuns) http(b *testing.B, a *api, launch string) {
	b.Helper()
	for _, step := range []struct{ op, method string }{{"create", http.MethodPut}, {"destroy", http.MethodDelete}} {
		var body any
		if step.method == http.MethodPut {
			body = map[string]any{"image": "registry.test/apps/web:1", "replicas": 2}
		}
		start := time.Now()
		code, accepted := a.do(b, step.method, "/v1/previews/"+launch, body)
		require.Equal(b, http.StatusAccepted, code, "%v", accepted)
		op := a.waitStream(b, accepted)
		r.add("http "+step.op, time.Since(start))
		require.Equal(b, queue.StatusSucceeded, op["status"], "%v", op["reason"])
	}
}

func (r *benchRuns) cli(b *testing.B, ctx context.Context, run func(context.Context, ...string) error, launch string) {
	b.Helper()
	start := time.Now()
	require.NoError(b, run(ctx, "preview", "up", "--launch", launch, "--image", "registry.test/apps/web:1", "--replicas", "2"))
	r.add("cli create", time.Since(start))
	start = time.Now()
	require.NoError(b, run(ctx, "preview", "destroy", launch))
	r.add("cli destroy", time.Since(start))
}

// report gives each path's median per operation, the ratios to kubectl,
// and the Manager's breakdown.
func (r *benchRuns) report(b *testing.B) {
	med := func(key string) float64 {
		vs := append([]time.Duration(nil), r.wall[key]...)
		sort.Slice(vs, func(i, j int) bool { return vs[i] < vs[j] })
		return vs[len(vs)/2].Seconds()
	}
	for _, op := range []string{"create", "update", "destroy"} {
		b.ReportMetric(med("manager "+op), "manager-"+op+"-s")
		b.ReportMetric(med("kubectl "+op), "kubectl-"+op+"-s")
		b.ReportMetric(med("manager "+op)/med("kubectl "+op), op+"-ratio")
		logPhases(b, op, medians(r.phases[op]))
	}
	for _, k := range []string{"http create", "http destroy", "cli create", "cli destroy"} {
		b.ReportMetric(med(k), strings.ReplaceAll(k, " ", "-")+"-s")
	}
	keys := make([]string, 0, len(r.wall))
	for k := range r.wall {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var s strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&s, "| %s | %.2f s | %v |\n", k, med(k), r.wall[k])
	}
	b.Logf("medians (all runs):\n%s", s.String())
}

// cliRunner runs apphubctl, a process per call as the catalog's shell-out
// would, on the tier's backend and platform stack.
func (e *env) cliRunner(b *testing.B) func(context.Context, ...string) error {
	bin := buildApphubctl(b, e)
	state := b.TempDir()
	return func(ctx context.Context, args ...string) error {
		cmd := exec.CommandContext(ctx, bin, append([]string{"--state-dir", state, "--backend-url", "file://" + e.state,
			"--project-dir", e.project, "--platform-stack", e.stack, "--skip-plugin-install", "-q"}, args...)...)
		cmd.Env = append(os.Environ(), "PULUMI_HOME="+e.home, "PULUMI_CONFIG_PASSPHRASE="+passphrase,
			"PATH="+filepath.Join(e.root, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apphubctl %s: %w\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	}
}
