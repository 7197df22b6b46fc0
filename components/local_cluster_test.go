package components

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/internal/testing/testmocks"
)

const tCommand = "command:local:Command"

func k3dArgs() *LocalClusterArgs {
	return &LocalClusterArgs{Kind: LocalClusterK3d, Name: "apphub", Owner: ourStack, K3sImage: "rancher/k3s:v1.34.1-k3s1", Servers: 1, Agents: 2, HTTPPort: 8080, HTTPSPort: 8443, RegistryHostPort: 5050}
}

func TestLocalClusterK3d(t *testing.T) {
	m, err := run(t, func(ctx *pulumi.Context) error {
		lc, err := NewLocalCluster(ctx, "cluster", k3dArgs())
		if err != nil {
			return err
		}
		kc := await(t, ctx, lc.Kubeconfig)
		assert.True(t, kc.Secret, "the kubeconfig holds cluster-admin credentials")
		assert.Equal(t, testmocks.MockKubeconfig("run"), kc.Value, "read afresh on every run, not the create command's output")
		assert.Equal(t, "k3d-apphub", await(t, ctx, lc.Context).Value)
		assert.Equal(t, "apphub-registry:5000", await(t, ctx, lc.RegistryPushAddress).Value)
		assert.Equal(t, "apphub-registry:5000", await(t, ctx, lc.RegistryPullAddress).Value)
		assert.Equal(t, "apphub-registry.localhost:5050", await(t, ctx, lc.RegistryHostAddress).Value)
		return nil
	})
	require.NoError(t, err)

	cmd := m.Find(t, tCommand, "cluster")
	assertParent(t, cmd, LocalClusterType, "cluster")
	create := cmd.Str("create")
	for _, want := range []string{
		"command -v k3d", "command -v docker", "docker info",
		"if k3d cluster get apphub >/dev/null 2>&1; then", "(created by this stack) exists: reusing it",
		"k3d cluster create apphub --image 'rancher/k3s:v1.34.1-k3s1' --servers 1 --agents 2",
		"--runtime-label 'apphub.io/owner=organization/apphub/dev@server:0'",
		"--port 8080:80@loadbalancer --port 8443:443@loadbalancer",
		"--registry-create apphub-registry:0.0.0.0:5050",
		"--kubeconfig-switch-context=false",
		"k3d kubeconfig get apphub",
	} {
		assert.Contains(t, create, want)
	}
	del := cmd.Str("delete")
	assert.Contains(t, del, "k3d cluster delete apphub")
	assert.Contains(t, del, "k3d registry delete apphub-registry")
	assert.Equal(t, []any{"k3d", "apphub", float64(1), float64(2), float64(8080), float64(8443), float64(5050)}, cmd.Plain("triggers"),
		"node counts and ports replace the cluster")
	assert.True(t, cmd.DeleteBeforeReplace, "a fixed-name cluster must be deleted before it is re-created")
	assert.Contains(t, cmd.AdditionalSecrets, "stdout")
	assert.Equal(t, "stderr", cmd.Str("logging"), "stdout (the kubeconfig) never reaches the log")
	runs := m.Runs()
	require.Len(t, runs, 1, "the kubeconfig is read on every run")
	assert.Contains(t, runs[0], "k3d kubeconfig get apphub")
}

func TestLocalClusterK3dScriptsOrderToolCheckFirst(t *testing.T) {
	create := K3dCreateScript(k3dArgs())
	assert.Less(t, strings.Index(create, "command -v k3d"), strings.Index(create, "k3d cluster create"), "missing tools are reported before anything is created")
	assert.Less(t, strings.Index(create, "docker info"), strings.Index(create, "k3d cluster create"))
	assert.Contains(t, create, "set -eu")
	assert.Contains(t, K3dDeleteScript(k3dArgs()), "if k3d cluster get apphub", "destroy succeeds when the cluster is already gone")
}

func TestLocalClusterMinikube(t *testing.T) {
	m, err := run(t, func(ctx *pulumi.Context) error {
		lc, err := NewLocalCluster(ctx, "cluster", &LocalClusterArgs{Kind: LocalClusterMinikube, Name: "apphub", Owner: ourStack, KubernetesVersion: "v1.34.1", CPUs: 4, Memory: "8g"})
		if err != nil {
			return err
		}
		assert.Equal(t, "apphub", await(t, ctx, lc.Context).Value)
		assert.Equal(t, "localhost:5000", await(t, ctx, lc.RegistryPullAddress).Value)
		assert.Equal(t, "registry.kube-system.svc.cluster.local:80", await(t, ctx, lc.RegistryPushAddress).Value)
		return nil
	})
	require.NoError(t, err)
	cmd := m.Find(t, tCommand, "cluster")
	assert.Contains(t, cmd.Str("create"), "command -v minikube")
	assert.Contains(t, cmd.Str("create"), "minikube start --profile apphub --kubernetes-version 'v1.34.1' --cpus 4 --memory 8g --addons ingress --addons registry")
	assert.Contains(t, cmd.Str("create"), "kubectl config view --raw --minify --flatten --context apphub")
	assert.Contains(t, cmd.Str("delete"), "minikube delete --profile apphub")
	assert.Equal(t, []any{"minikube", "apphub", float64(4), "8g"}, cmd.Plain("triggers"))
	assert.True(t, cmd.DeleteBeforeReplace)
}

func TestLocalClusterRejects(t *testing.T) {
	tests := map[string]*LocalClusterArgs{
		"nil":        nil,
		"no name":    {Kind: LocalClusterK3d, Owner: ourStack, Servers: 1},
		"no owner":   {Kind: LocalClusterK3d, Name: "x", Servers: 1},
		"kind":       {Kind: "kind", Name: "x"},
		"no servers": {Kind: LocalClusterK3d, Name: "x", Servers: 0},
	}
	for name, args := range tests {
		t.Run(name, func(t *testing.T) {
			m, err := run(t, func(ctx *pulumi.Context) error {
				_, err := NewLocalCluster(ctx, "cluster", args)
				return err
			})
			require.Error(t, err)
			assert.Zero(t, m.Count())
		})
	}
}
