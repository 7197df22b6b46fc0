//go:build e2e && realnode

package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/internal/testing/gittest"
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
// (path in the repository -> file here, mode kept) in one commit on main.
// It returns the folder and the commit.
func bareRepo(t testing.TB, name string, files map[string]string) (root, commit string) {
	t.Helper()
	r := gittest.Init(t, name)
	for dest, src := range files {
		info, err := os.Stat(src)
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(r.Work, dest)), 0o755))
		require.NoError(t, copyFile(src, filepath.Join(r.Work, dest), info.Mode().Perm()))
	}
	commit = r.Commit(t, nil)
	r.Publish(t)
	return r.Root, commit
}

// serveGit serves the repositories under root read-only over HTTPS (git's
// smart HTTP through git http-backend) on the node's address, with a
// certificate of the throwaway CA; it returns the base URL.
func serveGit(t testing.TB, ca *testca.CA, root string) string {
	t.Helper()
	return gittest.Serve(t, root, realNodeHost, ca.Server(t, realNodeHost))
}
