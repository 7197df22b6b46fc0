package stacks

import (
	"fmt"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/apphub/apphub-infra/components"
)

// outputs are the stack outputs: what the catalog needs and what preview
// and build stacks read (see platform_outputs.go for the names).
func (b *platformBuild) outputs() error {
	c := b.cfg
	b.exports = pulumi.Map{
		OutNamespace:              b.previews.Name,
		OutBuildNamespace:         b.builds.Name,
		OutSystemNamespace:        b.system.Name,
		OutIngressNamespace:       pulumi.String(c.Namespaces.Ingress),
		OutBuilderServiceAccount:  pulumi.String(c.ServiceAccounts.Builder),
		OutPreviewServiceAccount:  pulumi.String(c.ServiceAccounts.Preview),
		OutDeployerServiceAccount: pulumi.String(c.ServiceAccounts.Deployer),
		OutBuilderImage:           pulumi.String(c.Build.BuilderImage),
		OutBuildTimeoutSeconds:    pulumi.Int(c.Build.TimeoutSeconds),
		OutBuildJobTTLSeconds:     pulumi.Int(c.Build.JobTTLSeconds),
		OutContainerMaxCPU:        pulumi.String(c.Limits.MaxCPU),
		OutContainerMaxMemory:     pulumi.String(c.Limits.MaxMemory),
		OutIngressClass:           pulumi.String(c.Preview.IngressClass),
		OutPreviewDNSEgress:       pulumi.String(c.Preview.DNSEgress),
		OutPreviewReadyTimeout:    pulumi.Int(c.Preview.ReadyTimeoutSeconds),
		OutRegistryPushAddress:    b.pushOut,
		OutRegistryPullAddress:    b.pullOut,
		// An external registry speaks TLS unless registryInsecure says not;
		// the others are plain HTTP inside the cluster network.
		OutRegistryInsecure: pulumi.Bool(c.Registry.Kind != RegistryExternal || c.Registry.Insecure),
		OutRedisURL:         b.redisURL,
		OutRegistryKind:     pulumi.String(c.Registry.Kind),
		OutKubeContext:      pulumi.String(kubeContext(c)),
	}
	optional := map[string]struct {
		set   bool
		value pulumi.Input
	}{
		OutPreviewURLTemplate:  {c.Preview.URLTemplate != "", pulumi.String(c.Preview.URLTemplate)},
		OutPreviewHostTemplate: {c.Preview.URLTemplate == "", pulumi.String(c.Preview.HostTemplate)},
		OutPreviewScheme:       {c.Preview.URLTemplate == "", pulumi.String(c.Preview.Scheme)},
		OutPreviewTLSSecret:    {c.Preview.TLSSecret != "", pulumi.String(c.Preview.TLSSecret)},
		OutRegistryHostAddress: {b.host != "" || b.local != nil, b.hostOut},
		OutRunnerScaleSet:      {b.arcScaleSet != "", pulumi.String(b.arcScaleSet)},
		OutRegistrySecret:      {b.registrySecret != "", pulumi.String(b.registrySecret)},
		OutBuildCAConfigMap:    {b.buildCAMap != "", pulumi.String(b.buildCAMap)},
		OutBuildCABundle:       {b.buildCAMap != "", pulumi.String(c.Build.CABundle)},
	}
	for k, o := range optional {
		if o.set {
			b.exports[k] = o.value
		}
	}
	if b.arcScaleSet != "" {
		b.exports[OutARCControllerNamespace] = pulumi.String(c.ARC.ControllerNamespace)
		b.exports[OutARCRunnersNamespace] = pulumi.String(c.ARC.RunnersNamespace)
		b.exports[OutARCMinRunners] = pulumi.Int(c.ARC.MinRunners)
		b.exports[OutARCMaxRunners] = pulumi.Int(c.ARC.MaxRunners)
	}
	if c.Build.Builder.Mode == BuilderPersistent {
		b.exports[OutBuilderAddress] = b.builderAddress
		b.exports[OutBuilderClientSecret] = b.builderClientSecret
	}
	if c.Service.Enabled {
		b.exports[OutServiceReplicas] = pulumi.Int(c.Service.Replicas)
	}
	if b.kubeconfig != nil {
		b.exports[OutKubeconfig] = *b.kubeconfig
	}
	return nil
}

// publish copies the exports previews and builds read into the platform's
// ConfigMap in the system namespace: the one place every reader (the CLI
// with a kubeconfig, the service with its pod identity) reads the platform
// from, afresh at each operation.
func (b *platformBuild) publish() error {
	_, err := corev1.NewConfigMap(b.ctx, "platform-outputs", &corev1.ConfigMapArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name: pulumi.String(PlatformConfigMap), Namespace: b.system.Name,
			Labels: components.Labels(PlatformConfigMap, "platform"),
		},
		Data: pulumi.StringMap{PlatformOutputsKey: platformOutputsJSON(b.exports)},
	}, b.withK8s)
	if err != nil {
		return fmt.Errorf("creating the platform's ConfigMap: %w", err)
	}
	return nil
}
