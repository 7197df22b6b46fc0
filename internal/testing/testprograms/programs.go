// Package testprograms holds stand-ins for the preview, build and platform
// programs that need no provider plugin, for tests that drive the real
// Pulumi CLI: they validate the same config as the real programs, register
// a builtin Stash resource (so state, locks and pending operations are
// real) and export the outputs the real programs export.
package testprograms

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/apphub/apphub-infra/stacks"
)

// Preview behaves like stacks.Preview without a provider: it
// validates the same config, then stores the launch in a Stash and exports
// the outputs the real program exports. env TEST_SLEEP_MS slows it down,
// TEST_FAIL makes it fail with that message.
func Preview(ctx *pulumi.Context) error {
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

// Build behaves like stacks.Build: a tag "fail" fails the update
// the way a failed Job does.
func Build(ctx *pulumi.Context) error {
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

// Platform exports what a deployed platform exports.
func Platform(ctx *pulumi.Context) error {
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
