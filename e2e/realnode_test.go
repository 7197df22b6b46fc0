//go:build e2e && realnode

// The real-node tier: the platform through `pulumi up` of main.go with its
// preview and build namespaces on the real node of ../shared/kube/node and
// that node's registry, then previews through the HTTP API that really run:
// pulled, probed, served by the ingress, rolled out and removed, and the
// failures a real kubelet reports.

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/automation"
	"github.com/apphub/apphub-infra/internal/testing/testca"
	"github.com/apphub/apphub-infra/queue"
)

// realNodeReadyTimeout is the previews' progress deadline in this tier:
// longer than the slow app's 40 s, short enough for the never-ready app.
const realNodeReadyTimeout = 75 * time.Second

func TestRealNode(t *testing.T) {
	e := newEnv(t)
	node := requireRealNode(t, e)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Minute)
	defer cancel()
	ca := testca.New(t)
	e.writeProject(t, e.realNodeConfig(realNodeReadyTimeout, ca.CertPEM))
	_, err := e.cli(ctx, t, "stack", "init")
	require.NoError(t, err)
	m := e.manager(t)
	t.Cleanup(func() { e.teardown(t, m) })
	v1, v2 := node.pushApp(t, e, "v1"), node.pushApp(t, e, "v2")
	a := startAPI(t, e, m)

	runSteps(t, []step{
		{"platform up with previews and builds on the real node", func(t *testing.T) { realNodePlatformUp(ctx, t, e, m) }},
		{"a preview answers, rolls out without a failed request, and goes", func(t *testing.T) { previewAnswers(t, a, v1, v2) }},
		{"what a real kubelet reports ends the update, a slow app is waited for", func(t *testing.T) { kubeletVerdicts(t, a, v1) }},
		{"a build from HTTPS git with a private CA, then its preview", func(t *testing.T) { buildToPreview(t, a, node, e, ca) }},
		platformDestroyStep(ctx, e),
	})
}

// step is one stage of a tier's test; a failed one ends the test.
type step struct {
	name string
	run  func(t *testing.T)
}

func runSteps(t *testing.T, steps []step) {
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			t.FailNow()
		}
	}
}

func platformDestroyStep(ctx context.Context, e *env) step {
	return step{"platform destroy leaves nothing", func(t *testing.T) {
		_, err := e.cli(ctx, t, "destroy", "--yes", "--skip-preview")
		require.NoError(t, err)
		assertNothingLeft(t)
	}}
}

func realNodePlatformUp(ctx context.Context, t *testing.T, e *env, m *automation.Manager) {
	_, err := e.cli(ctx, t, "up", "--yes", "--skip-preview")
	require.NoError(t, err)
	for _, ns := range []string{"apphub", "apphub-builds"} {
		// The node's webhook labels a namespace it steers.
		assert.Equal(t, "real", kubectl(t, "get", "ns", ns, "-o", `jsonpath={.metadata.labels.apphub\.test/node}`), ns)
	}
	assert.Equal(t, "apphub-build-ca", kubectl(t, "get", "configmap", "-n", "apphub-builds", "apphub-build-ca", "-o", "name")[len("configmap/"):])
	// What a platform engineer checks first: everything up, the node's
	// registry answering, room for previews.
	s, err := m.PlatformStatus(ctx)
	require.NoError(t, err, "%+v", s)
	names := map[string]string{}
	for _, c := range s.Checks {
		names[c.Name] = c.Detail
	}
	assert.Equal(t, "http://"+realNodeRegistry+"/v2/ answered 200 OK", names["registry"])
	assert.Contains(t, names["cluster"], "Kubernetes v1.34.1")
	assert.Equal(t, "StatefulSet apphub-buildkitd 1/1 ready", names["builder"], "the persistent builder is up")
	assert.Positive(t, s.PreviewsThatFit)
}

