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
	// Env supplies the catalog's APPHUB_* overrides; nil means the process
	// environment.
	Env EnvLookup
	// LookPath finds the local-cluster tools; nil means exec.LookPath.
	LookPath func(string) (string, error)
}

// NewPlatformProgram returns the platform RunFunc with explicit host
// dependencies (tests pass fixed ones).
func NewPlatformProgram(o PlatformOptions) pulumi.RunFunc {
	if o.Env == nil {
		o.Env = OSEnv
	}
	if o.LookPath == nil {
		o.LookPath = exec.LookPath
	}
	return func(ctx *pulumi.Context) error {
		cfg, err := LoadPlatformConfig(ctx, o.Env)
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

// PlatformResult is what a platform deployment produced.
type PlatformResult struct {
	// Exports are the stack outputs, keyed by the Out* names.
	Exports pulumi.Map
}

// NewPlatform registers the platform's resources for a validated config.
func NewPlatform(ctx *pulumi.Context, cfg *PlatformConfig) (*PlatformResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	var local *components.LocalCluster
	if cfg.Cluster.Kind == ClusterK3d || cfg.Cluster.Kind == ClusterMinikube {
		var err error
		local, err = components.NewLocalCluster(ctx, "cluster", &components.LocalClusterArgs{
			Kind: cfg.Cluster.Kind, Name: cfg.Cluster.Name,
			Servers: cfg.Cluster.K3dServers, Agents: cfg.Cluster.K3dAgents,
			HTTPPort: cfg.Cluster.K3dHTTPPort, HTTPSPort: cfg.Cluster.K3dHTTPSPort,
			RegistryHostPort: cfg.Registry.HostPort,
			CPUs:             cfg.Cluster.MinikubeCPUs, Memory: cfg.Cluster.MinikubeMemory,
		})
		if err != nil {
			return nil, err
		}
	}
	k8s, kubeconfig, err := newKubernetesProvider(ctx, cfg, local)
	if err != nil {
		return nil, err
	}
	withK8s := pulumi.Provider(k8s)

	previews, builds, system, err := newPlatformNamespaces(ctx, cfg, withK8s)
	if err != nil {
		return nil, err
	}

	push, pull, host := cfg.externalRegistryAddresses()
	pushOut, pullOut := pulumi.String(push).ToStringOutput(), pulumi.String(pull).ToStringOutput()
	hostOut := pulumi.String(host).ToStringOutput()
	switch cfg.Registry.Kind {
	case RegistryK3d, RegistryMinikube:
		// Validation ties these kinds to the matching local cluster.
		pushOut, pullOut, hostOut = local.RegistryPushAddress, local.RegistryPullAddress, local.RegistryHostAddress
		push = cfg.localRegistryPushAddress()
	case RegistryInCluster:
		reg, err := components.NewRegistry(ctx, "registry", &components.RegistryArgs{
			Namespace:    system.Ref(),
			Name:         "apphub-registry",
			Image:        cfg.Registry.Image,
			StorageSize:  cfg.Registry.StorageSize,
			StorageClass: cfg.Registry.StorageClass,
			NodePort:     cfg.Registry.NodePort,
		}, withK8s)
		if err != nil {
			return nil, err
		}
		pushOut, pullOut = reg.PushAddress, reg.PullAddress
	}

	// Without credentials there is no Secret, and previews pull anonymously.
	registrySecret := ""
	if cfg.Registry.Username != "" {
		registrySecret = cfg.Registry.SecretName
		login := registryLoginHost(push)
		if cfg.Registry.Kind == RegistryExternal {
			login = registryLoginHost(cfg.Registry.Server)
		}
		if _, err := components.NewRegistryCredentials(ctx, "registry-credentials", &components.RegistryCredentialsArgs{
			SecretName: registrySecret,
			Namespaces: registryNamespaces(cfg, previews, builds, system),
			Server:     login,
			Username:   pulumi.String(cfg.Registry.Username),
			Password:   cfg.Registry.Password.Output(),
		}, withK8s); err != nil {
			return nil, err
		}
	}

	if err := newPlatformAccess(ctx, cfg, previews, builds, system, registrySecret, withK8s); err != nil {
		return nil, err
	}

	var arcScaleSet string
	if cfg.ARC.Enabled() {
		a := cfg.ARC
		if _, err := components.NewARC(ctx, "arc", &components.ARCArgs{
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
			Kubeconfig:          kubeconfigOrEmpty(kubeconfig),
			KubeContext:         pulumi.String(kubeContext(cfg)),

			FinalizerTimeoutSeconds: a.FinalizerTimeoutSeconds,
		}, withK8s); err != nil {
			return nil, err
		}
		arcScaleSet = a.ScaleSetName
	}

	redis, err := components.NewRedis(ctx, "redis", &components.RedisArgs{
		Namespace:       system.Ref(),
		ReleaseName:     "apphub-redis",
		Chart:           cfg.Redis.ChartRef(),
		AuthEnabled:     cfg.Redis.Auth,
		Persistence:     cfg.Redis.Persistence,
		PersistenceSize: cfg.Redis.PersistenceSize,
		StorageClass:    cfg.Registry.StorageClass,
		ImageRegistry:   cfg.Redis.ImageRegistry,
		ImageRepository: cfg.Redis.ImageRepository,
		ImageTag:        cfg.Redis.ImageTag,
		TimeoutSeconds:  600,
	}, withK8s)
	if err != nil {
		return nil, err
	}

	exports := pulumi.Map{
		OutNamespace:              previews.Name,
		OutBuildNamespace:         builds.Name,
		OutSystemNamespace:        system.Name,
		OutIngressNamespace:       pulumi.String(cfg.Namespaces.Ingress),
		OutBuilderServiceAccount:  pulumi.String(cfg.ServiceAccounts.Builder),
		OutPreviewServiceAccount:  pulumi.String(cfg.ServiceAccounts.Preview),
		OutDeployerServiceAccount: pulumi.String(cfg.ServiceAccounts.Deployer),
		OutBuilderImage:           pulumi.String(cfg.Build.BuilderImage),
		OutBuildTimeoutSeconds:    pulumi.Int(cfg.Build.TimeoutSeconds),
		OutBuildJobTTLSeconds:     pulumi.Int(cfg.Build.JobTTLSeconds),
		OutContainerMaxCPU:        pulumi.String(cfg.Limits.MaxCPU),
		OutContainerMaxMemory:     pulumi.String(cfg.Limits.MaxMemory),
		OutIngressClass:           pulumi.String(cfg.Preview.IngressClass),
		OutRegistryPushAddress:    pushOut,
		OutRegistryPullAddress:    pullOut,
		// Only an external registry speaks TLS; the others are plain HTTP
		// inside the cluster network.
		OutRegistryInsecure: pulumi.Bool(cfg.Registry.Kind != RegistryExternal),
		OutRedisURL:         redis.URL,
		OutKubeContext:      pulumi.String(kubeContext(cfg)),
	}
	if cfg.Preview.URLTemplate != "" {
		exports[OutPreviewURLTemplate] = pulumi.String(cfg.Preview.URLTemplate)
	} else {
		exports[OutPreviewHostTemplate] = pulumi.String(cfg.Preview.HostTemplate)
		exports[OutPreviewScheme] = pulumi.String(cfg.Preview.Scheme)
	}
	if cfg.Preview.TLSSecret != "" {
		exports[OutPreviewTLSSecret] = pulumi.String(cfg.Preview.TLSSecret)
	}
	if host != "" || local != nil {
		exports[OutRegistryHostAddress] = hostOut
	}
	if kubeconfig != nil {
		exports[OutKubeconfig] = *kubeconfig
	}
	if arcScaleSet != "" {
		exports[OutRunnerScaleSet] = pulumi.String(arcScaleSet)
	}
	if registrySecret != "" {
		exports[OutRegistrySecret] = pulumi.String(registrySecret)
	}
	if cfg.Service.Enabled {
		if err := newPlatformService(ctx, cfg, system, exports, registrySecret, withK8s); err != nil {
			return nil, err
		}
	}
	return &PlatformResult{Exports: exports}, nil
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
	previews, err = components.NewNamespace(ctx, "previews", &components.NamespaceArgs{
		Name:    cfg.Namespaces.Previews,
		Enforce: components.PodSecurityRestricted,
		Labels:  map[string]string{"apphub.io/role": "previews"},
		Quota: &components.QuotaArgs{
			RequestsCPU: cfg.PreviewQuota.RequestsCPU, RequestsMemory: cfg.PreviewQuota.RequestsMemory,
			LimitsCPU: cfg.PreviewQuota.LimitsCPU, LimitsMemory: cfg.PreviewQuota.LimitsMemory,
			Pods: cfg.PreviewQuota.Pods,
			// Previews are stateless; claims would outlive their launch.
			PersistentVolumeClaims: 0,
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
		Name:    cfg.Namespaces.Builds,
		Enforce: components.PodSecurityPrivileged,
		Warn:    components.PodSecurityBaseline,
		Labels:  map[string]string{"apphub.io/role": "builds"},
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
		Name:    cfg.Namespaces.System,
		Enforce: components.PodSecurityBaseline,
		Warn:    components.PodSecurityRestricted,
		Labels:  map[string]string{"apphub.io/role": "system"},
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
				{Namespace: builds.Ref(), Rules: deployerBuildRules()},
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
