//go:build cluster

package kubetier

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apphub/apphub-infra/stacks"
)

// BenchmarkPreviewCreateOnCluster compares, in one run on one cluster, a
// preview created our way with the same objects applied the plain kubectl
// way:
//
//   - ours: the preview program evaluated (under mocks, standing in for
//     the engine: no provider plugin here), its objects server-side applied
//     under Pulumi's field manager as the cluster tier applies them, then
//     the conditions pulumi-kubernetes awaits, checked in-process as the
//     provider does (Deployment rollout, Ingress address and backend
//     endpoints);
//   - kubectl: `kubectl apply --server-side` of those objects and
//     `kubectl rollout status`.
//
// With the provider plugin, e2e's BenchmarkPulumiPreviewOnCluster measures
// the full `pulumi up` against kubectl the same way.
//
//	APPHUB_CLUSTER_TESTS=1 go test -tags cluster -run '^$' -bench PreviewCreateOnCluster ./internal/testing/kubetier
func BenchmarkPreviewCreateOnCluster(b *testing.B) {
	requireCluster(b)
	ctx := context.Background()
	values := StackFile(b, root(b), "dev")
	platform, outputs := Platform(b, values, nil)
	b.Cleanup(func() { cleanup(b, platform) })
	if err := Apply(ctx, platform); err != nil {
		b.Fatal(err)
	}
	ns, _ := outputs[stacks.OutNamespace].(string)
	client, err := Client()
	if err != nil {
		b.Fatal(err)
	}
	render := func(launch string) []Object {
		return Program(b, stacks.PreviewProject, stacks.Preview, map[string]string{
			"launch": launch, "image": "r.test/apps/web:1", "replicas": "2",
		}, outputs)
	}
	var ours, plain time.Duration
	i := 0
	for b.Loop() {
		i++
		start := time.Now()
		objs := render(fmt.Sprintf("ours-%d", i))
		if err := Apply(ctx, objs); err != nil {
			b.Fatal(err)
		}
		if err := AwaitLikePulumi(ctx, client, objs, 60*time.Second); err != nil {
			b.Fatal(err)
		}
		ours += time.Since(start)

		b.StopTimer()
		same := render(fmt.Sprintf("kubectl-%d", i))
		b.StartTimer()
		start = time.Now()
		if err := Apply(ctx, same); err != nil {
			b.Fatal(err)
		}
		if _, err := Kubectl(ctx, nil, "rollout", "status", "deployment/preview-kubectl-"+fmt.Sprint(i), "-n", ns, "--timeout=60s"); err != nil {
			b.Fatal(err)
		}
		plain += time.Since(start)

		b.StopTimer()
		if err := Delete(ctx, append(objs, same...)); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(ours.Seconds()/float64(i), "ours-s/preview")
	b.ReportMetric(plain.Seconds()/float64(i), "kubectl-s/preview")
	b.ReportMetric(ours.Seconds()/plain.Seconds(), "ratio")
}
