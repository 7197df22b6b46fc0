package automation

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/internal/testing/gittest"
	"github.com/apphub/apphub-infra/internal/testing/testca"
)

func TestResolveGitRef(t *testing.T) {
	repo, first := gittest.New(t, "app.git", map[string]string{"Dockerfile": "FROM scratch\n"})
	repo.Git(t, "tag", "-a", "v1", "-m", "release 1")
	repo.Git(t, "tag", "light")
	repo.Git(t, "branch", "both") // a branch and a tag of one name: the branch wins, as in BuildKit
	repo.Git(t, "update-ref", "refs/pull/1/head", "HEAD")
	second := repo.Commit(t, map[string]string{"main.go": "package main\n"})
	repo.Git(t, "tag", "both")
	repo.Publish(t)
	repo.Git(t, "push", "-q", filepath.Join(repo.Root, repo.Name), "refs/pull/1/head", "refs/heads/both")
	ca := testca.New(t)
	url := gittest.Serve(t, repo.Root, "127.0.0.1", ca.Server(t, "127.0.0.1")) + "/app.git"

	tests := []struct {
		name, url, ref, want string
		caPEM                []byte
		wantErr              string
		notFound             bool
	}{
		{name: "branch moves with new commits", ref: "main", want: second},
		{name: "empty ref is HEAD", ref: "", want: second},
		{name: "full ref name", ref: "refs/heads/main", want: second},
		{name: "annotated tag is its commit", ref: "v1", want: first},
		{name: "lightweight tag", ref: "light", want: first},
		{name: "annotated tag by full name is its commit", ref: "refs/tags/v1", want: first},
		{name: "any ref under refs/, as BuildKit reads it", ref: "pull/1/head", want: first},
		{name: "a branch before a tag of the same name", ref: "both", want: first},
		{name: "a commit id is kept without asking", url: "https://127.0.0.1:1/nowhere.git", ref: strings.Repeat("ab", 20), want: strings.Repeat("ab", 20)},
		{name: "unknown ref", ref: "nope", wantErr: "gitRef nope at " + url + ": no such branch or tag", notFound: true},
		{name: "abbreviated commit", ref: first[:7], wantErr: "a commit id must be given in full", notFound: true},
		{name: "untrusted certificate", ref: "main", caPEM: []byte{}, wantErr: "certificate"},
		{name: "unreachable server", url: "https://127.0.0.1:1/app.git", ref: "main", wantErr: "127.0.0.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := url
			if tt.url != "" {
				u = tt.url
			}
			caPEM := []byte(ca.CertPEM)
			if tt.caPEM != nil {
				caPEM = tt.caPEM
			}
			got, err := ResolveGitRef(context.Background(), u, tt.ref, caPEM)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Equal(t, tt.notFound, errors.Is(err, errRefNotFound))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestBuildInputsTag(t *testing.T) {
	base := buildInputs{GitURL: "https://g/x.git", Commit: strings.Repeat("a", 40), Dockerfile: "Dockerfile",
		BuildArgs: map[string]string{"A": "1", "B": "2"}, Repository: "acme/web", Builder: "moby/buildkit:v0.23.2-rootless", Platform: "native"}
	tag := base.tag()
	assert.Regexp(t, `^apphub-inputs-[0-9a-f]{64}$`, tag)
	assert.LessOrEqual(t, len(tag), 128, "a valid image tag")
	same := base
	same.BuildArgs = map[string]string{"B": "2", "A": "1"}
	assert.Equal(t, tag, same.tag(), "the order build arguments come in does not matter")
	for name, change := range map[string]func(*buildInputs){
		"commit":      func(i *buildInputs) { i.Commit = strings.Repeat("b", 40) },
		"context dir": func(i *buildInputs) { i.ContextDir = "web" },
		"dockerfile":  func(i *buildInputs) { i.Dockerfile = "Dockerfile.prod" },
		"build arg":   func(i *buildInputs) { i.BuildArgs = map[string]string{"A": "1", "B": "3"} },
		"repository":  func(i *buildInputs) { i.Repository = "acme/api" },
		"builder":     func(i *buildInputs) { i.Builder = "moby/buildkit:v0.24.0-rootless" },
		"git url":     func(i *buildInputs) { i.GitURL = "https://g/y.git" },
	} {
		other := base
		other.BuildArgs = map[string]string{"A": "1", "B": "2"}
		change(&other)
		assert.NotEqual(t, tag, other.tag(), "%s is an input", name)
	}
}

// serveRegistry serves an in-memory registry through wrap (nil: as it
// is) and pushes a random image as acme/web:tag; it returns the address
// and the image's digest.
func serveRegistry(t *testing.T, wrap func(http.Handler) http.Handler, tag string, opts ...remote.Option) (string, string) {
	t.Helper()
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")
	img, d := randomImage(t)
	require.NoError(t, remote.Write(mustTag(t, addr+"/acme/web:"+tag), img, opts...))
	return addr, d
}

func randomImage(t *testing.T) (v1.Image, string) {
	t.Helper()
	img, err := random.Image(64, 1)
	require.NoError(t, err)
	d, err := img.Digest()
	require.NoError(t, err)
	return img, d.String()
}

func mustTag(t *testing.T, ref string) name.Tag {
	t.Helper()
	tag, err := name.NewTag(ref, name.Insecure)
	require.NoError(t, err)
	return tag
}

func TestRetagImage(t *testing.T) {
	addr, want := serveRegistry(t, nil, "apphub-inputs-x")

	// A closed port: the Manager outside the cluster tries the host's
	// address first, which a pod cannot reach.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := ln.Addr().String()
	ln.Close()

	tests := []struct {
		name      string
		addresses []string
		tag       string
		want      string
		wantErr   bool
	}{
		{"present", []string{addr}, "apphub-inputs-x", want, false},
		{"absent tag", []string{addr}, "apphub-inputs-y", "", false},
		{"first address unreachable", []string{dead, addr}, "apphub-inputs-x", want, false},
		{"no address answers", []string{dead}, "apphub-inputs-x", "", true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := registryAccess{Addresses: tt.addresses, Insecure: true, Auth: authn.Anonymous}
			to := "asked-" + strconv.Itoa(i)
			got, err := retagImage(context.Background(), reg, "acme/web", tt.tag, to)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.wantErr, err != nil, "%v", err)
			desc, herr := remote.Head(mustTag(t, addr+"/acme/web:"+to))
			if tt.want == "" {
				assert.Error(t, herr, "nothing tagged")
				return
			}
			require.NoError(t, herr)
			assert.Equal(t, tt.want, desc.Digest.String(), "the tag asked for is the image")
		})
	}
}

// bot is the only login botOnly lets through.
var bot = &authn.Basic{Username: "bot", Password: "s3cret"}

func botOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != bot.Username || p != bot.Password {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func TestImageDigestWithCredentials(t *testing.T) {
	addr, want := serveRegistry(t, botOnly, "t", remote.WithAuth(bot))

	auth, err := dockerConfigAuth([]byte(`{"auths":{"`+addr+`":{"username":"bot","password":"s3cret"}}}`), addr)
	require.NoError(t, err)
	got, err := retagImage(context.Background(), registryAccess{Addresses: []string{addr}, Insecure: true, Auth: auth}, "acme/web", "t", "u")
	require.NoError(t, err)
	assert.Equal(t, want, got)

	_, err = retagImage(context.Background(), registryAccess{Addresses: []string{addr}, Insecure: true, Auth: authn.Anonymous}, "acme/web", "t", "u")
	assert.Error(t, err, "refused credentials are no answer, never \"absent\"")

	other, err := dockerConfigAuth([]byte(`{"auths":{"elsewhere:5000":{"auth":"eDp5"}}}`), addr)
	require.NoError(t, err)
	assert.Equal(t, authn.Anonymous, other, "no entry for the host: anonymous")
	_, err = dockerConfigAuth([]byte(`not json`), addr)
	assert.Error(t, err)
}
