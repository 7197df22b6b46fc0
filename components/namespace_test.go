package components

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNamespaceRestrictedWithQuotaAndLimits(t *testing.T) {
	var ref NamespaceRef
	m, err := run(t, func(ctx *pulumi.Context) error {
		ns, err := NewNamespace(ctx, "previews", &NamespaceArgs{
			Name:        "apphub",
			Enforce:     PodSecurityRestricted,
			Labels:      map[string]string{"apphub.io/role": "previews"},
			Annotations: map[string]string{"scheduler.alpha.kubernetes.io/node-selector": "pool=previews"},
			Quota: &QuotaArgs{
				RequestsCPU: "4", RequestsMemory: "8Gi", LimitsCPU: "8", LimitsMemory: "16Gi",
				Pods: 40, PersistentVolumeClaims: new(5),
			},
			Limits: &LimitsArgs{
				DefaultRequestCPU: "100m", DefaultRequestMemory: "128Mi",
				DefaultCPU: "500m", DefaultMemory: "512Mi",
				MaxCPU: "2", MaxMemory: "4Gi",
			},
		})
		if err != nil {
			return err
		}
		ref = ns.Ref()
		assert.Equal(t, "apphub", await(t, ctx, ns.Name).Value)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, "previews", ref.Key)

	ns := m.Find(t, tNamespace, "previews")
	assert.Equal(t, "apphub", ns.Str("metadata.name"))
	assert.Equal(t, map[string]any{
		"pod-security.kubernetes.io/enforce":         "restricted",
		"pod-security.kubernetes.io/enforce-version": "latest",
		"pod-security.kubernetes.io/warn":            "restricted",
		"pod-security.kubernetes.io/warn-version":    "latest",
		"pod-security.kubernetes.io/audit":           "restricted",
		"pod-security.kubernetes.io/audit-version":   "latest",
		"app.kubernetes.io/managed-by":               "pulumi",
		"app.kubernetes.io/part-of":                  "apphub",
		"app.kubernetes.io/name":                     "apphub",
		"app.kubernetes.io/component":                "namespace",
		"apphub.io/role":                             "previews",
	}, ns.Plain("metadata.labels"))
	assert.Equal(t, map[string]any{"scheduler.alpha.kubernetes.io/node-selector": "pool=previews"}, ns.Plain("metadata.annotations"))
	assertParent(t, ns, NamespaceType, "previews")

	quota := m.Find(t, tQuota, "previews-quota")
	assert.Equal(t, "apphub", quota.Str("metadata.namespace"))
	assert.Equal(t, map[string]any{
		"requests.cpu": "4", "requests.memory": "8Gi", "limits.cpu": "8", "limits.memory": "16Gi",
		"pods": "40", "persistentvolumeclaims": "5",
	}, quota.Plain("spec.hard"))
	assertParent(t, quota, NamespaceType, "previews")

	lr := m.Find(t, tLimitRange, "previews-limits")
	assert.Equal(t, "apphub", lr.Str("metadata.namespace"))
	assert.Equal(t, "Container", lr.Str("spec.limits.0.type"))
	assert.Equal(t, map[string]any{"cpu": "100m", "memory": "128Mi"}, lr.Plain("spec.limits.0.defaultRequest"))
	assert.Equal(t, map[string]any{"cpu": "500m", "memory": "512Mi"}, lr.Plain("spec.limits.0.default"))
	assert.Equal(t, map[string]any{"cpu": "2", "memory": "4Gi"}, lr.Plain("spec.limits.0.max"))
}

func TestNamespacePrivilegedWarnsAtStricterLevel(t *testing.T) {
	m, err := run(t, func(ctx *pulumi.Context) error {
		_, err := NewNamespace(ctx, "builds", &NamespaceArgs{Name: "apphub-builds", Enforce: PodSecurityPrivileged, Warn: PodSecurityBaseline})
		return err
	})
	require.NoError(t, err)
	ns := m.Find(t, tNamespace, "builds")
	labels := ns.Plain("metadata.labels").(map[string]any)
	assert.Equal(t, "privileged", labels["pod-security.kubernetes.io/enforce"])
	assert.Equal(t, "baseline", labels["pod-security.kubernetes.io/warn"])
	assert.Equal(t, "baseline", labels["pod-security.kubernetes.io/audit"])
	assert.Empty(t, m.ByType(tQuota), "no quota configured, none created")
	assert.Empty(t, m.ByType(tLimitRange))
}

func TestNamespaceRejectsBadArgs(t *testing.T) {
	tests := []struct {
		name string
		args *NamespaceArgs
		want string
	}{
		{"nil args", nil, "args are required"},
		{"no name", &NamespaceArgs{Enforce: PodSecurityRestricted}, "name is required"},
		{"unknown level", &NamespaceArgs{Name: "x", Enforce: "strict"}, `unknown pod security level "strict"`},
		{"unknown warn level", &NamespaceArgs{Name: "x", Enforce: PodSecurityBaseline, Warn: "loud"}, `unknown pod security level "loud"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := run(t, func(ctx *pulumi.Context) error {
				_, err := NewNamespace(ctx, "ns", tt.args)
				return err
			})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Zero(t, m.Count(), "nothing may be registered for invalid args")
		})
	}
}

// A claim bound of 0 is "none", as Kubernetes reads it; nil sets none.
func TestQuotaClaimBound(t *testing.T) {
	tests := []struct {
		name  string
		pvcs  *int
		want  string
		unset bool
	}{
		{"none allowed", new(0), "0", false},
		{"three", new(3), "3", false},
		{"no bound", nil, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := run(t, func(ctx *pulumi.Context) error {
				_, err := NewNamespace(ctx, "ns", &NamespaceArgs{Name: "q", Enforce: PodSecurityRestricted,
					Quota: &QuotaArgs{RequestsCPU: "1", RequestsMemory: "1Gi", LimitsCPU: "1", LimitsMemory: "1Gi", Pods: 1, PersistentVolumeClaims: tt.pvcs}})
				return err
			})
			require.NoError(t, err)
			hard := m.Find(t, "kubernetes:core/v1:ResourceQuota", "ns-quota").Plain("spec.hard").(map[string]any)
			if tt.unset {
				assert.NotContains(t, hard, "persistentvolumeclaims")
				return
			}
			assert.Equal(t, tt.want, hard["persistentvolumeclaims"])
		})
	}
}
