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
	return bareRepo(t, "app.git", map[string]string{
		"Dockerfile": filepath.Join(e.root, "e2e/testdata/buildrepo/Dockerfile"),
		"go.mod":     filepath.Join(e.root, "e2e/testdata/buildrepo/go.mod"),
		"main.go":    filepath.Join(e.root, "e2e/testdata/previewapp/main.go"),
	})
}

// bareRepo makes a bare repository name under a new folder holding files
// (path in the repository -> file here) in one commit on main. It returns
// the folder and the commit.
func bareRepo(t testing.TB, name string, files map[string]string) (root, commit string) {
	t.Helper()
	work, root := t.TempDir(), t.TempDir()
	for dest, src := range files {
		info, err := os.Stat(src)
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(work, dest)), 0o755))
		require.NoError(t, copyFile(src, filepath.Join(work, dest), info.Mode().Perm()))
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
	git(work, "commit", "-q", "-m", "snapshot")
	commit = git(work, "rev-parse", "HEAD")
	git(root, "clone", "-q", "--bare", work, name)
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
	ln, err := net.Listen("tcp", net.JoinHostPort(realNodeHost, "0"))
	require.NoError(t, err)
	srv := &http.Server{Handler: readOnly, TLSConfig: &tls.Config{Certificates: []tls.Certificate{ca.Server(t, realNodeHost)}}}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	return "https://" + ln.Addr().String()
}