// previewAnswers: create, update and destroy through the HTTP API, with a
// user's requests at the URL throughout.
func previewAnswers(t *testing.T, a *api, v1, v2 string) {
	const launch = "rn-app"
	host := launch + ".preview.realnode.test"
	spec := map[string]any{"image": v1, "port": 8080, "healthPath": "/healthz", "replicas": 1}

	created := startProber(host, "/")
	code, body := a.do(t, http.MethodPut, "/v1/previews/"+launch, spec)
	require.Equal(t, http.StatusAccepted, code, "%v", body)
	op := a.waitStream(t, body)
	opTime := time.Since(created.start)
	require.Equal(t, queue.StatusSucceeded, op["status"], "%v", op["reason"])
	require.True(t, created.waitFor(func() bool { return created.untilOK() > 0 }, 30*time.Second), "the preview never answered at its URL: %v", created.tally())
	created.finish()
	t.Logf("lead time: preview create -> operation succeeded %.2fs, -> first 200 at its URL %.2fs", opTime.Seconds(), created.untilOK().Seconds())

	code, got, err := viaIngress(host, "/deep/link")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, appAnswer{Version: "v1", Launch: launch, PublicURL: "http://" + host, BasePath: "/", Host: host, Path: "/deep/link"}, *got,
		"the app sees its URL, base path and the request as the user sent it")
	sel := "apphub.io/launch=" + launch
	assert.Equal(t, realNodeName, kubectl(t, "get", "pods", "-n", "apphub", "-l", sel, "-o", "jsonpath={.items[*].spec.nodeName}"))
	oldPod := kubectl(t, "get", "pods", "-n", "apphub", "-l", sel, "-o", "jsonpath={.items[0].metadata.name}")

	// The rollout to v2: a request every 10 ms, none may fail.
	rollout := startProber(host, "/")
	require.True(t, rollout.waitFor(func() bool { return rollout.seen("v1") }, 10*time.Second))
	spec["image"] = v2
	code, body = a.do(t, http.MethodPut, "/v1/previews/"+launch, spec)
	require.Equal(t, http.StatusAccepted, code, "%v", body)
	op = a.waitStream(t, body)
	require.Equal(t, queue.StatusSucceeded, op["status"], "%v", op["reason"])
	out := kubectl(t, "wait", "--for=delete", "pod/"+oldPod, "-n", "apphub", "--timeout=120s")
	require.True(t, rollout.waitFor(func() bool { return rollout.seen("v2") }, 10*time.Second), "v2 never answered (%s)", out)
	rollout.finish()
	assert.Empty(t, rollout.failures, "no request failed during the rollout (%d requests, codes %v)", rollout.total(), rollout.codes)
	t.Logf("rollout v1 -> v2: %d requests, %v, failed %d", rollout.total(), rollout.versions, len(rollout.failures))
	code, got, err = viaIngress(host, "/")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "v2", got.Version)

	destroyed := time.Now()
	code, body = a.do(t, http.MethodDelete, "/v1/previews/"+launch, nil)
	require.Equal(t, http.StatusAccepted, code, "%v", body)
	require.Equal(t, queue.StatusSucceeded, a.waitStream(t, body)["status"])
	t.Logf("preview destroy: %.2fs", time.Since(destroyed).Seconds())
	assert.Empty(t, kubectl(t, "get", "deploy,rs,pods,svc,ingress,networkpolicy,endpointslices", "-n", "apphub", "-l", sel, "-o", "name"),
		"the destroy returns once nothing of the preview is left")
	gone := startProber(host, "/")
	assert.True(t, gone.waitFor(func() bool { return gone.lastCode() == http.StatusNotFound }, 10*time.Second), "the ingress answers 404: %v", gone.tally())
	gone.finish()
}

// verdict is one preview the kubelet decides about.
type verdict struct {
	launch string
	env    map[string]string
	image  string
	ok     bool
	reason []string // what the failure must say
}

// kubeletVerdicts runs the failure cases and the slow app side by side;
// each must end as the kubelet's state says, fast, saying why.
func kubeletVerdicts(t *testing.T, a *api, v1 string) {
	missing := realNodeRegistry + "/apphub-e2e/previewapp:does-not-exist"
	cases := []verdict{
		{launch: "rn-missing", image: missing, reason: []string{"ImagePull", "does-not-exist"}},
		{launch: "rn-crash", image: v1, env: map[string]string{"EXIT_CODE": "3"}, reason: []string{"exit code 3"}},
		{launch: "rn-never", image: v1, env: map[string]string{"NEVER_READY": "1"},
			reason: []string{"ProgressDeadlineExceeded", "Readiness probe failed: HTTP probe failed with statuscode: 503"}},
		{launch: "rn-slow", image: v1, env: map[string]string{"READY_AFTER_SECONDS": "40"}, ok: true},
	}
	type result struct {
		op      map[string]any
		elapsed time.Duration
	}
	results := make([]chan result, len(cases))
	for i, c := range cases {
		results[i] = make(chan result, 1)
		go func() {
			start := time.Now()
			spec := map[string]any{"image": c.image, "port": 8080, "healthPath": "/healthz", "replicas": 1}
			if c.env != nil {
				spec["env"] = c.env
			}
			code, body := a.do(t, http.MethodPut, "/v1/previews/"+c.launch, spec)
			if code != http.StatusAccepted {
				results[i] <- result{op: map[string]any{"status": "refused", "reason": fmt.Sprintf("HTTP %d: %v", code, body)}}
				return
			}
			results[i] <- result{op: a.waitStream(t, body), elapsed: time.Since(start)}
		}()
	}
	for i, c := range cases {
		r := <-results[i]
		reason, _ := r.op["reason"].(string)
		t.Logf("%s: %s after %.1fs: %s", c.launch, r.op["status"], r.elapsed.Seconds(), reason)
		if c.ok {
			assert.Equal(t, queue.StatusSucceeded, r.op["status"], "%s: %s", c.launch, reason)
			assert.GreaterOrEqual(t, r.elapsed, 40*time.Second, "the app was not ready before 40 s: the probe gates it")
		} else {
			assert.Equal(t, queue.StatusFailed, r.op["status"], c.launch)
			for _, want := range c.reason {
				assert.Contains(t, reason, want, c.launch)
			}
			assert.Less(t, r.elapsed, 3*time.Minute, "%s ends well before the provider's 10-minute await", c.launch)
		}
		code, body := a.do(t, http.MethodDelete, "/v1/previews/"+c.launch, nil)
		require.Equal(t, http.StatusAccepted, code, "%v", body)
		assert.Equal(t, queue.StatusSucceeded, a.waitStream(t, body)["status"], c.launch)
	}
	assert.Empty(t, strings.TrimSpace(kubectl(t, "get", "deploy,pods", "-n", "apphub", "-o", "name")))
}
