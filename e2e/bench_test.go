//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/automation"
	"github.com/apphub/apphub-infra/internal/testing/kubetier"
	"github.com/apphub/apphub-infra/stacks"
)

// BenchmarkPulumiPreviewOnCluster compares, in one run on one cluster, a
// preview created by the full `pulumi up` (Manager, engine, kubernetes
// provider and its await logic) with the same objects applied by
// `kubectl apply --server-side` and `kubectl rollout status`. It needs the
// provider plugins and skips, saying which, without them.
//
//	go test -tags e2e -run '^$' -bench PulumiPreviewOnCluster -benchtime 3x ./e2e
func BenchmarkPulumiPreviewOnCluster(b *testing.B) {
	e := newEnv(b)
	e.writeProject(b, withoutService(withoutARC(e.platformConfig())))
	m := e.manager(b)
	ctx := context.Background()
	platform, err := m.PlatformUp(ctx)
	require.NoError(b, err)
	b.Cleanup(func() { _, _ = m.PlatformDestroy(context.Background()) })
	ns, _ := platform.Outputs[stacks.OutNamespace].(string)

	var viaPulumi, viaKubectl time.Duration
	i := 0
	for b.Loop() {
		i++
		spec := automation.PreviewSpec{Launch: fmt.Sprintf("bench-p-%d", i), Image: "registry.test/apps/web:1", Replicas: ptr(2)}
		start := time.Now()
		_, err := m.PreviewUp(ctx, spec)
		require.NoError(b, err)
		viaPulumi += time.Since(start)

		b.StopTimer()
		objs := kubetier.Program(b, stacks.PreviewProject, stacks.Preview, map[string]string{
			"launch": fmt.Sprintf("bench-k-%d", i), "image": spec.Image, "replicas": "2",
		}, platform.Outputs)
		b.StartTimer()
		start = time.Now()
		require.NoError(b, kubetier.Apply(ctx, objs))
		_, err = kubetier.Kubectl(ctx, nil, "rollout", "status", fmt.Sprintf("deployment/preview-bench-k-%d", i), "-n", ns, "--timeout=120s")
		require.NoError(b, err)
		viaKubectl += time.Since(start)

		b.StopTimer()
		_, err = m.PreviewDestroy(ctx, spec.Launch)
		require.NoError(b, err)
		require.NoError(b, kubetier.Delete(ctx, objs))
		b.StartTimer()
	}
	b.ReportMetric(viaPulumi.Seconds()/float64(i), "pulumi-s/preview")
	b.ReportMetric(viaKubectl.Seconds()/float64(i), "kubectl-s/preview")
	b.ReportMetric(viaPulumi.Seconds()/viaKubectl.Seconds(), "ratio")
}
