package components

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/internal/testing/testmocks"
)

// run executes fn under fresh recording mocks.
func run(t *testing.T, fn pulumi.RunFunc) (*testmocks.Mocks, error) {
	t.Helper()
	m := testmocks.New()
	return m, m.Run(t, "apphub", "test", nil, nil, fn)
}

// await resolves an output from inside fn.
func await(t *testing.T, ctx *pulumi.Context, o pulumi.Output) testmocks.Value {
	t.Helper()
	v, err := testmocks.Await(ctx.Context(), o)
	require.NoError(t, err)
	return v
}

// assertParent checks that a child is parented to the named component.
func assertParent(t *testing.T, r testmocks.Resource, componentType, componentName string) {
	t.Helper()
	assert.Contains(t, r.Parent, componentType+"::"+componentName, "%s %s must be parented to its component", r.Type, r.Name)
}

const (
	tNamespace      = "kubernetes:core/v1:Namespace"
	tQuota          = "kubernetes:core/v1:ResourceQuota"
	tLimitRange     = "kubernetes:core/v1:LimitRange"
	tServiceAccount = "kubernetes:core/v1:ServiceAccount"
	tSecret         = "kubernetes:core/v1:Secret"
	tService        = "kubernetes:core/v1:Service"
	tPVC            = "kubernetes:core/v1:PersistentVolumeClaim"
	tDeployment     = "kubernetes:apps/v1:Deployment"
	tRole           = "kubernetes:rbac.authorization.k8s.io/v1:Role"
	tRoleBinding    = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
	tRelease        = "kubernetes:helm.sh/v3:Release"
	tPassword       = "random:index/randomPassword:RandomPassword"
)
