package stacks

import (
	"encoding/json"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/apphub/apphub-infra/internal/testing/testmocks"
)

// Program evaluation under mocks: what the engine waits for while our Go
// code registers resources, per run, without the CLI. A regression in
// these shows up as ns/op or allocs/op (see docs/benchmarks.md):
//
//	go test -run '^$' -bench Program -benchmem ./stacks

func BenchmarkPlatformProgram(b *testing.B) {
	prod, secrets := prodValues(b)
	for _, c := range []struct {
		name    string
		values  map[string]string
		secrets map[string]bool
	}{
		{"dev", devValues(b), nil},
		{"prod", prod, secrets},
	} {
		b.Run(c.name, func(b *testing.B) {
			cfg, secretKeys := testmocks.ProjectConfig("apphub", c.values, c.secrets)
			program := NewPlatformProgram(PlatformOptions{LookPath: allTools})
			benchProgram(b, "apphub", c.name, cfg, secretKeys, nil, program)
		})
	}
}

// benchPlatform is the platform as the Manager hands it to a stack: its
// outputs as the platformOutputs config.
func benchPlatform(b *testing.B) map[string]string {
	raw, err := json.Marshal(devPlatformOutputs())
	if err != nil {
		b.Fatal(err)
	}
	return map[string]string{"platformOutputs": string(raw)}
}

func BenchmarkPreviewProgram(b *testing.B) {
	values := previewValues(with(map[string]string{"env": `{"LOG_LEVEL":"debug"}`, "replicas": "2", "expiresAt": "2026-11-23T12:00:00Z"}, benchPlatform(b)))
	cfg, _ := testmocks.ProjectConfig(PreviewProject, values, nil)
	benchProgram(b, PreviewProject, "preview-pr-42", cfg, nil, nil, Preview)
}

func BenchmarkBuildProgram(b *testing.B) {
	cfg, _ := testmocks.ProjectConfig(BuildProject, buildValues(benchPlatform(b)), nil)
	benchProgram(b, BuildProject, "build-b-7", cfg, nil, nil, Build)
}

// benchProgram runs program once per iteration on fresh mocks and fails if
// a run errors or registers a different number of resources than the
// first: a benchmark of a program that stopped working measures nothing.
func benchProgram(b *testing.B, project, stack string, cfg map[string]string, secretKeys []string, platform map[string]any, program pulumi.RunFunc) {
	b.ReportAllocs()
	want := -1
	for b.Loop() {
		m := platformMocks(platform)
		if err := m.Run(b, project, stack, cfg, secretKeys, program); err != nil {
			b.Fatalf("%s/%s: %v", project, stack, err)
		}
		switch n := m.Count(); {
		case want < 0:
			want = n
		case n != want:
			b.Fatalf("%s/%s registered %d resources, the first run %d", project, stack, n, want)
		}
	}
	b.ReportMetric(float64(want), "resources/run")
}
