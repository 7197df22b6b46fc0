package automation

import (
	"context"

	"github.com/apphub/apphub-infra/internal/validate"
	"github.com/apphub/apphub-infra/stacks"
)

// checkPlatformLimits refuses, before any stack exists, container requests
// and limits the platform's LimitRange would forbid. When the platform's
// outputs cannot be read, the program's own StackReference reports that.
func (m *Manager) checkPlatformLimits(ctx context.Context, op, stack string, values ...stacks.ContainerResource) error {
	given := false
	for _, v := range values {
		given = given || v.Value != ""
	}
	if !given {
		return nil
	}
	outs, err := m.platformOutputs(ctx)
	if err != nil {
		return nil
	}
	var p validate.Problems
	stacks.CheckPlatformLimits(&p, outs, values...)
	if err := p.Err(); err != nil {
		return invalid(op, stack, err)
	}
	return nil
}

// CheckPreviewLimits is the platform-limit check of PreviewUp on its own, for
// callers that answer before the operation runs (the HTTP API's 400).
func (m *Manager) CheckPreviewLimits(ctx context.Context, spec PreviewSpec) error {
	return m.checkPlatformLimits(ctx, "preview up", PreviewStack(spec.Launch), spec.resources()...)
}

// CheckBuildLimits is the platform-limit check of BuildRun on its own.
func (m *Manager) CheckBuildLimits(ctx context.Context, spec BuildSpec) error {
	return m.checkPlatformLimits(ctx, "build run", BuildStack(spec.ID), spec.resources()...)
}

// resources are the spec's container sizes by their JSON field names.
func (s PreviewSpec) resources() []stacks.ContainerResource {
	return containerResources(s.CPURequest, s.CPULimit, s.MemoryRequest, s.MemoryLimit)
}

func (s BuildSpec) resources() []stacks.ContainerResource {
	return containerResources(s.CPURequest, s.CPULimit, s.MemoryRequest, s.MemoryLimit)
}

// containerResources names the four sizes both specs share, as their JSON
// fields (cpuRequest, cpuLimit, memoryRequest, memoryLimit) say.
func containerResources(cpuRequest, cpuLimit, memoryRequest, memoryLimit string) []stacks.ContainerResource {
	return []stacks.ContainerResource{
		{Field: "cpuRequest", Value: cpuRequest}, {Field: "cpuLimit", Value: cpuLimit},
		{Field: "memoryRequest", Value: memoryRequest, Memory: true}, {Field: "memoryLimit", Value: memoryLimit, Memory: true},
	}
}
