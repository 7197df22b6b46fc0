package validate

import "strings"

// IsKubeconfigContents tells kubeconfig contents from a path: contents span
// several lines, are a JSON object, or read like a kubeconfig document; a
// path is one line. Config validation (a path may be plaintext, contents
// must be a secret) and the clients that load it share this one rule.
func IsKubeconfigContents(v string) bool {
	v = strings.TrimSpace(v)
	if strings.ContainsAny(v, "\n\r") || strings.HasPrefix(v, "{") {
		return true
	}
	for _, marker := range []string{"apiVersion:", "clusters:", `"apiVersion"`, `"clusters"`} {
		if strings.Contains(v, marker) {
			return true
		}
	}
	return false
}
