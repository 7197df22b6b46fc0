package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"

	"github.com/apphub/apphub-infra/automation"
	"github.com/apphub/apphub-infra/internal/testing/testprograms"
	"github.com/apphub/apphub-infra/stacks"
)

// A driver creates, updates and destroys preview stacks one way. Each
// operation checks its own result, so a driver that stops working fails
// the benchmark instead of getting faster.
type driver interface {
	Name() string
	Create(ctx context.Context, launch, image string) error
	Update(ctx context.Context, launch, image string) error
	Destroy(ctx context.Context, launch string) error
}

// env is what both drivers share: the CLI, a passphrase, a file backend.
type env struct {
	pulumiRoot string // directory holding bin/pulumi
	dir        string // this driver's state
	passphrase string
}

func (e env) backendDir() string { return filepath.Join(e.dir, "backend") }

// pulumiHome is PULUMI_HOME for the CLI calls the bench makes itself (the
// naive driver's and the state checks').
func (e env) pulumiHome() string { return filepath.Join(e.dir, "home") }

// cliEnv is what those CLI calls need to reach the env's backend.
func (e env) cliEnv() map[string]string {
	return map[string]string{
		"PULUMI_BACKEND_URL": "file://" + e.backendDir(), "PULUMI_CONFIG_PASSPHRASE": e.passphrase,
		"PULUMI_SKIP_UPDATE_CHECK": "true",
	}
}

func previewURL(launch string) string { return "http://" + launch + ".preview.test" }

// ours drives the automation.Manager, as apphubctl and the HTTP API do.
type ours struct{ m *automation.Manager }

func newOurs(e env, maxConcurrent int) (*ours, error) {
	m, err := automation.New(automation.Options{
		StateDir: e.dir, BackendURL: "file://" + e.backendDir(), Passphrase: e.passphrase,
		PulumiRoot: e.pulumiRoot, ProjectDir: e.dir, SkipPluginInstall: true, MaxConcurrent: maxConcurrent,
		LaunchMode: automation.ModeKubernetes, BuildMode: automation.ModeKubernetes,
		PreviewProgram: testprograms.Preview, BuildProgram: testprograms.Build, PlatformProgram: testprograms.Platform,
		// The platform's ConfigMap from an in-memory API server: the bench
		// measures the Manager and the Pulumi CLI, not a cluster.
		KubeClient: testprograms.KubeClient(testprograms.PlatformCluster(testprograms.PlatformOutputs())),
	})
	if err != nil {
		return nil, err
	}
	return &ours{m: m}, nil
}

func (o *ours) Name() string { return "apphub (Manager)" }

func (o *ours) up(ctx context.Context, launch, image, change string, want int) error {
	r, err := o.m.PreviewUp(ctx, automation.PreviewSpec{Launch: launch, Image: image})
	if err != nil {
		return err
	}
	if r.URL != previewURL(launch) {
		return fmt.Errorf("%s: url %q", launch, r.URL)
	}
	if r.LastUpdate == nil || r.LastUpdate.Changes[change] != want {
		return fmt.Errorf("%s: expected %d %s, got %+v", launch, want, change, r.LastUpdate)
	}
	return nil
}

func (o *ours) Create(ctx context.Context, launch, image string) error {
	return o.up(ctx, launch, image, "create", 2)
}

func (o *ours) Update(ctx context.Context, launch, image string) error {
	return o.up(ctx, launch, image, "update", 1)
}

func (o *ours) Destroy(ctx context.Context, launch string) error {
	r, err := o.m.PreviewDestroy(ctx, launch)
	if err != nil {
		return err
	}
	if r.AlreadyGone || r.State != automation.StateDestroyed {
		return fmt.Errorf("%s: destroy found nothing to destroy (%+v)", launch, r)
	}
	return nil
}

// naive is the baseline: the pattern of the automation-api-examples HTTP
// server. Every request opens the stack through a LocalWorkspace in one
// shared directory, sets each config key with its own CLI call, runs the
// operation and reads outputs through the SDK; stacks share the directory,
// so requests run one at a time (pulumi/pulumi#8186). Like the example,
// each request also looks the CLI up again (a `pulumi version` call).
type naive struct {
	mu   sync.Mutex
	e    env
	work string
}

func newNaive(e env) (*naive, error) {
	work := filepath.Join(e.dir, "shared-workspace")
	if err := os.MkdirAll(work, 0o700); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(e.backendDir(), 0o700); err != nil {
		return nil, err
	}
	return &naive{e: e, work: work}, nil
}

func (n *naive) Name() string { return "naive (shared workspace)" }

func (n *naive) opts() ([]auto.LocalWorkspaceOption, error) {
	cmd, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: n.e.pulumiRoot})
	if err != nil {
		return nil, err
	}
	return []auto.LocalWorkspaceOption{
		auto.WorkDir(n.work), auto.Pulumi(cmd), auto.PulumiHome(n.e.pulumiHome()),
		auto.SecretsProvider("passphrase"), auto.EnvVars(n.e.cliEnv()),
		auto.Project(workspace.Project{Name: tokens.PackageName(stacks.PreviewProject), Runtime: workspace.NewProjectRuntimeInfo("go", nil)}),
	}, nil
}

func (n *naive) up(ctx context.Context, launch, image string, create bool) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	opts, err := n.opts()
	if err != nil {
		return err
	}
	stack := automation.PreviewStack(launch)
	var s auto.Stack
	if create {
		s, err = auto.NewStackInlineSource(ctx, stack, stacks.PreviewProject, testprograms.Preview, opts...)
	} else {
		s, err = auto.SelectStackInlineSource(ctx, stack, stacks.PreviewProject, testprograms.Preview, opts...)
	}
	if err != nil {
		return err
	}
	for k, v := range map[string]string{"platformStack": "organization/apphub/dev", "launch": launch, "image": image} {
		if err := s.SetConfig(ctx, stacks.PreviewProject+":"+k, auto.ConfigValue{Value: v}); err != nil {
			return err
		}
	}
	res, err := s.Up(ctx)
	if err != nil {
		return err
	}
	if url, _ := res.Outputs[stacks.OutURL].Value.(string); url != previewURL(launch) {
		return fmt.Errorf("%s: url %q", launch, url)
	}
	return nil
}

func (n *naive) Create(ctx context.Context, launch, image string) error {
	return n.up(ctx, launch, image, true)
}

func (n *naive) Update(ctx context.Context, launch, image string) error {
	return n.up(ctx, launch, image, false)
}

func (n *naive) Destroy(ctx context.Context, launch string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	opts, err := n.opts()
	if err != nil {
		return err
	}
	stack := automation.PreviewStack(launch)
	s, err := auto.SelectStackInlineSource(ctx, stack, stacks.PreviewProject, testprograms.Preview, opts...)
	if err != nil {
		return err
	}
	if _, err := s.Destroy(ctx); err != nil {
		return err
	}
	return s.Workspace().RemoveStack(ctx, stack)
}
