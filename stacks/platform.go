package stacks

import (
	"fmt"
	"os/exec"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/apphub/apphub-infra/components"
)

// Platform is the platform stack program (`pulumi up -s dev|prod`).
func Platform(ctx *pulumi.Context) error { return NewPlatformProgram(PlatformOptions{})(ctx) }

// PlatformOptions are the program's dependencies on its host.
type PlatformOptions struct {
	// LookPath finds the local-cluster tools; nil means exec.LookPath.
	LookPath func(string) (string, error)
}

// NewPlatformProgram returns the platform RunFunc with explicit host
// dependencies (tests pass fixed ones).
func NewPlatformProgram(o PlatformOptions) pulumi.RunFunc {
	if o.LookPath == nil {
		o.LookPath = exec.LookPath
	}
	return func(ctx *pulumi.Context) error {
		cfg, err := LoadPlatformConfig(ctx)
		if err != nil {
			return fmt.Errorf("platform stack %q: invalid config: %w", ctx.Stack(), err)
		}
		if err := cfg.CheckTools(o.LookPath); err != nil {
			return fmt.Errorf("platform stack %q: %w", ctx.Stack(), err)
		}
		out, err := NewPlatform(ctx, cfg)
		if err != nil {
			return fmt.Errorf("platform stack %q: %w", ctx.Stack(), err)
		}
		for k, v := range out.Exports {
			ctx.Export(k, v)
		}
		return nil
	}
}

// PlatformExports is what a platform deployment produced.
type PlatformExports struct {
	// Exports are the stack outputs, keyed by the Out* names.
	Exports pulumi.Map
}

// NewPlatform registers the platform's resources for a validated config:
// the cluster (local kinds), the provider, namespaces, the registry and its
// credentials, identities, runners, Redis, then the outputs and the API
// service that reads them.
func NewPlatform(ctx *pulumi.Context, cfg *PlatformConfig) (*PlatformExports, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	b := &platformBuild{ctx: ctx, cfg: cfg}
	for _, step := range []func() error{
		b.cluster, b.namespaces, b.registry, b.registryCredentials, b.access, b.buildCA, b.builder, b.arc, b.redis, b.outputs, b.publish, b.service,
	} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return &PlatformExports{Exports: b.exports}, nil
}

// platformBuild is what the steps of NewPlatform hand each other.
type platformBuild struct {
	ctx *pulumi.Context
	cfg *PlatformConfig

	local      *components.LocalCluster
	withK8s    pulumi.ResourceOption
	kubeconfig *pulumi.StringOutput

	previews, builds, system *components.Namespace

	push                      string // the push address, for the registry login
	host                      string
	pushOut, pullOut, hostOut pulumi.StringOutput
	registrySecret            string
	buildCAMap                string // the builds' CA bundle ConfigMap, if any
	buildCARes                pulumi.Resource
	builderAddress            pulumi.StringOutput // the persistent builder, if any
	builderClientSecret       pulumi.StringOutput
	arcScaleSet               string
	redisURL                  pulumi.StringOutput
	exports                   pulumi.Map
}

func (b *platformBuild) cluster() error {
	c := b.cfg
	if c.Cluster.Kind == ClusterK3d || c.Cluster.Kind == ClusterMinikube {
		var err error
		b.local, err = components.NewLocalCluster(b.ctx, "cluster", &components.LocalClusterArgs{
			Kind: c.Cluster.Kind, Name: c.Cluster.Name,
			Owner:    b.ctx.Organization() + "/" + b.ctx.Project() + "/" + b.ctx.Stack(),
			K3sImage: c.Cluster.K3sImage, KubernetesVersion: c.Cluster.MinikubeKubernetesVersion,
			Servers: c.Cluster.K3dServers, Agents: c.Cluster.K3dAgents,
			HTTPPort: c.Cluster.K3dHTTPPort, HTTPSPort: c.Cluster.K3dHTTPSPort,
			RegistryHostPort: c.Registry.HostPort,
			CPUs:             c.Cluster.MinikubeCPUs, Memory: c.Cluster.MinikubeMemory,
		})
		if err != nil {
			return err
		}
	}
	k8s, kubeconfig, err := newKubernetesProvider(b.ctx, c, b.local)
	if err != nil {
		return err
	}
	b.withK8s, b.kubeconfig = pulumi.Provider(k8s), kubeconfig
	return nil
}

