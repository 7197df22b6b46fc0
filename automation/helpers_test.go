//go:build clitest

package automation

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/stacks"
)

// These tests drive the real Pulumi CLI (built by `make pulumi` into
// ../bin) against a file:// backend in a temp dir, with test programs that
// need no provider plugin: they read the same config the real programs do
// and register a builtin Stash resource, so state, locks and pending
// operations are real.

// repoRoot is where bin/pulumi lives.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	return root
}

// requireCLI fails when the CLI is not built: this tier (build tag
// clitest, run by `make test`) exists to drive it.
func requireCLI(t *testing.T) string {
	t.Helper()
	root := repoRoot(t)
	if _, err := os.Stat(filepath.Join(root, "bin", "pulumi")); err != nil {
		t.Fatalf("bin/pulumi is missing: build it with `make pulumi` (make test does)")
	}
	return root
}

// testPreviewProgram behaves like stacks.Preview without a provider: it
// validates the same config, then stores the launch in a Stash and exports
// the outputs the real program exports. env TEST_SLEEP_MS slows it down,
// TEST_FAIL makes it fail with that message.
func testPreviewProgram(ctx *pulumi.Context) error {
	cfg, err := stacks.ParsePreviewConfig(stacks.PulumiConfig(ctx))
	if err != nil {
		return err
	}
	env := map[string]string{}
	if raw := config.Get(ctx, "env"); raw != "" {
		if err := json.Unmarshal([]byte(raw), &env); err != nil {
			return err
		}
	}
	if ms, _ := strconv.Atoi(env["TEST_SLEEP_MS"]); ms > 0 {
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-ctx.Context().Done():
			return ctx.Context().Err()
		}
	}
	if msg := env["TEST_FAIL"]; msg != "" {
		return fmt.Errorf("%s", msg)
	}
	if _, err := pulumi.NewStash(ctx, "app", &pulumi.StashArgs{Input: pulumi.String(cfg.Image)}); err != nil {
		return err
	}
	ctx.Export(stacks.OutURL, pulumi.String("http://"+cfg.Launch+".preview.test"))
	ctx.Export(stacks.OutHost, pulumi.String(cfg.Launch+".preview.test"))
	ctx.Export(stacks.OutNamespace, pulumi.String("apphub"))
	ctx.Export(stacks.OutServiceName, pulumi.String("preview-"+cfg.Launch))
	ctx.Export(stacks.OutLaunch, pulumi.String(cfg.Launch))
	ctx.Export("envCount", pulumi.Int(len(env)))
	if cfg.ExpiresAt != "" {
		ctx.Export(stacks.OutExpiresAt, pulumi.String(cfg.ExpiresAt))
	}
	return nil
}

// testBuildProgram behaves like stacks.Build: a tag "fail" fails the update
// the way a failed Job does.
func testBuildProgram(ctx *pulumi.Context) error {
	cfg, err := stacks.ParseBuildConfig(stacks.PulumiConfig(ctx))
	if err != nil {
		return err
	}
	if cfg.ImageTag == "fail" {
		return fmt.Errorf("resource build-%s was not created: Job has failed: BackoffLimitExceeded: Job has reached the specified backoff limit", cfg.BuildID)
	}
	if _, err := pulumi.NewStash(ctx, "job", &pulumi.StashArgs{Input: pulumi.String(cfg.BuildContext())}); err != nil {
		return err
	}
	ref := "registry.test:5000/" + cfg.ImageRepository + ":" + cfg.ImageTag
	ctx.Export(stacks.OutImage, pulumi.String(ref))
	ctx.Export(stacks.OutPushRef, pulumi.String(ref))
	ctx.Export(stacks.OutJobName, pulumi.String("build-"+cfg.BuildID))
	ctx.Export(stacks.OutNamespace, pulumi.String("apphub-builds"))
	return nil
}

// testPlatformProgram exports what a deployed platform exports.
func testPlatformProgram(ctx *pulumi.Context) error {
	if _, err := pulumi.NewStash(ctx, "platform", &pulumi.StashArgs{Input: pulumi.String(ctx.Stack())}); err != nil {
		return err
	}
	ctx.Export(stacks.OutNamespace, pulumi.String("apphub"))
	ctx.Export(stacks.OutBuilderImage, pulumi.String("moby/buildkit:v0.23.2-rootless"))
	ctx.Export(stacks.OutBuilderServiceAccount, pulumi.String("apphub-builder"))
	ctx.Export(stacks.OutPreviewServiceAccount, pulumi.String("apphub-preview"))
	ctx.Export(stacks.OutBuildTimeoutSeconds, pulumi.Int(900))
	ctx.Export(stacks.OutBuildJobTTLSeconds, pulumi.Int(3600))
	ctx.Export(stacks.OutPreviewURLTemplate, pulumi.String("http://{launch}.preview.test"))
	ctx.Export(stacks.OutIngressClass, pulumi.String("traefik"))
	ctx.Export(stacks.OutRedisURL, pulumi.ToSecret(pulumi.String("redis://:s3cret@redis:6379/0")))
	ctx.Export(stacks.OutKubeContext, pulumi.String("k3d-test"))
	ctx.Export(stacks.OutKubeconfig, pulumi.ToSecret(pulumi.String("apiVersion: v1\nkind: Config\n")))
	return nil
}

type fakeDigest struct{ calls []string }

func (f *fakeDigest) Digest(_ context.Context, kubeconfig, kubeContext, ns, job string) (string, error) {
	f.calls = append(f.calls, fmt.Sprintf("%s %s/%s kubeconfig=%t", kubeContext, ns, job, kubeconfig != ""))
	return "sha256:" + fmt.Sprintf("%064d", 7), nil
}

// newTestManager builds a Manager on a fresh backend, PULUMI_HOME and
// project dir holding a Pulumi.yaml for the platform.
func newTestManager(t *testing.T, mod func(*Options)) *Manager {
	t.Helper()
	root := requireCLI(t)
	state := t.TempDir()
	project := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(project, "Pulumi.yaml"), []byte("name: apphub\nruntime: go\n"), 0o600))
	opts := Options{
		StateDir:          state,
		BackendURL:        "file://" + state,
		Passphrase:        "test-passphrase",
		PulumiRoot:        root,
		ProjectDir:        project,
		SkipPluginInstall: true,
		MaxConcurrent:     10,
		LaunchMode:        ModeKubernetes,
		BuildMode:         ModeKubernetes,
		PreviewProgram:    testPreviewProgram,
		BuildProgram:      testBuildProgram,
		PlatformProgram:   testPlatformProgram,
		DigestReader:      &fakeDigest{},
	}
	if mod != nil {
		mod(&opts)
	}
	m, err := New(opts)
	require.NoError(t, err)
	require.NoError(t, m.Start(t.Context()))
	return m
}
