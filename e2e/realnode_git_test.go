//go:build e2e && realnode

package e2e

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/internal/testing/testca"
)

// gitRepo makes a bare repository app.git under a new folder: the build
// context (e2e/testdata/buildrepo plus previewapp's main.go) in one
// commit on main. It returns the folder and the commit.
func gitRepo(t testing.TB, e *env) (root, commit string) {
	t.Helper()
	work, root := t.TempDir(), t.TempDir()
	for src, dest := range map[string]string{
		"e2e/testdata/buildrepo/Dockerfile": "Dockerfile",
		"e2e/testdata/buildrepo/go.mod":     "go.mod",
		"e2e/testdata/previewapp/main.go":   "main.go",
	} {
		b, err := os.ReadFile(filepath.Join(e.root, src))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(work, dest), b, 0o644))
	}
	git := func(dir string, args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=apphub e2e", "GIT_AUTHOR_EMAIL=e2e@apphub.test",
			"GIT_COMMITTER_NAME=apphub e2e", "GIT_COMMITTER_EMAIL=e2e@apphub.test", "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "git %v: %s", args, out)
		return strings.TrimSpace(string(out))
	}
	git(work, "init", "-q", "-b", "main")
	git(work, "add", ".")
	git(work, "commit", "-q", "-m", "previewapp")
	commit = git(work, "rev-parse", "HEAD")
	git(root, "clone", "-q", "--bare", work, "app.git")
	return root, commit
}

// serveGit serves the repositories under root read-only over HTTPS (git's
// smart HTTP through git http-backend) on the node's address, with a
// certificate of the throwaway CA; it returns the base URL.
func serveGit(t testing.TB, ca *testca.CA, root string) string {
	t.Helper()
	exec, err := exec.Command("git", "--exec-path").Output()
	require.NoError(t, err)
	backend := &cgi.Handler{
		Path: filepath.Join(strings.TrimSpace(string(exec)), "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"},
	}
	readOnly := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && !strings.HasSuffix(r.URL.Path, "/git-upload-pack") {
			http.Error(w, "read-only", http.StatusForbidden)
			return
		}
		backend.ServeHTTP(w, r)
	})
	host, _, _ := strings.Cut(realNodeRegistry, ":")
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	require.NoError(t, err)
	srv := &http.Server{Handler: readOnly, TLSConfig: &tls.Config{Certificates: []tls.Certificate{ca.Server(t, host)}}}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	return "https://" + ln.Addr().String()
}
