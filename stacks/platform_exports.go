package stacks

import "github.com/pulumi/pulumi/sdk/v3/go/pulumi"

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
		OutRegistryPushAddress:    b.pushOut,
		OutRegistryPullAddress:    b.pullOut,
		// Only an external registry speaks TLS; the others are plain HTTP
		// inside the cluster network.
		OutRegistryInsecure: pulumi.Bool(c.Registry.Kind != RegistryExternal),
		OutRedisURL:         b.redisURL,
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
	}
	for k, o := range optional {
		if o.set {
			b.exports[k] = o.value
		}
	}
	if b.kubeconfig != nil {
		b.exports[OutKubeconfig] = *b.kubeconfig
	}
	return nil
}
