package pulumilocks

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// FileBackendDir is the directory of a file:// backend URL as the Pulumi
// CLI resolves it (pkg/backend/diy massageBlobPath): a leading ~ is the
// home directory and a relative path is made absolute against the current
// directory; "" for other schemes. url.Parse would read file://~/x as host
// "~" and path "/x".
func FileBackendDir(backendURL string) (string, error) {
	rest, ok := strings.CutPrefix(backendURL, "file://")
	if !ok {
		return "", nil
	}
	path, _, _ := strings.Cut(rest, "?")
	if path == "" {
		return "", fmt.Errorf("backend URL %q names no directory", backendURL)
	}
	if strings.HasPrefix(path, "~") {
		if path != "~" && !strings.HasPrefix(path, "~/") {
			return "", fmt.Errorf("backend URL %q: only ~/ (the current user's home) is understood", backendURL)
		}
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("backend URL %q: %w", backendURL, err)
		}
		path = filepath.Join(home, strings.TrimPrefix(path, "~"))
	}
	return filepath.Abs(path)
}

// AbsoluteURL is a file:// backend URL with its directory resolved as the
// CLI resolves it, so that every CLI process sees the same backend
// whatever directory it runs in (each stack's runs in its own), and with
// gocloud's metadata=skip unless the URL sets metadata itself. Other URLs
// are returned as they are.
//
// fileblob writes a checkpoint atomically (a temp file, then a rename) but
// its ".attrs" sidecar in place: create, then encode. A CLI reading the
// stack in between, or one killed in between (a replica's pod dying),
// sees an empty sidecar, and every later command on that stack fails with
// "failed to load checkpoint: EOF". Pulumi reads nothing it needs from the
// sidecar, and fileblob treats a missing one as empty attributes.
func AbsoluteURL(backendURL string) (string, error) {
	dir, err := FileBackendDir(backendURL)
	if err != nil || dir == "" {
		return backendURL, err
	}
	_, rawQuery, _ := strings.Cut(strings.TrimPrefix(backendURL, "file://"), "?")
	query, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", fmt.Errorf("backend URL %q: query: %w", backendURL, err)
	}
	if !query.Has("metadata") {
		query.Set("metadata", "skip")
	}
	return "file://" + filepath.ToSlash(dir) + "?" + query.Encode(), nil
}
