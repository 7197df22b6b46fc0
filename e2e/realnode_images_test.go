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
// internet, so the tier makes golang:<major.minor> from this machine's Go,
// laid out as the official image is (GOROOT /usr/local/go, GOPATH /go,
// Debian's CA bundle): its toolchain without tests, docs and tools a build
// does not use, and the host's static busybox for /bin/sh and the
// utilities Dockerfile RUN lines call.

// goToolsKept are the pkg/tool programs `go build` runs.
var goToolsKept = map[string]bool{"compile": true, "link": true, "asm": true, "buildid": true, "cgo": true}

// pushGolang pushes library/golang:<major.minor> to the node's registry,
// which BuildKit on the node resolves docker.io's golang:<tag> to. It
// returns the tag.
func (n *realNode) pushGolang(t testing.TB) string {
	t.Helper()
	goroot := runtime.GOROOT()
	out, err := exec.Command(filepath.Join(goroot, "bin", "go"), "env", "GOVERSION").Output()
	require.NoError(t, err)
	version := strings.TrimPrefix(strings.TrimSpace(string(out)), "go")
	tag := strings.Join(strings.SplitN(version, ".", 3)[:2], ".")

	root := t.TempDir()
	require.NoError(t, copyGoroot(goroot, filepath.Join(root, "usr", "local", "go")))
	for _, dir := range []string{"bin", "go", "root", "etc/ssl/certs"} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, dir), 0o755))
	}
	require.NoError(t, copyFile("/bin/busybox", filepath.Join(root, "bin", "busybox"), 0o755))
	applets, err := exec.Command("/bin/busybox", "--list").Output()
	require.NoError(t, err)
	for _, a := range strings.Fields(string(applets)) {
		if a == "busybox" {
			continue
		}
		require.NoError(t, os.Symlink("busybox", filepath.Join(root, "bin", a)))
	}
	require.NoError(t, copyFile("/etc/ssl/certs/ca-certificates.crt", filepath.Join(root, "etc/ssl/certs/ca-certificates.crt"), 0o644))
	require.NoError(t, os.Mkdir(filepath.Join(root, "tmp"), 0o755))
	require.NoError(t, os.Chmod(filepath.Join(root, "tmp"), 0o1777))
	n.push(t, "--rootfs", root,
		"--env", "PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"--env", "GOPATH=/go", "--env", "GOTOOLCHAIN=local", "--env", "HOME=/root",
		"--workdir", "/go", "library/golang:"+tag)
	return "golang:" + tag
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
