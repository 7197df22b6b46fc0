//go:build e2e && realnode

package e2e

import (
	"archive/tar"
	"compress/gzip"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// What building ./Dockerfile fetches from the internet, served on the
// node's address instead, as an air-gapped cluster's mirrors would: Go
// modules (a GOPROXY) and the provider plugins (pulumi plugin install
// --server). Base images come from the node's registry.

// repoFiles are this repository's files as git sees them in the working
// tree (tracked, and untracked ones not ignored): path -> file.
func repoFiles(t testing.TB, e *env) map[string]string {
	t.Helper()
	out, err := exec.Command("git", "-C", e.root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	require.NoError(t, err)
	files := map[string]string{}
	for _, p := range strings.Split(string(out), "\x00") {
		full := filepath.Join(e.root, p)
		if info, err := os.Lstat(full); p == "" || err != nil || !info.Mode().IsRegular() {
			continue // deleted in the working tree, or not a file
		}
		files[p] = full
	}
	require.Contains(t, files, "Dockerfile")
	return files
}

// serveGoProxy serves this machine's module cache as a GOPROXY (the
// protocol is its cache/download layout), after downloading what both
// modules' `go mod download` needs.
func serveGoProxy(t testing.TB, e *env) string {
	t.Helper()
	for _, dir := range []string{e.root, filepath.Join(e.root, "tools")} {
		cmd := exec.Command("go", "mod", "download")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "go mod download in %s: %s", dir, out)
	}
	cache, err := exec.Command("go", "env", "GOMODCACHE").Output()
	require.NoError(t, err)
	return serveDir(t, filepath.Join(strings.TrimSpace(string(cache)), "cache", "download"))
}

// servePlugins serves the provider plugins this tier installed (from
// ../shared/pulumi) as the release archives `pulumi plugin install
// --server` downloads: pulumi-resource-<name>-v<version>-linux-amd64.tar.gz.
func servePlugins(t testing.TB, e *env) string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(e.home, "plugins", "resource-*-v*"))
	require.NoError(t, err)
	out := t.TempDir()
	n := 0
	for _, dir := range dirs {
		if info, err := os.Stat(dir); err != nil || !info.IsDir() {
			continue // a .lock or .partial beside the plugin
		}
		rest := strings.TrimPrefix(filepath.Base(dir), "resource-")
		i := strings.LastIndex(rest, "-v")
		name, version := rest[:i], rest[i+2:]
		bin := "pulumi-resource-" + name
		archive := filepath.Join(out, bin+"-v"+version+"-linux-amd64.tar.gz")
		require.NoError(t, tarGz(archive, filepath.Join(dir, bin), bin))
		n++
	}
	require.Positive(t, n, "no plugin in %s", e.home)
	return serveDir(t, out)
}

// tarGz writes a gzipped tar of one executable file named name.
func tarGz(archive, src, name string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	f, err := os.Create(archive)
	if err != nil {
		return err
	}
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	err = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg})
	if err == nil {
		_, err = tw.Write(data)
	}
	for _, c := range []func() error{tw.Close, gz.Close, f.Close} {
		if cerr := c(); err == nil {
			err = cerr
		}
	}
	return err
}

// serveDir serves a folder over plain HTTP on the node's address, for pods
// on the node; it stops with the test.
func serveDir(t testing.TB, dir string) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(realNodeHost, "0"))
	require.NoError(t, err)
	srv := &http.Server{Handler: http.FileServer(http.Dir(dir))}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}
