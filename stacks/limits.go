package stacks

import (
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/apphub/apphub-infra/internal/validate"
)

// ContainerResource is one cpu or memory request or limit of a request, by
// the field name its caller used.
type ContainerResource struct {
	Field, Value string
	Memory       bool
}

// CheckPlatformLimits refuses requests and limits above the platform's
// LimitRange maximum per container (the containerMaxCpu/containerMaxMemory
// outputs). The API server would forbid every pod of such a workload, and
// the update would only time out. A platform without those outputs (older
// than this check) is not checked here.
func CheckPlatformLimits(p *validate.Problems, outputs map[string]any, values ...ContainerResource) {
	for _, v := range values {
		if v.Value == "" {
			continue
		}
		key := OutContainerMaxCPU
		if v.Memory {
			key = OutContainerMaxMemory
		}
		limit, _ := outputs[key].(string)
		max, err := resource.ParseQuantity(limit)
		if err != nil {
			continue
		}
		q, err := resource.ParseQuantity(v.Value)
		if err == nil && q.Cmp(max) > 0 {
			p.Add(v.Field, "%s exceeds the platform's maximum per container (%s %s): the cluster would refuse every pod", v.Value, key, max.String())
		}
	}
}
