//go:build e2e

// The end-to-end tier: the platform through `pulumi up` of main.go (CLI,
// Go language host, real kubernetes/random/command providers, Redis and
// both ARC charts from local archives) on the cluster of $KUBECONFIG, then
// previews and builds through the Manager and the HTTP API, then platform
// destroy, checking the API server after every step (Pulumi's ProgramTest
// pattern). Whatever a step leaves, the cleanup destroys.

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/automation"
)

func TestPlatformPreviewsAndBuilds(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Minute)
	defer cancel()
	e.writeProject(t, e.platformConfig())
	_, err := e.cli(ctx, t, "stack", "init")
	require.NoError(t, err)
	e.setSecret(ctx, t, "arcGithubAppId", "123456")
	e.setSecret(ctx, t, "arcGithubAppInstallationId", "7890123")
	e.setSecret(ctx, t, "arcGithubAppPrivateKey", throwawayAppKey(t))
	e.setSecret(ctx, t, "serviceToken", apiToken)
	e.setSecret(ctx, t, "servicePassphrase", passphrase)
	m := e.manager(t)
	t.Cleanup(func() { e.teardown(t, m) })

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"platform up through the CLI", func(t *testing.T) { platformUp(ctx, t, e) }},
		{"no changes, refresh, no changes", func(t *testing.T) { platformIdempotent(ctx, t, e, m) }},
		{"catalog env", func(t *testing.T) { catalogEnv(ctx, t, m) }},
		{"platform status names what kwok cannot run", func(t *testing.T) { statusOnKwok(ctx, t, m) }},
		{"previews through the Manager", func(t *testing.T) { previewLifecycle(ctx, t, m, "e2e-m") }},
		{"a retried create applies as the same field manager", func(t *testing.T) { retriedCreate(ctx, t, e, m) }},
		{"previews through the HTTP API", func(t *testing.T) { previewOverHTTP(ctx, t, e, m) }},
		{"three replicas on one PostgreSQL queue", func(t *testing.T) { replicasOnPostgres(ctx, t, e, m) }},
		{"builds", func(t *testing.T) { builds(ctx, t, m) }},
		{"the in-cluster service's command line and identity", func(t *testing.T) { inClusterService(ctx, t, e) }},
		{"oversized requests refused up front", func(t *testing.T) { oversized(ctx, t, m) }},
		{"a preview the quota cannot fit refused at once", func(t *testing.T) { quotaFull(ctx, t, m) }},
		{"build digest with the kubeconfig as a path or contents", func(t *testing.T) { digests(ctx, t, e) }},
		{"bad platform config creates nothing", func(t *testing.T) { badPlatformConfig(ctx, t, e) }},
		{"platform destroy leaves nothing", func(t *testing.T) { platformDestroy(ctx, t, e) }},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			t.FailNow() // later steps build on this one; the cleanup still runs
		}
	}
}

func platformUp(ctx context.Context, t *testing.T, e *env) {
	out, err := e.cli(ctx, t, "up", "--yes", "--skip-preview")
	require.NoError(t, err)
	assert.NotContains(t, out, "Service registry creating (10s)", "the registry Service must not wait for endpoints")

	for _, ns := range []string{"apphub", "apphub-builds", "apphub-system", "arc-systems", "arc-runners"} {
		assert.Equal(t, "Active", kubectl(t, "get", "ns", ns, "-o", "jsonpath={.status.phase}"), ns)
		assert.Equal(t, "apphub", kubectl(t, "get", "ns", ns, "-o", "jsonpath={.metadata.labels.app\\.kubernetes\\.io/part-of}"), ns)
	}
	assert.Equal(t, "restricted", kubectl(t, "get", "ns", "arc-systems", "-o", "jsonpath={.metadata.labels.pod-security\\.kubernetes\\.io/enforce}"))
	assert.Equal(t, "1", kubectl(t, "get", "deploy", "-n", "apphub-system", "apphub-registry", "-o", "jsonpath={.status.availableReplicas}"))
	assert.Equal(t, "true", kubectl(t, "get", "svc", "-n", "apphub-system", "apphub-registry", "-o", "jsonpath={.metadata.annotations.pulumi\\.com/skipAwait}"))
	assert.Equal(t, "1", kubectl(t, "get", "statefulset", "-n", "apphub-system", "apphub-redis-master", "-o", "jsonpath={.status.readyReplicas}"),
		"Redis from the local chart archive")
	// The controller's pod was admitted under Pod Security "restricted".
	assert.Equal(t, "1", kubectl(t, "get", "deploy", "-n", "arc-systems", "arc-gha-rs-controller", "-o", "jsonpath={.status.availableReplicas}"))
	assert.Equal(t, "true", kubectl(t, "get", "pods", "-n", "arc-systems", "-l", "app.kubernetes.io/name=gha-rs-controller",
		"-o", "jsonpath={.items[0].spec.securityContext.runAsNonRoot}"))
	for _, crd := range []string{"autoscalingrunnersets", "ephemeralrunnersets", "ephemeralrunners", "autoscalinglisteners"} {
		assert.NotEmpty(t, kubectl(t, "get", "crd", crd+".actions.github.com", "-o", "name"), crd)
	}
	ars := kubectl(t, "get", "autoscalingrunnersets.actions.github.com", "-n", "arc-runners", "apphub-runners",
		"-o", "jsonpath={.spec.githubConfigUrl} {.spec.githubConfigSecret} {.spec.minRunners} {.spec.maxRunners}")
	assert.Equal(t, "https://github.com/apphub-e2e apphub-runners-github-app 1 5", ars)
	assert.Equal(t, "buildkitd", kubectl(t, "get", "autoscalingrunnersets.actions.github.com", "-n", "arc-runners", "apphub-runners",
		"-o", "jsonpath={.spec.template.spec.initContainers[0].name}"))
	assert.Equal(t, "Opaque", kubectl(t, "get", "secret", "-n", "arc-runners", "apphub-runners-github-app", "-o", "jsonpath={.type}"))
	apiServiceUp(ctx, t, e)
}

