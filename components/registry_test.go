package components

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRegistryInCluster(t *testing.T) {
	m, err := run(t, func(ctx *pulumi.Context) error {
		reg, err := NewRegistry(ctx, "registry", &RegistryArgs{
			Namespace:    ExistingNamespace("apphub-system"),
			Name:         "apphub-registry",
			Image:        "registry:2.8.3",
			StorageSize:  "20Gi",
			StorageClass: "fast",
			NodePort:     30500,
		})
		if err != nil {
			return err
		}
		assert.Equal(t, "apphub-registry.apphub-system.svc.cluster.local:5000", await(t, ctx, reg.PushAddress).Value)
		assert.Equal(t, "localhost:30500", await(t, ctx, reg.PullAddress).Value)
		return nil
	})
	require.NoError(t, err)

	pvc := m.Find(t, tPVC, "registry")
	assert.Equal(t, "apphub-system", pvc.Str("metadata.namespace"))
	assert.Equal(t, "20Gi", pvc.Str("spec.resources.requests.storage"))
	assert.Equal(t, "fast", pvc.Str("spec.storageClassName"))
	assert.Equal(t, []string{"ReadWriteOnce"}, pvc.Strings("spec.accessModes"))

	dep := m.Find(t, tDeployment, "registry")
	assert.Equal(t, "Recreate", dep.Str("spec.strategy.type"), "a RWO volume cannot be shared by two pods during a rollout")
	assert.Equal(t, "registry:2.8.3", dep.Str("spec.template.spec.containers.0.image"))
	assert.Equal(t, float64(5000), dep.Num("spec.template.spec.containers.0.ports.0.containerPort"))
	assert.Equal(t, "/v2/", dep.Str("spec.template.spec.containers.0.readinessProbe.httpGet.path"))
	assert.Equal(t, "apphub-registry", dep.Str("spec.template.spec.volumes.0.persistentVolumeClaim.claimName"))
	assert.Equal(t, "/var/lib/registry", dep.Str("spec.template.spec.containers.0.volumeMounts.0.mountPath"))
	nonRoot, _ := dep.Bool("spec.template.spec.securityContext.runAsNonRoot")
	assert.True(t, nonRoot)
	assert.Equal(t, []string{"ALL"}, dep.Strings("spec.template.spec.containers.0.securityContext.capabilities.drop"))
	assert.Equal(t, dep.Plain("spec.selector.matchLabels"), map[string]any{
		"app.kubernetes.io/name": "apphub-registry", "app.kubernetes.io/component": "registry",
	})
	assertParent(t, dep, RegistryType, "registry")

	svc := m.Find(t, tService, "registry")
	assert.Equal(t, "NodePort", svc.Str("spec.type"))
	assert.Equal(t, float64(30500), svc.Num("spec.ports.0.nodePort"))
	assert.Equal(t, "true", svc.Str("metadata.annotations[pulumi.com/skipAwait]"), "the Deployment's await already proves the registry ready")
	assert.Equal(t, dep.Plain("spec.selector.matchLabels"), svc.Plain("spec.selector"), "service selects the registry pods")
}

func TestRegistryRejectsBadArgs(t *testing.T) {
	ok := RegistryArgs{Namespace: ExistingNamespace("ns"), Name: "r", Image: "registry:2", StorageSize: "1Gi", NodePort: 30500}
	lowPort, noImage := ok, ok
	lowPort.NodePort = 5000
	noImage.Image = ""
	for name, args := range map[string]*RegistryArgs{"nil": nil, "node port": &lowPort, "image": &noImage} {
		t.Run(name, func(t *testing.T) {
			m, err := run(t, func(ctx *pulumi.Context) error {
				_, err := NewRegistry(ctx, "registry", args)
				return err
			})
			require.Error(t, err)
			assert.Zero(t, m.Count())
		})
	}
}
