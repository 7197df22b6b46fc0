package stacks

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/apphub/apphub-infra/internal/testing/testmocks"
)

// projectFile reads a file from the repository root.
func projectFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", name))
	require.NoError(t, err)
	return b
}

// stackConfig loads Pulumi.<stack>.yaml into plain keys (namespace removed).
func stackConfig(t testing.TB, stack string) map[string]string {
	t.Helper()
	var doc struct {
		Config map[string]string `yaml:"config"`
	}
	require.NoError(t, yaml.Unmarshal(projectFile(t, "Pulumi."+stack+".yaml"), &doc))
	out := map[string]string{}
	for k, v := range doc.Config {
		key, ok := strings.CutPrefix(k, "apphub:")
		require.True(t, ok, "key %q is outside the project namespace", k)
		out[key] = v
	}
	return out
}

// noEnv is an environment without any catalog variable.
func noEnv(string) (string, bool) { return "", false }

// envOf is an environment holding exactly these variables.
func envOf(vars map[string]string) EnvLookup {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

// with returns a copy of base with overrides applied ("" deletes).
func with(base map[string]string, overrides map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range overrides {
		if v == "\x00" {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}

// devValues is the dev stack's config.
func devValues(t testing.TB) map[string]string { return stackConfig(t, "dev") }

// prodValues is the prod stack's config plus the secrets an operator sets.
func prodValues(t testing.TB) (map[string]string, map[string]bool) {
	v := stackConfig(t, "prod")
	v["registryPassword"] = "ghp_prodtoken"
	v["serviceToken"] = "prod-api-token-0123456789"
	v["servicePassphrase"] = "prod-passphrase"
	return v, map[string]bool{"registryPassword": true, "serviceToken": true, "servicePassphrase": true}
}

// allTools finds every command; noTools finds none.
func allTools(name string) (string, error) { return "/usr/local/bin/" + name, nil }
func noTools(name string) (string, error)  { return "", fmt.Errorf("%s: not found", name) }

// plainValues resolves a program's exports to their values.
func plainValues(ctx *pulumi.Context, m pulumi.Map) (map[string]any, error) {
	vals, err := testmocks.AwaitMap(ctx.Context(), m)
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, len(vals))
	for k, v := range vals {
		out[k] = v.Value
	}
	return out, nil
}
