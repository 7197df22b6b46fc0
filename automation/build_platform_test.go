//go:build clitest

package automation

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/internal/testing/testprograms"
)

func TestPlatformUpEnvAndBuildDigest(t *testing.T) {
	t.Parallel()
	digest := &fakeDigest{}
	m := newTestManager(t, func(o *Options) { o.DigestReader = digest })
	ctx := t.Context()

	_, err := m.PlatformEnv(ctx)
	assert.True(t, IsNotFound(err), "no platform yet: %v", err)

	p, err := m.PlatformUp(ctx)
	require.NoError(t, err)
	assert.Equal(t, "[secret]", p.Outputs["redisUrl"], "secrets are masked in results")
	assert.Equal(t, "apphub", p.Outputs["namespace"])

	vars, err := m.PlatformEnv(ctx)
	require.NoError(t, err)
	got := map[string]string{}
	for _, v := range vars {
		got[v.Name] = v.Value
	}
	assert.Equal(t, "apphub", got["APPHUB_K8S_NAMESPACE"])
	assert.Equal(t, "900", got["APPHUB_K8S_BUILD_TIMEOUT_SECONDS"])
	assert.Equal(t, "redis://:s3cret@redis:6379/0", got["REDIS_URL"], "env lines carry the real value")
	assert.Equal(t, "kubernetes", got["APPHUB_BUILD_EXECUTION_MODE"])

	res, err := m.BuildRun(ctx, BuildSpec{ID: "b-1", GitURL: "https://git.test/acme/web.git", GitRef: "main", ImageRepository: "apps/web", ImageTag: "abc"})
	require.NoError(t, err)
	assert.Equal(t, StateSucceeded, res.State)
	assert.Equal(t, "registry.test:5000/apps/web:abc@sha256:"+strings.Repeat("0", 63)+"7", res.Image, "pinned by the digest the build reported")
	assert.Equal(t, []string{"k3d-test apphub-builds/build-b-1 kubeconfig=false"}, digest.calls, "the Manager's own connection")

	got2, err := m.BuildGet(ctx, "b-1")
	require.NoError(t, err)
	assert.Equal(t, StateSucceeded, got2.State)
	assert.Equal(t, res.Image, got2.Image, "build get pins the image as the run did")
	digest.gone = true // the Job's TTL removed its pods
	got2, err = m.BuildGet(ctx, "b-1")
	require.NoError(t, err)
	assert.Equal(t, res.Image, got2.Image, "the digest the run reported stays with the build's stack")
	assert.Equal(t, res.Digest, got2.Digest)

	destroyed, err := m.PlatformDestroy(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, destroyed.LastUpdate.Changes["delete"])
}

func TestBuildFailureCarriesReason(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, nil)
	res, err := m.BuildRun(t.Context(), BuildSpec{ID: "b-2", GitURL: "https://git.test/acme/web.git", ImageRepository: "apps/web", ImageTag: "fail"})
	require.Error(t, err)
	assert.True(t, IsFailed(err), "got %v", err)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Contains(t, e.Reason, "BackoffLimitExceeded")
	assert.Equal(t, StateFailed, res.State)
	got, err := m.BuildGet(t.Context(), "b-2")
	require.NoError(t, err)
	assert.Equal(t, StateFailed, got.State, "the failed update is the stack's last word")
}

// testClock is a clock a test sets.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }

