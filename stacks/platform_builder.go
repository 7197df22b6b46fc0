package stacks

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/apphub/apphub-infra/components"
	"github.com/apphub/apphub-infra/internal/validate"
)

// builder deploys the persistent BuildKit daemon in the build namespace
// (builderMode persistent); build stacks send their builds to it.
func (b *platformBuild) builder() error {
	c := b.cfg.Build.Builder
	if c.Mode != BuilderPersistent {
		return nil
	}
	var p validate.Problems
	gc, _ := c.GCKeepStorage(&p) // validated with the rest of the config
	if err := p.Err(); err != nil {
		return err
	}
	builder, err := components.NewBuilder(b.ctx, "builder", &components.BuilderArgs{
		Namespace:     b.cfg.Namespaces.Builds,
		Image:         b.cfg.Build.BuilderImage,
		Replicas:      c.Replicas,
		StorageSize:   c.StorageSize,
		StorageClass:  b.cfg.Registry.StorageClass,
		GCKeepStorage: gc,
		Resources: components.ContainerResources{
			CPURequest: c.CPURequest, MemoryRequest: c.MemoryRequest, CPULimit: c.CPULimit, MemoryLimit: c.MemoryLimit,
		},
		CAConfigMap: b.buildCAMap,
		DependsOn:   b.buildDeps(),
	}, b.withK8s)
	if err != nil {
		return err
	}
	b.builderAddress, b.builderClientSecret = builder.Address, builder.ClientSecret
	return nil
}

// buildDeps are what must exist before anything runs in the build
// namespace: the namespace with its quota and limits, and the CA bundle.
func (b *platformBuild) buildDeps() []pulumi.Resource {
	deps := []pulumi.Resource{b.builds}
	if b.buildCARes != nil {
		deps = append(deps, b.buildCARes)
	}
	return deps
}
