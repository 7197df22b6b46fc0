// Package gittest makes git repositories and serves them over HTTPS with
// git's own smart-HTTP backend, for tests of what resolves or fetches refs.
package gittest

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
)

// Repo is a working tree and the bare repository Name under Root that
// Push publishes it to.
type Repo struct {
	Work, Root, Name string
}

// Init makes an empty working tree on main for the bare repository name
// (e.g. "app.git") under a new folder.
func Init(t testing.TB, name string) *Repo {
	t.Helper()
	r := &Repo{Work: t.TempDir(), Root: t.TempDir(), Name: name}
	r.Git(t, "init", "-q", "-b", "main")
	return r
}

// New makes a repository with files (path in the repository -> contents)
// in one commit on main, published. It returns the repository and the
// commit.
func New(t testing.TB, name string, files map[string]string) (*Repo, string) {
	t.Helper()
	r := Init(t, name)
	commit := r.Commit(t, files)
	r.Publish(t)
	return r, commit
}

// Git runs git in the working tree with a fixed identity and no user or
// system configuration; it returns the trimmed output.
func (r *Repo) Git(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = r.Work
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=apphub test", "GIT_AUTHOR_EMAIL=test@apphub.test",
		"GIT_COMMITTER_NAME=apphub test", "GIT_COMMITTER_EMAIL=test@apphub.test", "GIT_CONFIG_NOSYSTEM=1", "HOME="+r.Work)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "git %v: %s", args, out)
	return strings.TrimSpace(string(out))
}

// Commit writes files into the working tree and commits everything in it;
// it returns the commit. Publish makes it visible.
func (r *Repo) Commit(t testing.TB, files map[string]string) string {
	t.Helper()
	for dest, contents := range files {
		p := filepath.Join(r.Work, dest)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(contents), 0o644))
	}
	r.Git(t, "add", ".")
	r.Git(t, "commit", "-q", "--allow-empty", "-m", "snapshot")
	return r.Git(t, "rev-parse", "HEAD")
}

// Publish makes the bare repository hold the working tree's main and tags.
func (r *Repo) Publish(t testing.TB) {
	t.Helper()
	bare := filepath.Join(r.Root, r.Name)
	if _, err := os.Stat(bare); os.IsNotExist(err) {
		r.Git(t, "clone", "-q", "--bare", r.Work, bare)
		return
	}
	r.Git(t, "push", "-q", "-f", "--tags", bare, "main")
}

// Serve serves the repositories under root read-only over HTTPS with the
// certificate cert, on host (an IP address); it returns the base URL.
func Serve(t testing.TB, root, host string, cert tls.Certificate) string {
	t.Helper()
	execPath, err := exec.Command("git", "--exec-path").Output()
	require.NoError(t, err)
	backend := &cgi.Handler{
		Path: filepath.Join(strings.TrimSpace(string(execPath)), "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"},
	}
	readOnly := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && !strings.HasSuffix(req.URL.Path, "/git-upload-pack") {
			http.Error(w, "read-only", http.StatusForbidden)
			return
		}
		backend.ServeHTTP(w, req)
	})
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	require.NoError(t, err)
	srv := &http.Server{Handler: readOnly, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	return "https://" + ln.Addr().String()
}