func platformIdempotent(ctx context.Context, t *testing.T, e *env, m *automation.Manager) {
	_, err := e.cli(ctx, t, "preview", "--expect-no-changes")
	require.NoError(t, err, "a second preview of main.go right after up must show no changes")
	_, err = e.cli(ctx, t, "refresh", "--yes", "--skip-preview")
	require.NoError(t, err)
	_, err = e.cli(ctx, t, "preview", "--expect-no-changes")
	require.NoError(t, err, "refresh must not make the program disagree with the cluster")
	// The inline program of `apphubctl platform up` is the same program.
	res, err := m.PlatformUp(ctx)
	require.NoError(t, err)
	for op, n := range res.LastUpdate.Changes {
		assert.Equal(t, "same", op, "inline platform up after the CLI's changes nothing (%d %s)", n, op)
	}
}

// statusOnKwok: on kwok no ARC controller reconciles, so no listener and
// no runner ever appear; everything else is up.
func statusOnKwok(ctx context.Context, t *testing.T, m *automation.Manager) {
	s, err := m.PlatformStatus(ctx)
	require.Error(t, err)
	assert.True(t, automation.IsFailed(err), "%v", err)
	assert.Equal(t, []string{"arc listener", "arc runners"}, s.Down, "%+v", s.Checks)
	names := map[string]string{}
	for _, c := range s.Checks {
		names[c.Name] = c.Detail
	}
	assert.Equal(t, "0 running, bounds 1-5", names["arc runners"])
	assert.Equal(t, "Deployment apphub-api 2/2 ready", names["api service"])
	assert.Contains(t, names["registry"], "Deployment apphub-registry 1/1 ready")
	assert.Positive(t, s.PreviewsThatFit)
}

func catalogEnv(ctx context.Context, t *testing.T, m *automation.Manager) {
	vars, err := m.PlatformEnv(ctx)
	require.NoError(t, err)
	got := map[string]string{}
	for _, v := range vars {
		got[v.Name] = v.Value
	}
	assert.Equal(t, "apphub", got["APPHUB_K8S_NAMESPACE"])
	assert.Equal(t, "apphub-builder", got["APPHUB_K8S_BUILDER_SERVICE_ACCOUNT"])
	assert.Equal(t, "apphub-preview", got["APPHUB_K8S_LAUNCH_SERVICE_ACCOUNT"])
	assert.Equal(t, "60", got["APPHUB_K8S_BUILD_TIMEOUT_SECONDS"], "the stack's value")
	assert.Equal(t, "http://{launch}.preview.e2e.local", got["APPHUB_K8S_PREVIEW_URL_TEMPLATE"])
	assert.Equal(t, "traefik", got["APPHUB_K8S_INGRESS_CLASS"])
	assert.Equal(t, "redis://apphub-redis-master.apphub-system.svc.cluster.local:6379/0", got["REDIS_URL"])
	// The platform's Service the URL names exists.
	assert.NotEmpty(t, kubectl(t, "get", "svc", "-n", "apphub-system", "apphub-redis-master", "-o", "name"))
}