func (b *platformBuild) namespaces() error {
	var err error
	b.previews, b.builds, b.system, err = newPlatformNamespaces(b.ctx, b.cfg, b.withK8s, pulumi.Protect(b.cfg.Protection.Protect))
	return err
}

func (b *platformBuild) registry() error {
	c := b.cfg
	var pull string
	b.push, pull, b.host = c.externalRegistryAddresses()
	b.pushOut, b.pullOut = pulumi.String(b.push).ToStringOutput(), pulumi.String(pull).ToStringOutput()
	b.hostOut = pulumi.String(b.host).ToStringOutput()
	switch c.Registry.Kind {
	case RegistryK3d, RegistryMinikube:
		// Validation ties these kinds to the matching local cluster.
		b.pushOut, b.pullOut, b.hostOut = b.local.RegistryPushAddress, b.local.RegistryPullAddress, b.local.RegistryHostAddress
		b.push = c.localRegistryPushAddress()
	case RegistryInCluster:
		reg, err := components.NewRegistry(b.ctx, "registry", &components.RegistryArgs{
			Namespace:    b.system.Ref(),
			Name:         "apphub-registry",
			Image:        c.Registry.Image,
			StorageSize:  c.Registry.StorageSize,
			StorageClass: c.Registry.StorageClass,
			NodePort:     c.Registry.NodePort,
			// The images every preview runs live on this volume.
			ProtectVolume: c.Protection.Protect,
		}, b.withK8s)
		if err != nil {
			return err
		}
		b.pushOut, b.pullOut = reg.PushAddress, reg.PullAddress
	}
	return nil
}

// registryCredentials creates the pull/push Secret; without credentials
// there is none, and previews pull anonymously.
func (b *platformBuild) registryCredentials() error {
	c := b.cfg
	if c.Registry.Username == "" {
		return nil
	}
	b.registrySecret = c.Registry.SecretName
	login := RegistryLoginHost(b.push)
	if c.Registry.Kind == RegistryExternal {
		login = RegistryLoginHost(c.Registry.Server)
	}
	_, err := components.NewRegistryCredentials(b.ctx, "registry-credentials", &components.RegistryCredentialsArgs{
		SecretName: b.registrySecret,
		Namespaces: registryNamespaces(c, b.previews, b.builds, b.system),
		Server:     login,
		Username:   pulumi.String(c.Registry.Username),
		Password:   c.Registry.Password.Output(),
	}, b.withK8s)
	return err
}

func (b *platformBuild) access() error {
	return newPlatformAccess(b.ctx, b.cfg, b.previews, b.builds, b.system, b.registrySecret, b.withK8s)
}

func (b *platformBuild) arc() error {
	if !b.cfg.ARC.Enabled() {
		return nil
	}
	a := b.cfg.ARC
	if _, err := components.NewARC(b.ctx, "arc", &components.ARCArgs{
		ControllerNamespace: a.ControllerNamespace,
		RunnersNamespace:    a.RunnersNamespace,
		ControllerRelease:   a.ControllerRelease,
		ControllerChart:     a.ControllerChartRef(),
		ScaleSetChart:       a.ScaleSetChartRef(),
		GitHubConfigURL:     a.GitHubConfigURL,
		AppID:               a.AppID.Output(),
		InstallationID:      a.AppInstallationID.Output(),
		PrivateKey:          a.AppPrivateKey.Output(),
		ScaleSetName:        a.ScaleSetName,
		MinRunners:          a.MinRunners,
		MaxRunners:          a.MaxRunners,
		RunnerImage:         a.RunnerImage,
		BuildkitImage:       a.BuildkitImage,
		Kubeconfig:          kubeconfigOrEmpty(b.kubeconfig),
		KubeContext:         pulumi.String(kubeContext(b.cfg)),

		FinalizerTimeoutSeconds: a.FinalizerTimeoutSeconds,
	}, b.withK8s); err != nil {
		return err
	}
	b.arcScaleSet = a.ScaleSetName
	return nil
}

