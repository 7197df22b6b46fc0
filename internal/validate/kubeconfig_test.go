package validate

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestIsKubeconfigContents(t *testing.T) {
	for v, want := range map[string]bool{
		"apiVersion: v1\nkind: Config\nclusters: []\n": true,
		`{"apiVersion":"v1","kind":"Config"}`:          true,
		"apiVersion: v1":                               true,
		"clusters: []":                                 true,
		"/home/me/.kube/config":                        false,
		"./kubeconfig.yaml":                            false,
		"  /etc/kube/admin.conf\t":                     false,
		"C:\\Users\\me\\.kube\\config":                 false,
	} {
		assert.Equal(t, want, IsKubeconfigContents(v), "%q", v)
	}
}