// previewLifecycle: create, update, no-op update and destroy of one launch.
func previewLifecycle(ctx context.Context, t *testing.T, m *automation.Manager, launch string) {
	spec := automation.PreviewSpec{Launch: launch, Image: "registry.test/apps/web:1", Replicas: ptr(2)}
	p, err := m.PreviewUp(ctx, spec)
	require.NoError(t, err)
	assert.Equal(t, "http://"+launch+".preview.e2e.local", p.URL)
	name := "preview-" + launch
	assert.Equal(t, "2", kubectl(t, "get", "deploy", "-n", "apphub", name, "-o", "jsonpath={.status.readyReplicas}"))
	assert.Equal(t, launch+".preview.e2e.local", kubectl(t, "get", "ingress", "-n", "apphub", name, "-o", "jsonpath={.spec.rules[0].host}"))
	assert.Equal(t, "127.0.0.1", kubectl(t, "get", "ingress", "-n", "apphub", name, "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}"))
	assert.NotEmpty(t, kubectl(t, "get", "networkpolicy", "-n", "apphub", "-l", "apphub.io/launch="+launch, "-o", "name"))

	spec.Image = "registry.test/apps/web:2"
	_, err = m.PreviewUp(ctx, spec)
	require.NoError(t, err)
	assert.Equal(t, "registry.test/apps/web:2", kubectl(t, "get", "deploy", "-n", "apphub", name, "-o", "jsonpath={.spec.template.spec.containers[0].image}"))
	assert.Equal(t, "2", kubectl(t, "get", "deploy", "-n", "apphub", name, "-o", "jsonpath={.status.updatedReplicas}"))

	again, err := m.PreviewUp(ctx, spec)
	require.NoError(t, err)
	for op, n := range again.LastUpdate.Changes {
		assert.Equal(t, "same", op, "the same spec changes nothing (%d %s)", n, op)
	}

	_, err = m.PreviewDestroy(ctx, launch)
	require.NoError(t, err)
	assert.Empty(t, kubectl(t, "get", "deploy,svc,ingress,networkpolicy", "-n", "apphub", "-l", "apphub.io/launch="+launch, "-o", "name"))
	_, err = m.PreviewGet(ctx, launch)
	assert.True(t, automation.IsNotFound(err), "the stack is removed with the preview: %v", err)
}

func builds(ctx context.Context, t *testing.T, m *automation.Manager) {
	b, err := m.BuildRun(ctx, automation.BuildSpec{ID: "e2e-ok", GitURL: "https://github.com/acme/web.git", ImageRepository: "apps/web", ImageTag: "1"})
	require.NoError(t, err)
	assert.Equal(t, automation.StateSucceeded, b.State)
	// Pods pull through the NodePort; the Job pushes to the Service.
	assert.Equal(t, "localhost:30500/apps/web:1", strings.SplitN(b.Image, "@", 2)[0])
	job := kubectl(t, "get", "job", "-n", "apphub-builds", "build-e2e-ok", "-o", "json")
	assert.Contains(t, job, "apphub-registry.apphub-system.svc.cluster.local:5000/apps/web:1")
	assert.Equal(t, "True", kubectl(t, "get", "job", "-n", "apphub-builds", "build-e2e-ok", "-o", `jsonpath={.status.conditions[?(@.type=="Complete")].status}`))
	assert.Equal(t, "apphub-builder", kubectl(t, "get", "job", "-n", "apphub-builds", "build-e2e-ok", "-o", "jsonpath={.spec.template.spec.serviceAccountName}"))

	// A build the cluster cannot start: its namespace's pod quota is used
	// up. The Job's deadline ends it; the reason must say why.
	quota := `{"apiVersion":"v1","kind":"ResourceQuota","metadata":{"name":"e2e-no-pods","namespace":"apphub-builds"},"spec":{"hard":{"pods":"0"}}}`
	kubectlIn(t, quota, "apply", "-f", "-")
	defer kubectl(t, "delete", "resourcequota", "-n", "apphub-builds", "e2e-no-pods", "--ignore-not-found")
	start := time.Now()
	_, err = m.BuildRun(ctx, automation.BuildSpec{ID: "e2e-quota", GitURL: "https://github.com/acme/web.git", ImageRepository: "apps/web", ImageTag: "2"})
	require.Error(t, err)
	assert.True(t, automation.IsFailed(err), "%v", err)
	assert.Contains(t, err.Error(), "exceeded quota: e2e-no-pods", "the reason names the real cause")
	assert.Less(t, time.Since(start), 3*time.Minute)
}

