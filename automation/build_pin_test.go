package automation

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/apphub/apphub-infra/internal/testing/gittest"
	"github.com/apphub/apphub-infra/internal/testing/testca"
	"github.com/apphub/apphub-infra/stacks"
)

// pinRig is a platform whose registry needs a login (the platform's
// registry Secret holds it) and a git server with a private CA.
type pinRig struct {
	m        *Manager
	registry string
	repo     *gittest.Repo
	gitURL   string
	commit   string
}

func newPinRig(t *testing.T) *pinRig {
	addr, _ := serveRegistry(t, botOnly, "unrelated", remote.WithAuth(bot))
	repo, commit := gittest.New(t, "web.git", map[string]string{"Dockerfile": "FROM scratch\n"})
	ca := testca.New(t)
	url := gittest.Serve(t, repo.Root, "127.0.0.1", ca.Server(t, "127.0.0.1")) + "/web.git"
	outs, err := json.Marshal(map[string]any{
		stacks.OutNamespace: "apphub", stacks.OutIngressNamespace: "kube-system", stacks.OutIngressClass: "traefik",
		stacks.OutPreviewServiceAccount: "apphub-preview", stacks.OutBuilderServiceAccount: "apphub-builder",
		stacks.OutBuildTimeoutSeconds: 900, stacks.OutBuildJobTTLSeconds: 3600,
		stacks.OutPreviewURLTemplate: "http://{launch}.test",
		stacks.OutBuildNamespace:     "apphub-builds", stacks.OutBuilderImage: "moby/buildkit:v0.23.2-rootless",
		// Pods see the registry by a name only the cluster resolves; the
		// Manager falls through to the address it can reach.
		// Images live under a repository namespace of the registry; the
		// Secret's login is keyed by the host alone, as the platform writes it.
		stacks.OutRegistryHostAddress: "registry.cluster.invalid:5000", stacks.OutRegistryPushAddress: addr + "/team",
		stacks.OutRegistryPullAddress: addr + "/team", stacks.OutRegistryInsecure: true, stacks.OutRegistrySecret: "apphub-registry",
		stacks.OutBuildCABundle: ca.CertPEM,
	})
	require.NoError(t, err)
	cs := fake.NewClientset(platformCM("apphub-system", string(outs)), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "apphub-registry", Namespace: "apphub-builds"},
		Data:       map[string][]byte{".dockerconfigjson": []byte(`{"auths":{"` + addr + `":{"username":"bot","password":"s3cret"}}}`)},
	})
	m := clusterManager(t, cs, "", "")
	m.opts.Logger = slog.New(slog.DiscardHandler)
	return &pinRig{m: m, registry: addr + "/team", repo: repo, gitURL: url, commit: commit}
}

// pin runs what BuildRun does before the stack: the platform as config,
// then pinBuild.
func (r *pinRig) pin(t *testing.T, spec BuildSpec) (map[string]string, error) {
	t.Helper()
	cfg, err := spec.config()
	require.NoError(t, err)
	ctx, err := r.m.withPlatform(t.Context(), "build run", BuildStack(spec.ID))
	require.NoError(t, err)
	require.NoError(t, r.m.withPlatformOutputs(ctx, cfg))
	return cfg, r.m.pinBuild(ctx, spec, cfg)
}

func TestPinBuild(t *testing.T) {
	r := newPinRig(t)
	spec := BuildSpec{ID: "b-1", GitURL: r.gitURL, GitRef: "main", ImageRepository: "acme/web", ImageTag: "1"}

	first, err := r.pin(t, spec)
	require.NoError(t, err)
	assert.Equal(t, r.commit, first["gitCommit"], "main, resolved")
	assert.Regexp(t, `^apphub-inputs-[0-9a-f]{64}$`, first["inputsTag"])
	assert.NotContains(t, first, "reuseDigest", "nothing was pushed under the inputs' tag yet")

	// The build pushes its image under the inputs' tag too; an equal
	// build (any id, any tag) then finds it, through the credentials.
	_, digest := pushTo(t, r.registry, "acme/web:"+first["inputsTag"])
	again, err := r.pin(t, BuildSpec{ID: "b-2", GitURL: r.gitURL, GitRef: "main", ImageRepository: "acme/web", ImageTag: "2"})
	require.NoError(t, err)
	assert.Equal(t, digest, again["reuseDigest"])
	assert.Equal(t, first["inputsTag"], again["inputsTag"])
	desc, err := remote.Head(mustTag(t, r.registry+"/acme/web:2"), remote.WithAuth(bot))
	require.NoError(t, err)
	assert.Equal(t, digest, desc.Digest.String(), "the tag the build asked for is the reused image")

	for name, change := range map[string]func(*BuildSpec){
		"another build argument": func(s *BuildSpec) { s.BuildArgs = map[string]string{"V": "2"} },
		"another Dockerfile":     func(s *BuildSpec) { s.Dockerfile = "Dockerfile.prod" },
		"another repository":     func(s *BuildSpec) { s.ImageRepository = "acme/api" },
		"another context dir":    func(s *BuildSpec) { s.ContextDir = "web" },
	} {
		other := spec
		change(&other)
		cfg, err := r.pin(t, other)
		require.NoError(t, err)
		assert.NotContains(t, cfg, "reuseDigest", name)
	}

	// A new commit on the branch is a new build.
	next := r.repo.Commit(t, map[string]string{"main.go": "package main\n"})
	r.repo.Publish(t)
	moved, err := r.pin(t, spec)
	require.NoError(t, err)
	assert.Equal(t, next, moved["gitCommit"])
	assert.NotContains(t, moved, "reuseDigest")

	_, err = r.pin(t, BuildSpec{ID: "b-3", GitURL: r.gitURL, GitRef: "no-such-branch", ImageRepository: "acme/web", ImageTag: "3"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "gitRef: gitRef no-such-branch at "+r.gitURL+": no such branch or tag")
}

func TestPinBuildWithoutAnswers(t *testing.T) {
	r := newPinRig(t)
	tests := []struct {
		name string
		spec BuildSpec
	}{
		{"git server unreachable: BuildKit may still reach it", BuildSpec{ID: "b-1", GitURL: "https://127.0.0.1:1/web.git", GitRef: "main", ImageRepository: "acme/web", ImageTag: "1"}},
		{"a context tarball cannot be known in advance", BuildSpec{ID: "b-2", ContextURL: "https://127.0.0.1:1/src.tgz", ImageRepository: "acme/web", ImageTag: "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := r.pin(t, tt.spec)
			require.NoError(t, err, "no answer is no reuse, never a refusal")
			for _, k := range []string{"gitCommit", "inputsTag", "reuseDigest"} {
				assert.NotContains(t, cfg, k)
			}
		})
	}
}

// pushTo pushes a random image to addr/ref; it returns the reference and digest.
func pushTo(t *testing.T, addr, ref string) (string, string) {
	t.Helper()
	img, d := randomImage(t)
	tag := mustTag(t, addr+"/"+ref)
	require.NoError(t, remote.Write(tag, img, remote.WithAuth(bot)))
	return strings.TrimPrefix(tag.String(), addr+"/"), d
}
