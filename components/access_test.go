package components

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAccessCreatesRolesPerGrant(t *testing.T) {
	m, err := run(t, func(ctx *pulumi.Context) error {
		_, err := NewAccess(ctx, "builder", &AccessArgs{
			ServiceAccount:   "apphub-builder",
			Namespace:        ExistingNamespace("apphub-builds"),
			ImagePullSecrets: []string{"apphub-registry"},
			Grants: []Grant{
				{Namespace: ExistingNamespace("apphub-builds"), Rules: []Rule{
					{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: []string{"get", "list", "watch"}},
					{Resources: []string{"secrets"}, Verbs: []string{"get"}, ResourceNames: []string{"apphub-registry"}},
				}},
				{Namespace: ExistingNamespace("apphub"), Rules: []Rule{
					{Resources: []string{"configmaps"}, Verbs: []string{"get"}},
				}},
			},
		})
		return err
	})
	require.NoError(t, err)

	sa := m.Find(t, tServiceAccount, "builder")
	assert.Equal(t, "apphub-builder", sa.Str("metadata.name"))
	assert.Equal(t, "apphub-builds", sa.Str("metadata.namespace"))
	automount, set := sa.Bool("automountServiceAccountToken")
	assert.True(t, set)
	assert.False(t, automount, "tokens are mounted only when a pod asks")
	assert.Equal(t, "apphub-registry", sa.Str("imagePullSecrets.0.name"))
	assertParent(t, sa, AccessType, "builder")

	role := m.Find(t, tRole, "builder-apphub-builds")
	assert.Equal(t, "apphub-builds", role.Str("metadata.namespace"))
	assert.Equal(t, []any{
		map[string]any{"apiGroups": []any{"batch"}, "resources": []any{"jobs"}, "verbs": []any{"get", "list", "watch"}},
		map[string]any{"apiGroups": []any{""}, "resources": []any{"secrets"}, "verbs": []any{"get"}, "resourceNames": []any{"apphub-registry"}},
	}, role.Plain("rules"))

	other := m.Find(t, tRole, "builder-apphub")
	assert.Equal(t, "apphub", other.Str("metadata.namespace"))

	rb := m.Find(t, tRoleBinding, "builder-apphub")
	assert.Equal(t, "apphub", rb.Str("metadata.namespace"))
	assert.Equal(t, "Role", rb.Str("roleRef.kind"))
	assert.Equal(t, "apphub-builder", rb.Str("roleRef.name"))
	assert.Equal(t, map[string]any{"kind": "ServiceAccount", "name": "apphub-builder", "namespace": "apphub-builds"}, rb.Plain("subjects.0"))
	assertParent(t, rb, AccessType, "builder")
	assert.Len(t, m.ByType(tRoleBinding), 2)
}

func TestAccessRejectsBroadRules(t *testing.T) {
	grant := func(r Rule) *AccessArgs {
		return &AccessArgs{ServiceAccount: "sa", Namespace: ExistingNamespace("ns"),
			Grants: []Grant{{Namespace: ExistingNamespace("ns"), Rules: []Rule{r}}}}
	}
	tests := []struct {
		name string
		args *AccessArgs
		want string
	}{
		{"nil", nil, "args are required"},
		{"no service account", &AccessArgs{Namespace: ExistingNamespace("ns")}, "service account name is required"},
		{"wildcard verb", grant(Rule{Resources: []string{"pods"}, Verbs: []string{"*"}}), `wildcard "*"`},
		{"wildcard resource", grant(Rule{Resources: []string{"*"}, Verbs: []string{"get"}}), `wildcard "*"`},
		{"wildcard group", grant(Rule{APIGroups: []string{"*"}, Resources: []string{"pods"}, Verbs: []string{"get"}}), `wildcard "*"`},
		{"exec", grant(Rule{Resources: []string{"pods/exec"}, Verbs: []string{"create"}}), "pods/exec is not allowed"},
		{"escalate", grant(Rule{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"roles"}, Verbs: []string{"escalate"}}), `verb "escalate"`},
		{"empty rule", grant(Rule{Resources: []string{"pods"}}), "resources and verbs are required"},
		{"empty grant", &AccessArgs{ServiceAccount: "sa", Namespace: ExistingNamespace("ns"), Grants: []Grant{{Namespace: ExistingNamespace("ns")}}}, "has no rules"},
		{"duplicate namespace", &AccessArgs{ServiceAccount: "sa", Namespace: ExistingNamespace("ns"), Grants: []Grant{
			{Namespace: ExistingNamespace("ns"), Rules: []Rule{{Resources: []string{"pods"}, Verbs: []string{"get"}}}},
			{Namespace: ExistingNamespace("ns"), Rules: []Rule{{Resources: []string{"pods"}, Verbs: []string{"list"}}}},
		}}, "granted twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := run(t, func(ctx *pulumi.Context) error {
				_, err := NewAccess(ctx, "sa", tt.args)
				return err
			})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Zero(t, m.Count())
		})
	}
}