// oversized: requests above the platform's LimitRange maximum are refused
// before any stack or object exists (the cluster would forbid every pod
// and the update would only time out).
func oversized(ctx context.Context, t *testing.T, m *automation.Manager) {
	_, err := m.PreviewUp(ctx, automation.PreviewSpec{Launch: "e2e-big", Image: "registry.test/apps/web:1", MemoryLimit: "9Gi"})
	require.Error(t, err)
	assert.True(t, automation.IsInvalid(err), "%v", err)
	assert.Contains(t, err.Error(), "memoryLimit: 9Gi exceeds the platform's maximum per container (containerMaxMemory 8Gi)")
	_, err = m.PreviewGet(ctx, "e2e-big")
	assert.True(t, automation.IsNotFound(err), "no stack: %v", err)
	assert.Empty(t, kubectl(t, "get", "deploy,svc,ingress,networkpolicy", "-n", "apphub", "-l", "apphub.io/launch=e2e-big", "-o", "name"))

	_, err = m.BuildRun(ctx, automation.BuildSpec{ID: "e2e-big", GitURL: "https://github.com/acme/web.git", ImageRepository: "apps/web", ImageTag: "1", CPULimit: "5"})
	require.Error(t, err)
	assert.True(t, automation.IsInvalid(err), "%v", err)
	assert.Contains(t, err.Error(), "cpuLimit: 5 exceeds the platform's maximum per container (containerMaxCpu 4)")
	assert.Empty(t, kubectl(t, "get", "job", "-n", "apphub-builds", "build-e2e-big", "--ignore-not-found", "-o", "name"))
}

// quotaFull: a preview the namespace's ResourceQuota cannot fit is refused
// at once, naming the quota's figures, instead of waiting out the await.
func quotaFull(ctx context.Context, t *testing.T, m *automation.Manager) {
	quota := `{"apiVersion":"v1","kind":"ResourceQuota","metadata":{"name":"e2e-full","namespace":"apphub"},"spec":{"hard":{"limits.cpu":"1m"}}}`
	kubectlIn(t, quota, "apply", "-f", "-")
	defer kubectl(t, "delete", "resourcequota", "-n", "apphub", "e2e-full", "--ignore-not-found")
	require.Eventually(t, func() bool {
		return kubectl(t, "get", "resourcequota", "-n", "apphub", "e2e-full", "-o", "jsonpath={.status.hard.limits\\.cpu}") != ""
	}, time.Minute, 200*time.Millisecond, "the quota controller fills in the quota's status")
	start := time.Now()
	_, err := m.PreviewUp(ctx, automation.PreviewSpec{Launch: "e2e-full", Image: "registry.test/apps/web:1"})
	require.Error(t, err)
	assert.True(t, automation.IsQuota(err), "%v", err)
	assert.Contains(t, err.Error(), "e2e-full: limits.cpu requested 500m, used 0, hard 1m")
	assert.Less(t, time.Since(start), 15*time.Second, "refused at once, not after the await")
	_, err = m.PreviewGet(ctx, "e2e-full")
	assert.True(t, automation.IsNotFound(err), "no stack: %v", err)
}

func platformDestroy(ctx context.Context, t *testing.T, e *env) {
	out, err := e.cli(ctx, t, "destroy", "--yes", "--skip-preview")
	require.NoError(t, err)
	// On kwok the controller never reconciles, so the guard must say it
	// removed the finalizers, and name them.
	assert.Contains(t, out, "did not clear them within 15s (it is not reconciling); removing them")
	assert.Contains(t, out, "removed actions.github.com/cleanup-protection from roles.rbac.authorization.k8s.io arc-runners/apphub-runners-gha-rs-manager")
	assertNothingLeft(t)
}

// assertNothingLeft checks that no object labelled as ours and none of the
// platform's namespaces remain.
func assertNothingLeft(t *testing.T) {
	t.Helper()
	assert.Empty(t, kubectl(t, "get", "ns", "-l", "app.kubernetes.io/part-of=apphub", "-o", "name"), "namespaces")
	for _, ns := range []string{"apphub", "apphub-builds", "apphub-system", "arc-systems", "arc-runners"} {
		assert.Empty(t, kubectl(t, "get", "ns", ns, "--ignore-not-found", "-o", "name"), ns)
	}
	assert.Empty(t, kubectl(t, "get", "clusterroles,clusterrolebindings", "-l", "app.kubernetes.io/part-of=apphub", "-o", "name"))
	assert.Empty(t, kubectl(t, "get", "clusterroles,clusterrolebindings", "-l", "app.kubernetes.io/managed-by=Helm", "-o", "name"),
		"the charts' cluster-scoped RBAC goes with their releases")
}
