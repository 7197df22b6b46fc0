package kubetier

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/stacks"
)

func root(t testing.TB) string {
	r, err := filepath.Abs("../../..")
	require.NoError(t, err)
	return r
}

func TestAPIVersion(t *testing.T) {
	for token, want := range map[string][2]string{
		"kubernetes:core/v1:Namespace":                  {"v1", "Namespace"},
		"kubernetes:apps/v1:Deployment":                 {"apps/v1", "Deployment"},
		"kubernetes:rbac.authorization.k8s.io/v1:Role":  {"rbac.authorization.k8s.io/v1", "Role"},
		"kubernetes:networking.k8s.io/v1:NetworkPolicy": {"networking.k8s.io/v1", "NetworkPolicy"},
	} {
		v, k, ok := APIVersion(token)
		assert.True(t, ok, token)
		assert.Equal(t, want, [2]string{v, k})
	}
	for _, token := range []string{"kubernetes:helm.sh/v3:Release", "command:local:Command", "pulumi:providers:kubernetes", "apphub:components:Namespace"} {
		_, _, ok := APIVersion(token)
		assert.False(t, ok, token)
	}
}

func TestPlatformAndStacksRenderObjects(t *testing.T) {
	objs, outputs := Platform(t, StackFile(t, root(t), "dev"), nil)
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.Kind()]++
		assert.NotEmpty(t, o.APIVersion())
	}
	assert.Equal(t, map[string]int{"Namespace": 3, "ResourceQuota": 2, "LimitRange": 2, "ServiceAccount": 3, "Role": 5, "RoleBinding": 5, "ConfigMap": 1,
		"Secret": 2, "StatefulSet": 1, "Service": 1, "NetworkPolicy": 1}, kinds,
		"dev: no registry objects (k3d runs it), no Helm or command resources; the platform's ConfigMap; the persistent builder")
	assert.Equal(t, "Namespace", objs[0].Kind(), "namespaces are applied first")
	assert.Equal(t, "apphub", outputs[stacks.OutNamespace])

	preview := Program(t, stacks.PreviewProject, stacks.Preview, map[string]string{"launch": "pr-1", "image": "r.test/app:1"}, outputs)
	var names []string
	for _, o := range preview {
		names = append(names, o.String())
	}
	assert.Equal(t, []string{"Service/apphub/preview-pr-1", "Deployment/apphub/preview-pr-1", "Ingress/apphub/preview-pr-1", "NetworkPolicy/apphub/preview-pr-1"}, names)
	dep := preview[1]
	spec := dep["spec"].(map[string]any)
	assert.Equal(t, int64(1), spec["replicas"], "numbers become integers")

	build := Program(t, stacks.BuildProject, stacks.Build, map[string]string{"buildId": "b-1", "gitUrl": "https://git.test/x.git", "imageRepository": "apps/x", "imageTag": "1"}, outputs)
	require.Len(t, build, 1)
	assert.Equal(t, "Job/apphub-builds/build-b-1", build[0].String())
}