func (b *platformBuild) redis() error {
	c := b.cfg
	redis, err := components.NewRedis(b.ctx, "redis", &components.RedisArgs{
		Namespace:       b.system.Ref(),
		ReleaseName:     "apphub-redis",
		Chart:           c.Redis.ChartRef(),
		AuthEnabled:     c.Redis.Auth,
		Persistence:     c.Redis.Persistence,
		PersistenceSize: c.Redis.PersistenceSize,
		StorageClass:    c.Registry.StorageClass,
		ImageRegistry:   c.Redis.ImageRegistry,
		ImageRepository: c.Redis.ImageRepository,
		ImageTag:        c.Redis.ImageTag,
		TimeoutSeconds:  600,
	}, b.withK8s)
	if err != nil {
		return err
	}
	b.redisURL = redis.URL
	return nil
}

func (b *platformBuild) service() error {
	if !b.cfg.Service.Enabled {
		return nil
	}
	return newPlatformService(b.ctx, b.cfg, b.system, b.exports, b.registrySecret, b.withK8s)
}

// kubeContext is the kubeconfig context of the target cluster.
// kubeconfigOrEmpty is the provider's kubeconfig for tools that reach the
// cluster themselves; empty means the default kubeconfig.
func kubeconfigOrEmpty(k *pulumi.StringOutput) pulumi.StringInput {
	if k == nil {
		return pulumi.String("")
	}
	return *k
}

func kubeContext(cfg *PlatformConfig) string {
	switch cfg.Cluster.Kind {
	case ClusterK3d:
		return "k3d-" + cfg.Cluster.Name
	case ClusterMinikube:
		return cfg.Cluster.Name
	}
	return cfg.Cluster.Context
}

// newKubernetesProvider is the one explicit provider every platform resource
// uses, so nothing ever falls back to the ambient kubeconfig context. A
// local cluster's kubeconfig (a secret) configures it, which also makes
// every Kubernetes resource wait for the cluster. The kubeconfig it used, if
// any, is returned for the stack's outputs.
func newKubernetesProvider(ctx *pulumi.Context, cfg *PlatformConfig, local *components.LocalCluster) (*kubernetes.Provider, *pulumi.StringOutput, error) {
	args := &kubernetes.ProviderArgs{
		Context:               pulumi.String(kubeContext(cfg)),
		EnableServerSideApply: pulumi.Bool(true),
	}
	var kubeconfig *pulumi.StringOutput
	switch {
	case local != nil:
		kubeconfig = &local.Kubeconfig
		args.Context = local.Context
	case cfg.Cluster.Kubeconfig.IsSet():
		k := cfg.Cluster.Kubeconfig.Output()
		kubeconfig = &k
	}
	if kubeconfig != nil {
		args.Kubeconfig = *kubeconfig
	}
	p, err := kubernetes.NewProvider(ctx, "k8s", args)
	if err != nil {
		return nil, nil, fmt.Errorf("creating kubernetes provider: %w", err)
	}
	return p, kubeconfig, nil
}

