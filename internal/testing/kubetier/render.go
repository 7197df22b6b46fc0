package kubetier

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"gopkg.in/yaml.v3"

	"github.com/apphub/apphub-infra/internal/testing/testmocks"
	"github.com/apphub/apphub-infra/stacks"
)

// StackFile reads Pulumi.<stack>.yaml at the repository root into plain keys.
func StackFile(t testing.TB, root, stack string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "Pulumi."+stack+".yaml"))
	if err != nil {
		t.Fatalf("reading stack file: %v", err)
	}
	var doc struct {
		Config map[string]string `yaml:"config"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("parsing stack file: %v", err)
	}
	out := map[string]string{}
	for k, v := range doc.Config {
		out[strings.TrimPrefix(k, "apphub:")] = v
	}
	return out
}

// Platform runs the platform program with this config and returns its
// objects and its outputs (to feed preview and build stacks).
func Platform(t testing.TB, values map[string]string, secrets map[string]bool) ([]Object, map[string]any) {
	t.Helper()
	cfg, keys := testmocks.ProjectConfig("apphub", values, secrets)
	m := testmocks.New()
	outputs := map[string]any{}
	err := m.Run(t, "apphub", "tier", cfg, keys, func(ctx *pulumi.Context) error {
		c, err := stacks.LoadPlatformConfig(ctx)
		if err != nil {
			return err
		}
		res, err := stacks.NewPlatform(ctx, c)
		if err != nil {
			return err
		}
		vals, err := testmocks.AwaitMap(ctx.Context(), res.Exports)
		for k, v := range vals {
			outputs[k] = v.Value
		}
		return err
	})
	if err != nil {
		t.Fatalf("platform program: %v", err)
	}
	objs, err := Objects(m.Resources())
	if err != nil {
		t.Fatal(err)
	}
	return objs, outputs
}

// Program runs a preview or build program (config keys without project
// prefix) against the given platform outputs, handed over as the Manager
// hands them: as the platformOutputs config.
func Program(t testing.TB, project string, fn pulumi.RunFunc, values map[string]string, platform map[string]any) []Object {
	t.Helper()
	m := testmocks.New()
	cfg, _ := testmocks.ProjectConfig(project, values, nil)
	outs, err := json.Marshal(normalise(platform))
	if err != nil {
		t.Fatal(err)
	}
	cfg[project+":platformOutputs"] = string(outs)
	if err := m.Run(t, project, "tier", cfg, nil, fn); err != nil {
		t.Fatalf("%s program: %v", project, err)
	}
	objs, err := Objects(m.Resources())
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// normalise turns ints into float64, as outputs read back from state are.
func normalise(in map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range in {
		if n, ok := v.(int); ok {
			v = float64(n)
		}
		out[k] = v
	}
	return out
}
