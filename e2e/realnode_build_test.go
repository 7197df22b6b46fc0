//go:build e2e && realnode

package e2e

import (
	"bufio"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/internal/testing/testca"
	"github.com/apphub/apphub-infra/queue"
)

// buildToPreview is the catalog's whole flow on the real node: a build of
// a Dockerfile from a git server with a private CA, pushed to the
// platform's registry and pinned by digest, its logs followed as they
// come, then a preview of the built image answering at its URL.
func buildToPreview(t *testing.T, a *api, node *realNode, e *env, ca *testca.CA) {
	golang := node.pushGolang(t)
	t.Logf("Go image for the build: %s", golang)
	root, commit := gitRepo(t, e)
	gitURL := serveGit(t, ca, root) + "/app.git"
	const id = "rn-build"
	tag, version := commit[:12], "built-"+commit[:7]

	start := time.Now()
	code, body := a.do(t, http.MethodPost, "/v1/builds", map[string]any{
		"id": id, "gitUrl": gitURL, "gitRef": "main", "imageRepository": "apphub-e2e/built", "imageTag": tag,
		"buildArgs": map[string]string{"VERSION": version},
	})
	require.Equal(t, http.StatusAccepted, code, "%v", body)
	logs := followBuildLogs(t, a, id)
	op := a.waitStream(t, body)
	built := time.Since(start)
	require.Equal(t, queue.StatusSucceeded, op["status"], "%v", op["reason"])
	lines := logs.wait(t)
	require.NotEmpty(t, lines, "the follow streamed the build pod's output")
	assert.Less(t, lines[0].at, start.Add(built).Add(-2*time.Second), "the first line came while the build ran, not at its end")
	assert.True(t, logs.contains("CGO_ENABLED=0 go build"), "the Dockerfile's RUN step is in the logs")
	t.Logf("build: %d log lines, the first %.1fs after the request, the last %.1fs", len(lines), lines[0].at.Sub(start).Seconds(), lines[len(lines)-1].at.Sub(start).Seconds())

	image := pinnedImage(t, a, id, "apphub-e2e/built", tag)

	host := "rn-built.preview.realnode.test"
	p := startProber(host, "/")
	code, body = a.do(t, http.MethodPut, "/v1/previews/rn-built", map[string]any{"image": image, "port": 8080, "healthPath": "/healthz", "replicas": 1})
	require.Equal(t, http.StatusAccepted, code, "%v", body)
	require.Equal(t, queue.StatusSucceeded, a.waitStream(t, body)["status"])
	require.True(t, p.waitFor(func() bool { return p.seen(version) }, 30*time.Second), "the built app never answered: %v", p.tally())
	p.finish()
	t.Logf("lead time: build request -> build done %.1fs -> preview of it answering %.1fs", built.Seconds(), p.firstV[version].Sub(start).Seconds())

	code, body = a.do(t, http.MethodDelete, "/v1/previews/rn-built", nil)
	require.Equal(t, http.StatusAccepted, code, "%v", body)
	require.Equal(t, queue.StatusSucceeded, a.waitStream(t, body)["status"])
}

// logLine is a line of a followed log and when it arrived.
type logLine struct {
	text string
	at   time.Time
}

type logFollow struct {
	lines []logLine
	done  chan error
}

// followBuildLogs follows a build's logs through the HTTP API once its Job
// exists; wait returns the lines when the follow ends with the build.
func followBuildLogs(t *testing.T, a *api, id string) *logFollow {
	t.Helper()
	out := kubectl(t, "wait", "--for=create", "job/build-"+id, "-n", "apphub-builds", "--timeout=120s")
	require.Contains(t, out, "condition met", "the build's Job was never created")
	f := &logFollow{done: make(chan error, 1)}
	req, err := http.NewRequest(http.MethodGet, a.url+"/v1/builds/"+id+"/logs?follow=true", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+apiToken)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			f.done <- err
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			f.done <- fmt.Errorf("logs: HTTP %d", resp.StatusCode)
			return
		}
		s := bufio.NewScanner(resp.Body)
		s.Buffer(make([]byte, 64<<10), 1<<20)
		for s.Scan() {
			f.lines = append(f.lines, logLine{text: s.Text(), at: time.Now()})
		}
		f.done <- s.Err()
	}()
	return f
}

func (f *logFollow) wait(t *testing.T) []logLine {
	t.Helper()
	select {
	case err := <-f.done:
		require.NoError(t, err)
	case <-time.After(2 * time.Minute):
		t.Fatal("the log follow did not end with the build")
	}
	return f.lines
}

func (f *logFollow) contains(s string) bool {
	for _, l := range f.lines {
		if strings.Contains(l.text, s) {
			return true
		}
	}
	return false
}

// pinnedImage is a finished build's image as `build get` reports it,
// checked to be repo:tag on the node's registry pinned by the digest the
// registry reports for it.
func pinnedImage(t *testing.T, a *api, id, repo, tag string) string {
	t.Helper()
	code, got := a.do(t, http.MethodGet, "/v1/builds/"+id, nil)
	require.Equal(t, http.StatusOK, code, "%v", got)
	build, _ := got["build"].(map[string]any)
	image, _ := build["image"].(string)
	ref := realNodeRegistry + "/" + repo + ":" + tag
	assert.Equal(t, ref+"@"+registryDigest(t, repo, tag), image, "the image is pinned by the digest the registry reports")
	return image
}

// registryDigest is the digest the node's registry reports for a tag.
func registryDigest(t *testing.T, repo, tag string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodHead, "http://"+realNodeRegistry+"/v2/"+repo+"/manifests/"+tag, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", strings.Join([]string{
		"application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
		"application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.docker.distribution.manifest.v2+json",
	}, ", "))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s:%s in the registry", repo, tag)
	d := resp.Header.Get("Docker-Content-Digest")
	require.True(t, strings.HasPrefix(d, "sha256:"), "digest %q", d)
	return d
}
