package pulumilocks

import (
	"fmt"
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
// whatever directory it runs in (each stack's runs in its own); other URLs
// are returned as they are.
func AbsoluteURL(backendURL string) (string, error) {
	dir, err := FileBackendDir(backendURL)
	if err != nil || dir == "" {
		return backendURL, err
	}
	query := ""
	if _, q, ok := strings.Cut(strings.TrimPrefix(backendURL, "file://"), "?"); ok {
		query = "?" + q
	}
	return "file://" + filepath.ToSlash(dir) + query, nil
}
