//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/automation"
	"github.com/apphub/apphub-infra/stacks"
)

// retriedCreate reproduces an update interrupted after it applied a
// launch's Deployment and before it recorded it: the stack's state is made
// to forget the object (`pulumi state delete`), exactly what the dying
// attempt leaves, and the update is retried with another image. The retry
// creates the object again, which the provider turns into an apply over
// the existing one; every attempt applies as the stack's one field
// manager, so the new image is taken instead of failing with a field
// conflict against the earlier attempt's manager.
func retriedCreate(ctx context.Context, t *testing.T, e *env, m *automation.Manager) {
	const launch = "e2e-retry"
	stack := automation.PreviewStack(launch)
	name := "preview-" + launch
	spec := automation.PreviewSpec{Launch: launch, Image: "registry.test/apps/web:1"}
	_, err := m.PreviewUp(ctx, spec)
	require.NoError(t, err)

	dir := filepath.Join(m.Options().WorkDir, stacks.PreviewProject, stack)
	out, err := e.cliIn(ctx, t, dir, stack, "stack", "export")
	require.NoError(t, err)
	urn := resourceURN(t, out, "kubernetes:apps/v1:Deployment")
	_, err = e.cliIn(ctx, t, dir, stack, "state", "delete", urn, "--yes", "--target-dependents")
	require.NoError(t, err)

	spec.Image = "registry.test/apps/web:2"
	_, err = m.PreviewUp(ctx, spec)
	require.NoError(t, err, "the retry applies over what the interrupted attempt created")
	assert.Equal(t, "registry.test/apps/web:2", kubectl(t, "get", "deploy", "-n", "apphub", name, "-o", "jsonpath={.spec.template.spec.containers[0].image}"))
	managers := kubectl(t, "get", "deploy", "-n", "apphub", name, "-o", "jsonpath={.metadata.managedFields[*].manager}")
	assert.Contains(t, managers, "apphub-preview-"+launch)
	assert.NotContains(t, managers, "pulumi-kubernetes-", "no attempt applied as a random field manager")

	_, err = m.PreviewDestroy(ctx, launch)
	require.NoError(t, err)
	assert.Empty(t, kubectl(t, "get", "deploy,svc,ingress,networkpolicy", "-n", "apphub", "-l", "apphub.io/launch="+launch, "-o", "name"))
}

// resourceURN finds the one resource of a type in `pulumi stack export`.
func resourceURN(t *testing.T, exported, typ string) string {
	t.Helper()
	var doc struct {
		Deployment struct {
			Resources []struct{ URN, Type string } `json:"resources"`
		} `json:"deployment"`
	}
	require.NoError(t, json.Unmarshal([]byte(exported[strings.Index(exported, "{"):]), &doc))
	var urns []string
	for _, r := range doc.Deployment.Resources {
		if r.Type == typ {
			urns = append(urns, r.URN)
		}
	}
	require.Len(t, urns, 1, "one %s in the stack", typ)
	return urns[0]
}
