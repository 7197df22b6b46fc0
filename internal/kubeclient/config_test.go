package kubeclient

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const kubeconfigYAML = `apiVersion: v1
kind: Config
clusters:
- name: a
  cluster: {server: https://a.example.com:6443}
- name: b
  cluster: {server: https://b.example.com:6443}
users:
- name: u
  user: {token: t0k3n}
contexts:
- name: ctx-a
  context: {cluster: a, user: u}
- name: ctx-b
  context: {cluster: b, user: u}
current-context: ctx-a
`

func TestRESTConfigFromPathOrContents(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	require.NoError(t, os.WriteFile(path, []byte(kubeconfigYAML), 0o600))
	tests := []struct {
		name, kubeconfig, context, host string
	}{
		{"contents, current context", kubeconfigYAML, "", "https://a.example.com:6443"},
		{"contents, named context", kubeconfigYAML, "ctx-b", "https://b.example.com:6443"},
		{"path, current context", path, "", "https://a.example.com:6443"},
		{"path, named context", path, "ctx-b", "https://b.example.com:6443"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := RESTConfig(tt.kubeconfig, tt.context)
			require.NoError(t, err)
			assert.Equal(t, tt.host, cfg.Host)
			assert.Equal(t, "t0k3n", cfg.BearerToken)
		})
	}
	_, err := RESTConfig(path, "ctx-missing")
	assert.ErrorContains(t, err, `context "ctx-missing"`)
	_, err = RESTConfig(filepath.Join(t.TempDir(), "absent"), "")
	assert.Error(t, err)
	_, err = RESTConfig("apiVersion: v1\nclusters: [oops", "")
	assert.ErrorContains(t, err, "parsing kubeconfig contents")
}
