//go:build clitest

package automation

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/apphub/apphub-infra/internal/testing/testprograms"
)

// BenchmarkPreviewCycle measures one preview create and destroy through the
// Manager with the test program (CLI, engine and file backend costs; no
// cluster): go test -tags clitest -run '^$' -bench PreviewCycle ./automation
func BenchmarkPreviewCycle(b *testing.B) {
	m := newBenchManager(b)
	ctx := b.Context()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		launch := fmt.Sprintf("bench-%d", i)
		if _, err := m.PreviewUp(ctx, PreviewSpec{Launch: launch, Image: "registry.test/app:1"}); err != nil {
			b.Fatal(err)
		}
		if _, err := m.PreviewDestroy(ctx, launch); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTenConcurrentPreviews measures the wall time of 10 previews
// created at once (MaxConcurrent 10).
func BenchmarkTenConcurrentPreviews(b *testing.B) {
	m := newBenchManager(b)
	ctx := b.Context()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var wg sync.WaitGroup
		errs := make(chan error, 10)
		for j := 0; j < 10; j++ {
			wg.Add(1)
			go func(j int) {
				defer wg.Done()
				_, err := m.PreviewUp(ctx, PreviewSpec{Launch: fmt.Sprintf("b%d-%d", i, j), Image: "registry.test/app:1"})
				errs <- err
			}(j)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

func newBenchManager(b *testing.B) *Manager {
	b.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		b.Fatal(err)
	}
	state := b.TempDir()
	m, err := New(Options{
		StateDir: state, BackendURL: "file://" + state, Passphrase: "p", PulumiRoot: root, ProjectDir: b.TempDir(),
		SkipPluginInstall: true, MaxConcurrent: 10, LaunchMode: ModeKubernetes, BuildMode: ModeKubernetes,
		PreviewProgram: testprograms.Preview, BuildProgram: testprograms.Build, PlatformProgram: testprograms.Platform,
		KubeClient: testprograms.KubeClient(testprograms.PlatformCluster(testprograms.PlatformOutputs())),
	})
	if err != nil {
		b.Fatal(err)
	}
	return m
}
