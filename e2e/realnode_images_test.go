//go:build e2e && realnode

package e2e

import (
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The harness provides no Go image, and nothing can be pulled from the
// internet, so the tier makes golang:1.26 from this machine's Go: its
// toolchain without tests, docs and tools a build does not use, and the
// harness host's static busybox for /bin/sh (Dockerfile RUN lines).

// goToolsKept are the pkg/tool programs `go build` runs.
var goToolsKept = map[string]bool{"compile": true, "link": true, "asm": true, "buildid": true, "cgo": true}

// pushGolang pushes library/golang:<major.minor> to the node's registry,
// which BuildKit on the node resolves docker.io's golang:<tag> to.
func (n *realNode) pushGolang(t testing.TB) string {
	t.Helper()
	goroot := runtime.GOROOT()
	out, err := exec.Command(filepath.Join(goroot, "bin", "go"), "env", "GOVERSION").Output()
	require.NoError(t, err)
	version := strings.TrimPrefix(strings.TrimSpace(string(out)), "go")
	tag := strings.Join(strings.SplitN(version, ".", 3)[:2], ".")

	root := t.TempDir()
	require.NoError(t, copyGoroot(goroot, filepath.Join(root, "usr", "local", "go")))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "bin"), 0o755))
	require.NoError(t, copyFile("/bin/busybox", filepath.Join(root, "bin", "busybox"), 0o755))
	require.NoError(t, os.Symlink("busybox", filepath.Join(root, "bin", "sh")))
	require.NoError(t, os.Mkdir(filepath.Join(root, "tmp"), 0o755))
	require.NoError(t, os.Chmod(filepath.Join(root, "tmp"), 0o1777))
	return n.push(t, "--rootfs", root,
		"--env", "PATH=/usr/local/go/bin:/bin", "--env", "GOTOOLCHAIN=local", "--env", "HOME=/tmp",
		"--env", "GOCACHE=/tmp/go-build", "--env", "GOPATH=/tmp/go", "--env", "GOPROXY=off",
		"--workdir", "/src", "library/golang:"+tag)
}

// copyGoroot copies what compiling and linking need: the commands, the
// standard library's sources (no tests, no testdata) and the kept tools.
func copyGoroot(src, dest string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		top := strings.SplitN(rel, string(filepath.Separator), 2)[0]
		switch {
		case d.IsDir() && (d.Name() == "testdata" || top == "test" || top == "doc" || top == "api" || top == "misc"):
			return filepath.SkipDir
		case d.IsDir():
			return os.MkdirAll(filepath.Join(dest, rel), 0o755)
		case strings.HasSuffix(path, "_test.go"):
			return nil
		case filepath.Base(filepath.Dir(filepath.Dir(path))) == "tool" && !goToolsKept[d.Name()]:
			return nil
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(target, filepath.Join(dest, rel))
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return copyFile(path, filepath.Join(dest, rel), info.Mode().Perm())
	})
}

func copyFile(src, dest string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dest, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