func newPlatformNamespaces(ctx *pulumi.Context, cfg *PlatformConfig, opts ...pulumi.ResourceOption) (previews, builds, system *components.Namespace, err error) {
	limits := &components.LimitsArgs{
		DefaultRequestCPU: cfg.Limits.DefaultRequestCPU, DefaultRequestMemory: cfg.Limits.DefaultRequestMemory,
		DefaultCPU: cfg.Limits.DefaultCPU, DefaultMemory: cfg.Limits.DefaultMemory,
		MaxCPU: cfg.Limits.MaxCPU, MaxMemory: cfg.Limits.MaxMemory,
	}
	var annotations [3]map[string]string
	for i, raw := range []string{cfg.Namespaces.PreviewAnnotations, cfg.Namespaces.BuildAnnotations, cfg.Namespaces.SystemAnnotations} {
		if annotations[i], err = ParseAnnotations(raw); err != nil {
			return nil, nil, nil, fmt.Errorf("namespace annotations: %w", err)
		}
	}
	previews, err = components.NewNamespace(ctx, "previews", &components.NamespaceArgs{
		Name:        cfg.Namespaces.Previews,
		Enforce:     components.PodSecurityRestricted,
		Labels:      map[string]string{"apphub.io/role": "previews"},
		Annotations: annotations[0],
		Quota: &components.QuotaArgs{
			RequestsCPU: cfg.PreviewQuota.RequestsCPU, RequestsMemory: cfg.PreviewQuota.RequestsMemory,
			LimitsCPU: cfg.PreviewQuota.LimitsCPU, LimitsMemory: cfg.PreviewQuota.LimitsMemory,
			Pods: cfg.PreviewQuota.Pods,
			// Previews are stateless; claims would outlive their launch.
			PersistentVolumeClaims: new(int),
		},
		Limits: limits,
	}, opts...)
	if err != nil {
		return nil, nil, nil, err
	}
	// Rootless BuildKit needs seccomp and AppArmor "Unconfined", which even
	// "baseline" forbids. Builds get their own namespace that enforces
	// "privileged" but warns and audits at "baseline", so anything beyond
	// BuildKit's needs is visible, and no preview ever runs there.
	builds, err = components.NewNamespace(ctx, "builds", &components.NamespaceArgs{
		Name:        cfg.Namespaces.Builds,
		Enforce:     components.PodSecurityPrivileged,
		Warn:        components.PodSecurityBaseline,
		Labels:      map[string]string{"apphub.io/role": "builds"},
		Annotations: annotations[1],
		Quota: &components.QuotaArgs{
			RequestsCPU: cfg.BuildQuota.RequestsCPU, RequestsMemory: cfg.BuildQuota.RequestsMemory,
			LimitsCPU: cfg.BuildQuota.LimitsCPU, LimitsMemory: cfg.BuildQuota.LimitsMemory,
			Pods: cfg.BuildQuota.Pods,
		},
		Limits: limits,
	}, opts...)
	if err != nil {
		return nil, nil, nil, err
	}
	// Redis and the registry run as non-root but the bitnami chart's init
	// containers and volume permissions are outside our control: baseline.
	system, err = components.NewNamespace(ctx, "system", &components.NamespaceArgs{
		Name:        cfg.Namespaces.System,
		Enforce:     components.PodSecurityBaseline,
		Warn:        components.PodSecurityRestricted,
		Labels:      map[string]string{"apphub.io/role": "system"},
		Annotations: annotations[2],
	}, opts...)
	if err != nil {
		return nil, nil, nil, err
	}
	return previews, builds, system, nil
}

func newPlatformAccess(ctx *pulumi.Context, cfg *PlatformConfig, previews, builds, system *components.Namespace, registrySecret string, opts ...pulumi.ResourceOption) error {
	var pullSecrets []string
	if registrySecret != "" {
		pullSecrets = []string{registrySecret}
	}
	identities := []struct {
		name string
		args *components.AccessArgs
	}{
		{"preview-identity", &components.AccessArgs{
			ServiceAccount:   cfg.ServiceAccounts.Preview,
			Namespace:        previews.Ref(),
			ImagePullSecrets: pullSecrets,
			Grants:           []components.Grant{{Namespace: previews.Ref(), Rules: previewRules()}},
		}},
		{"builder-identity", &components.AccessArgs{
			ServiceAccount:   cfg.ServiceAccounts.Builder,
			Namespace:        builds.Ref(),
			ImagePullSecrets: pullSecrets,
			Grants:           []components.Grant{{Namespace: builds.Ref(), Rules: builderRules(registrySecret)}},
		}},
		{"deployer-identity", &components.AccessArgs{
			ServiceAccount: cfg.ServiceAccounts.Deployer,
			Namespace:      system.Ref(),
			// apphubctl serve runs as this identity and talks to the API.
			AutomountToken: true,
			Grants: []components.Grant{
				{Namespace: previews.Ref(), Rules: deployerPreviewRules()},
				{Namespace: builds.Ref(), Rules: deployerBuildRules(registrySecret)},
				{Namespace: system.Ref(), Rules: deployerSystemRules()},
			},
		}},
	}
	for _, id := range identities {
		if _, err := components.NewAccess(ctx, id.name, id.args, opts...); err != nil {
			return err
		}
	}
	return nil
}

// registryNamespaces are where the pull secret goes: the workloads', and
// the system namespace when the API service's image comes from there too.
func registryNamespaces(cfg *PlatformConfig, previews, builds, system *components.Namespace) []components.NamespaceRef {
	refs := []components.NamespaceRef{previews.Ref(), builds.Ref()}
	if cfg.Service.Enabled {
		refs = append(refs, system.Ref())
	}
	return refs
}