// shortLivedPreview is a Manager on a test clock (2026-11-22 12:00 UTC)
// holding preview "short", which expires a minute later.
func shortLivedPreview(t *testing.T) (*Manager, *testClock) {
	t.Helper()
	clock := &testClock{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	m := newTestManager(t, func(o *Options) { o.Now = clock.Now })
	_, err := m.PreviewUp(t.Context(), PreviewSpec{Launch: "short", Image: "registry.test/app:1", TTLSeconds: 60})
	require.NoError(t, err)
	return m, clock
}

func TestGCDestroysOnlyExpired(t *testing.T) {
	t.Parallel()
	m, clock := shortLivedPreview(t)
	ctx := t.Context()
	long, err := m.PreviewUp(ctx, PreviewSpec{Launch: "long", Image: "registry.test/app:1", TTLSeconds: 86400})
	require.NoError(t, err)
	assert.Equal(t, "2026-11-23T12:00:00Z", long.ExpiresAt)
	_, err = m.PreviewUp(ctx, PreviewSpec{Launch: "forever", Image: "registry.test/app:1"})
	require.NoError(t, err)

	clock.Add(2 * time.Hour)
	results, err := m.GC(ctx)
	require.NoError(t, err)
	assert.Equal(t, []GCResult{{Launch: "short", ExpiresAt: "2026-11-22T12:01:00Z", Destroyed: true}}, results)
	list, err := m.PreviewList(ctx)
	require.NoError(t, err)
	var launches []string
	for _, it := range list {
		launches = append(launches, it.Launch)
	}
	assert.Equal(t, []string{"forever", "long"}, launches)
}

func TestStubModeCreatesNothing(t *testing.T) {
	t.Setenv("APPHUB_K8S_PREVIEW_URL_TEMPLATE", "https://{launch}.preview.local")
	m := newTestManager(t, func(o *Options) { o.LaunchMode, o.BuildMode = ModeStub, ModeStub })
	ctx := t.Context()
	res, err := m.PreviewUp(ctx, PreviewSpec{Launch: "s-1", Image: "registry.test/app:1"})
	require.NoError(t, err)
	assert.True(t, res.Stub)
	assert.Equal(t, StateStub, res.State)
	assert.Equal(t, "https://s-1.preview.local", res.URL)
	assert.Contains(t, res.Outputs["note"], "nothing created")

	_, err = m.PreviewUp(ctx, PreviewSpec{Launch: "BAD", Image: "registry.test/app:1"})
	assert.True(t, IsInvalid(err), "stub mode validates too")

	got, err := m.PreviewGet(ctx, "s-1")
	require.NoError(t, err)
	assert.True(t, got.Stub)
	list, err := m.PreviewList(ctx)
	require.NoError(t, err)
	assert.Equal(t, []PreviewListItem{{Launch: "s-1", Stack: "preview-s-1", Stub: true}}, list)
	b, err := m.BuildRun(ctx, BuildSpec{ID: "b", GitURL: "https://git.test/x.git", ImageRepository: "apps/x", ImageTag: "1"})
	require.NoError(t, err)
	assert.True(t, b.Stub)

	d, err := m.PreviewDestroy(ctx, "s-1")
	require.NoError(t, err)
	assert.False(t, d.AlreadyGone)
	_, err = m.PreviewGet(ctx, "s-1")
	assert.True(t, IsNotFound(err))

	// Nothing reached Pulumi: no stack, no work directory.
	_, err = m.list(ctx, "test", "apphub-preview", testprograms.Preview)
	require.NoError(t, err)
	summaries, _ := m.list(ctx, "test", "apphub-preview", testprograms.Preview)
	assert.Empty(t, summaries)
}

// A preview whose state GC cannot read (here: encrypted under another
// passphrase, on the same backend) is reported, not silently skipped,
// and the run fails saying so; the rest is collected.
func TestGCReportsWhatItCannotRead(t *testing.T) {
	t.Parallel()
	m, clock := shortLivedPreview(t)
	ctx := t.Context()
	other := newTestManager(t, func(o *Options) {
		o.StateDir, o.BackendURL, o.Passphrase = t.TempDir(), m.Options().BackendURL, "another-passphrase"
		o.Now = clock.Now
		// A secret output: reading it needs the other passphrase.
		o.PreviewProgram = func(ctx *pulumi.Context) error {
			ctx.Export("token", pulumi.ToSecret(pulumi.String("s3cret")))
			return testprograms.Preview(ctx)
		}
	})
	_, err := other.PreviewUp(ctx, PreviewSpec{Launch: "foreign", Image: "registry.test/app:1", TTLSeconds: 60})
	require.NoError(t, err)

	clock.Add(2 * time.Hour)
	results, err := m.GC(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "1 preview(s) whose state could not be read")
	require.Len(t, results, 2)
	assert.Equal(t, GCResult{Launch: "short", ExpiresAt: "2026-11-22T12:01:00Z", Destroyed: true}, results[1])
	assert.Equal(t, "foreign", results[0].Launch)
	assert.True(t, results[0].Unreadable)
	assert.False(t, results[0].Destroyed)
	assert.NotEmpty(t, results[0].Error)
}

// A build run again with the same id and spec builds nothing, and says
// so: a branch is not resolved again, so its new commits would be missed
// silently otherwise.
func TestABuildRunAgainSaysItBuiltNothing(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, nil)
	ctx := t.Context()
	spec := BuildSpec{ID: "again", GitURL: "https://git.test/acme/web.git", GitRef: "main", ImageRepository: "apps/web", ImageTag: "1"}
	first, err := m.BuildRun(ctx, spec)
	require.NoError(t, err)
	assert.False(t, first.Unchanged)
	assert.Empty(t, first.Note)

	again, err := m.BuildRun(ctx, spec)
	require.NoError(t, err)
	assert.True(t, again.Unchanged)
	assert.Contains(t, again.Note, "gitRef main is not resolved again")
	assert.Contains(t, again.Note, "build with a new id")

	spec.GitRef = strings.Repeat("a", 40)
	_, err = m.BuildRun(ctx, spec)
	require.NoError(t, err)
	pinned, err := m.BuildRun(ctx, spec)
	require.NoError(t, err)
	assert.True(t, pinned.Unchanged)
	assert.NotContains(t, pinned.Note, "not resolved again", "a commit cannot move")
}
