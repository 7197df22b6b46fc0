package stacks

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/internal/validate"
)

func TestCheckPlatformLimits(t *testing.T) {
	outs := map[string]any{OutContainerMaxCPU: "4", OutContainerMaxMemory: "8Gi"}
	tests := []struct {
		name   string
		outs   map[string]any
		values []ContainerResource
		want   map[string]string // field -> part of its rule
	}{
		{"within", outs, []ContainerResource{{Field: "memoryLimit", Value: "8Gi", Memory: true}, {Field: "cpuLimit", Value: "4000m"}}, nil},
		{"memory above", outs, []ContainerResource{{Field: "memoryLimit", Value: "9Gi", Memory: true}},
			map[string]string{"memoryLimit": "9Gi exceeds the platform's maximum per container (containerMaxMemory 8Gi)"}},
		{"request above too", outs, []ContainerResource{{Field: "--memory-request", Value: "10Gi", Memory: true}, {Field: "cpuLimit", Value: "5"}},
			map[string]string{"--memory-request": "containerMaxMemory 8Gi", "cpuLimit": "5 exceeds the platform's maximum per container (containerMaxCpu 4)"}},
		{"empty values take the defaults", outs, []ContainerResource{{Field: "memoryLimit", Memory: true}}, nil},
		{"older platform without the outputs", map[string]any{}, []ContainerResource{{Field: "memoryLimit", Value: "64Gi", Memory: true}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p validate.Problems
			CheckPlatformLimits(&p, tt.outs, tt.values...)
			if tt.want == nil {
				assert.NoError(t, p.Err())
				return
			}
			var errs validate.Errors
			require.ErrorAs(t, p.Err(), &errs)
			require.Len(t, errs, len(tt.want))
			for _, fe := range errs {
				assert.Contains(t, fe.Rule, tt.want[fe.Field], fe.Field)
			}
		})
	}
}
