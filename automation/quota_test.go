package automation

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/apphub/apphub-infra/stacks"
)

func quota(used, hard corev1.ResourceList) *corev1.ResourceQuota {
	return &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "apphub-quota", Namespace: "apphub"},
		Status: corev1.ResourceQuotaStatus{Hard: hard, Used: used}}
}

func TestQuotaShortfallNamesTheFullResource(t *testing.T) {
	cfg := &stacks.PreviewStackConfig{Replicas: 2, CPURequest: "100m", MemoryRequest: "128Mi", CPULimit: "500m", MemoryLimit: "512Mi"}
	hard := corev1.ResourceList{corev1.ResourceLimitsCPU: resource.MustParse("8"), corev1.ResourcePods: resource.MustParse("50"),
		corev1.ResourceRequestsMemory: resource.MustParse("8Gi")}
	tests := []struct {
		name   string
		used   corev1.ResourceList
		exists bool
		want   []string
	}{
		{"room for it", corev1.ResourceList{corev1.ResourceLimitsCPU: resource.MustParse("2")}, false, nil},
		{"limits.cpu full: the issue's 20 default previews", corev1.ResourceList{corev1.ResourceLimitsCPU: resource.MustParse("8")}, false,
			[]string{"apphub-quota: limits.cpu requested 1, used 8, hard 8"}},
		{"an update needs one surge pod only", corev1.ResourceList{corev1.ResourceLimitsCPU: resource.MustParse("7500m")}, true, nil},
		{"two resources short", corev1.ResourceList{corev1.ResourceLimitsCPU: resource.MustParse("8"), corev1.ResourcePods: resource.MustParse("49")}, false,
			[]string{"apphub-quota: limits.cpu requested 1, used 8, hard 8", "apphub-quota: pods requested 2, used 49, hard 50"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := fake.NewClientset(quota(tt.used, hard))
			need, err := previewNeed(cfg, tt.exists)
			require.NoError(t, err)
			short, err := quotaShortfall(context.Background(), cs, "apphub", need)
			require.NoError(t, err)
			assert.Equal(t, tt.want, short)
		})
	}
}
