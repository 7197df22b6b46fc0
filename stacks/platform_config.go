package stacks

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/apphub/apphub-infra/components"

	"github.com/apphub/apphub-infra/internal/validate"
)

// Cluster kinds.
const (
	ClusterK3d      = "k3d"
	ClusterMinikube = "minikube"
	ClusterExisting = "existing"
)

// Registry kinds: provided by the local cluster (k3d, minikube), run by this
// stack (in-cluster), or someone else's (external).
const (
	RegistryK3d       = "k3d"
	RegistryMinikube  = "minikube"
	RegistryInCluster = "in-cluster"
	RegistryExternal  = "external"
)

// PlatformConfig is the typed config of a platform stack. Field tags name
// the Pulumi config key, its default and the catalog variable that
// overrides it (see config_loader.go).
type PlatformConfig struct {
	Cluster         ClusterConfig
	Namespaces      NamespacesConfig
	ServiceAccounts ServiceAccountsConfig
	PreviewQuota    PreviewQuotaConfig
	BuildQuota      BuildQuotaConfig
	Limits          LimitsConfig
	Registry        RegistryConfig
	Redis           RedisConfig
	Preview         PreviewConfig
	Build           BuildConfig
	ARC             ARCConfig
	Service         ServiceConfig
	Postgres        PostgresConfig
	Protection      ProtectionConfig
}

// ProtectionConfig guards what holds data against a destroy or a
// replacement: the namespaces (deleting one deletes every object in it),
// the service's database and the in-cluster registry's volume. A
// protected resource is deleted only after `protect` is set to false and
// applied (or `pulumi state unprotect`).
type ProtectionConfig struct {
	Protect bool `key:"protect" default:"false"`
}

// ClusterConfig says which cluster the platform goes to and, for local
// clusters, how to create it.
type ClusterConfig struct {
	Kind string `key:"clusterKind" default:"k3d"`
	// Name of the local cluster; the k3d kubeconfig context is k3d-<name>.
	Name string `key:"clusterName" default:"apphub"`
	// Kubeconfig is a path or the file's contents (existing clusters).
	Kubeconfig Secret `key:"kubeconfig"`
	// Context must be named for existing clusters: applying a platform to
	// whatever context happens to be current is how production gets hurt.
	Context        string `key:"kubeContext"`
	K3dServers     int    `key:"k3dServers" default:"1"`
	K3dAgents      int    `key:"k3dAgents" default:"2"`
	K3dHTTPPort    int    `key:"k3dHttpPort" default:"80"`
	K3dHTTPSPort   int    `key:"k3dHttpsPort" default:"443"`
	MinikubeCPUs   int    `key:"minikubeCpus" default:"4"`
	MinikubeMemory string `key:"minikubeMemory" default:"8g"`
	// K3sImage and MinikubeKubernetesVersion pin a local cluster's
	// Kubernetes (at least MinKubernetesMinor); they apply when it is
	// created.
	K3sImage                  string `key:"k3sImage" default:"rancher/k3s:v1.34.1-k3s1"`
	MinikubeKubernetesVersion string `key:"minikubeKubernetesVersion" default:"v1.34.1"`
}

// MinKubernetesMinor is the oldest Kubernetes 1.x the manifests need:
// appArmorProfile in security contexts, the preStop sleep action and
// native sidecars are all 1.30.
const MinKubernetesMinor = 30

// NamespacesConfig names the platform's namespaces.
type NamespacesConfig struct {
	// Previews is the launch namespace the catalog knows as
	// APPHUB_K8S_NAMESPACE; it enforces Pod Security "restricted".
	Previews string `key:"namespace" default:"apphub" env:"APPHUB_K8S_NAMESPACE"`
	// Builds runs rootless BuildKit, which needs unconfined seccomp.
	Builds string `key:"buildNamespace" default:"apphub-builds"`
	// System holds Redis and the in-cluster registry.
	System string `key:"systemNamespace" default:"apphub-system"`
	// Ingress is where the ingress controller runs; previews admit traffic
	// only from there.
	Ingress string `key:"ingressNamespace" default:"kube-system"`
	// Annotations of the namespaces above, each a JSON object (see
	// ParseAnnotations): what the cluster reads on a namespace, such as
	// PodNodeSelector's node pool for all its pods.
	PreviewAnnotations string `key:"previewNamespaceAnnotations"`
	BuildAnnotations   string `key:"buildNamespaceAnnotations"`
	SystemAnnotations  string `key:"systemNamespaceAnnotations"`
}

// ServiceAccountsConfig names the workload identities.
type ServiceAccountsConfig struct {
	Builder  string `key:"builderServiceAccount" default:"apphub-builder" env:"APPHUB_K8S_BUILDER_SERVICE_ACCOUNT"`
	Preview  string `key:"previewServiceAccount" default:"apphub-preview" env:"APPHUB_K8S_LAUNCH_SERVICE_ACCOUNT"`
	Deployer string `key:"deployerServiceAccount" default:"apphub-deployer"`
}

// PreviewQuotaConfig caps the preview namespace.
type PreviewQuotaConfig struct {
	RequestsCPU    string `key:"previewQuotaCpu" default:"4"`
	RequestsMemory string `key:"previewQuotaMemory" default:"8Gi"`
	LimitsCPU      string `key:"previewQuotaCpuLimit" default:"8"`
	LimitsMemory   string `key:"previewQuotaMemoryLimit" default:"16Gi"`
	Pods           int    `key:"previewQuotaPods" default:"50"`
}

// BuildQuotaConfig caps the build namespace.
type BuildQuotaConfig struct {
	RequestsCPU    string `key:"buildQuotaCpu" default:"4"`
	RequestsMemory string `key:"buildQuotaMemory" default:"8Gi"`
	LimitsCPU      string `key:"buildQuotaCpuLimit" default:"8"`
	LimitsMemory   string `key:"buildQuotaMemoryLimit" default:"16Gi"`
	Pods           int    `key:"buildQuotaPods" default:"10"`
}

// LimitsConfig is the LimitRange of both workload namespaces.
type LimitsConfig struct {
	DefaultRequestCPU    string `key:"containerCpuRequest" default:"100m"`
	DefaultRequestMemory string `key:"containerMemoryRequest" default:"128Mi"`
	DefaultCPU           string `key:"containerCpuLimit" default:"500m"`
	DefaultMemory        string `key:"containerMemoryLimit" default:"512Mi"`
	MaxCPU               string `key:"containerMaxCpu" default:"4"`
	MaxMemory            string `key:"containerMaxMemory" default:"8Gi"`
}

// RegistryConfig says where images are pushed and pulled.
type RegistryConfig struct {
	Kind string `key:"registryKind" default:"k3d"`
	// Server is host[:port][/namespace] of an external registry.
	Server   string `key:"registryServer"`
	Username string `key:"registryUsername"`
	Password Secret `key:"registryPassword"`
	// Insecure: an external registry served over plain HTTP (a registry on
	// a private network); builds push to it with registry.insecure.
	Insecure bool `key:"registryInsecure" default:"false"`
	// SecretName is the dockerconfigjson Secret (APPHUB_K8S_REGISTRY_SECRET).
	SecretName  string `key:"registrySecretName" default:"apphub-registry" env:"APPHUB_K8S_REGISTRY_SECRET"`
	HostPort    int    `key:"registryHostPort" default:"5050"`
	Image       string `key:"registryImage" default:"registry:2.8.3"`
	StorageSize string `key:"registryStorageSize" default:"10Gi"`
	NodePort    int    `key:"registryNodePort" default:"30500"`
	// StorageClass applies to the registry and Redis volumes; empty is the
	// cluster default.
	StorageClass string `key:"storageClass"`
}

// RedisConfig configures the catalog's Redis.
type RedisConfig struct {
	Chart           string `key:"redisChart" default:"oci://registry-1.docker.io/bitnamicharts/redis"`
	ChartVersion    string `key:"redisChartVersion" default:"20.13.4"`
	ChartRepository string `key:"redisChartRepository"`
	Auth            bool   `key:"redisAuth" default:"false"`
	Persistence     bool   `key:"redisPersistence" default:"false"`
	PersistenceSize string `key:"redisPersistenceSize" default:"8Gi"`
	ImageRegistry   string `key:"redisImageRegistry"`
	ImageRepository string `key:"redisImageRepository" default:"bitnamilegacy/redis"`
	ImageTag        string `key:"redisImageTag"`
}

// PreviewConfig is how preview URLs are formed and routed.
type PreviewConfig struct {
	IngressClass string `key:"ingressClass" default:"traefik" env:"APPHUB_K8S_INGRESS_CLASS"`
	URLTemplate  string `key:"previewUrlTemplate" env:"APPHUB_K8S_PREVIEW_URL_TEMPLATE"`
	HostTemplate string `key:"previewHostTemplate" env:"APPHUB_K8S_PREVIEW_HOST_TEMPLATE"`
	Scheme       string `key:"previewScheme" default:"http" env:"APPHUB_K8S_PREVIEW_SCHEME"`
	TLSSecret    string `key:"previewTlsSecret"`
	// DNSEgress is where previews may send DNS queries: "kube-dns" (the
	// pods labelled k8s-app=kube-dns, CoreDNS) and CIDRs such as NodeLocal
	// DNSCache's 169.254.20.10/32, whose host-network pods no pod selector
	// matches (GKE, EKS).
	DNSEgress string `key:"previewDnsEgress" default:"kube-dns,169.254.20.10/32"`
	// ReadyTimeoutSeconds is how long a preview's rollout may go without
	// progress (its Deployment's progressDeadlineSeconds): an app whose
	// readiness probe never passes fails after this long, saying so.
	ReadyTimeoutSeconds int `key:"previewReadyTimeoutSeconds" default:"300"`
}

// BuildConfig is how build Jobs run.
type BuildConfig struct {
	BuilderImage   string `key:"builderImage" default:"moby/buildkit:v0.23.2-rootless" env:"APPHUB_K8S_BUILDER_IMAGE"`
	TimeoutSeconds int    `key:"buildTimeoutSeconds" default:"900" env:"APPHUB_K8S_BUILD_TIMEOUT_SECONDS"`
	JobTTLSeconds  int    `key:"buildJobTtlSeconds" default:"3600" env:"APPHUB_K8S_BUILD_JOB_TTL_SECONDS"`
	// CABundle is PEM certificates builds trust besides the builder
	// image's own: a git server or registry with an internal CA.
	CABundle string `key:"buildCaBundle"`
	Builder  BuilderConfig
}

// Builder modes: a BuildKit daemon that keeps its cache between builds,
// or one started inside each build Job and gone with it.
const (
	BuilderPersistent = "persistent"
	BuilderEphemeral  = "ephemeral"
)

// BuilderConfig is the persistent builder (builderMode persistent): its
// replicas each keep a cache volume, and BuildKit's GC keeps the cache
// under builderCacheMaxSize.
type BuilderConfig struct {
	Mode        string `key:"builderMode" default:"persistent"`
	Replicas    int    `key:"builderReplicas" default:"1"`
	StorageSize string `key:"builderStorageSize" default:"20Gi"`
	// CacheMaxSize is the most the cache may hold; empty is 80% of the
	// volume, leaving room for a build's working files.
	CacheMaxSize  string `key:"builderCacheMaxSize"`
	CPURequest    string `key:"builderCpuRequest" default:"500m"`
	MemoryRequest string `key:"builderMemoryRequest" default:"1Gi"`
	CPULimit      string `key:"builderCpuLimit" default:"2"`
	MemoryLimit   string `key:"builderMemoryLimit" default:"4Gi"`
}

// ARCConfig configures the GitHub Actions Runner Controller. It is off
// unless GitHub settings are given, and then all four are required.
type ARCConfig struct {
	GitHubConfigURL     string `key:"arcGithubConfigUrl"`
	AppID               Secret `key:"arcGithubAppId"`
	AppInstallationID   Secret `key:"arcGithubAppInstallationId"`
	AppPrivateKey       Secret `key:"arcGithubAppPrivateKey"`
	ControllerNamespace string `key:"arcControllerNamespace" default:"arc-systems"`
	RunnersNamespace    string `key:"arcRunnersNamespace" default:"arc-runners"`
	ControllerRelease   string `key:"arcControllerRelease" default:"arc"`
	ControllerChart     string `key:"arcControllerChart" default:"oci://ghcr.io/actions/actions-runner-controller-charts/gha-runner-scale-set-controller"`
	ScaleSetChart       string `key:"arcScaleSetChart" default:"oci://ghcr.io/actions/actions-runner-controller-charts/gha-runner-scale-set"`
	ChartRepository     string `key:"arcChartRepository"`
	ChartVersion        string `key:"arcChartVersion" default:"0.14.2"`
	ScaleSetName        string `key:"arcRunnerScaleSetName" default:"apphub-runners"`
	MinRunners          int    `key:"arcMinRunners" default:"1"`
	MaxRunners          int    `key:"arcMaxRunners" default:"5"`
	RunnerImage         string `key:"arcRunnerImage" default:"ghcr.io/actions/actions-runner:2.334.0"`
	BuildkitImage       string `key:"arcBuildkitImage" default:"moby/buildkit:v0.23.2-rootless"`
	// FinalizerTimeoutSeconds bounds a destroy's wait for the controller.
	FinalizerTimeoutSeconds int `key:"arcFinalizerTimeoutSeconds" default:"120"`
}

// ControllerChartRef is where the controller chart comes from.
func (a *ARCConfig) ControllerChartRef() components.ChartRef {
	return components.ChartRef{Chart: a.ControllerChart, Version: a.ChartVersion, Repository: a.ChartRepository}
}

// ScaleSetChartRef is where the scale-set chart comes from.
func (a *ARCConfig) ScaleSetChartRef() components.ChartRef {
	return components.ChartRef{Chart: a.ScaleSetChart, Version: a.ChartVersion, Repository: a.ChartRepository}
}

// ChartRef is where the Redis chart comes from.
func (r *RedisConfig) ChartRef() components.ChartRef {
	return components.ChartRef{Chart: r.Chart, Version: r.ChartVersion, Repository: r.ChartRepository}
}

// Enabled reports whether any GitHub setting was given.
func (a *ARCConfig) Enabled() bool {
	return a.GitHubConfigURL != "" || a.AppID.IsSet() || a.AppInstallationID.IsSet() || a.AppPrivateKey.IsSet()
}

// PlatformConfigKeys lists every key the platform stack reads.
func PlatformConfigKeys() []ConfigKey { return keysOf(&PlatformConfig{}) }

// LoadPlatformConfig reads the running stack's config and validates it.
// The stack file is its only input: the catalog's APPHUB_* variables in the
// shell change nothing.
func LoadPlatformConfig(ctx *pulumi.Context) (*PlatformConfig, error) {
	return ParsePlatformConfig(PulumiConfig(ctx))
}

// ParsePlatformConfig builds and validates a PlatformConfig from any source.
// The error, if any, is a validate.Errors listing every problem.
func ParsePlatformConfig(src ConfigSource) (*PlatformConfig, error) {
	var p validate.Problems
	cfg := &PlatformConfig{}
	loadInto(cfg, src, nil, &p)
	cfg.validate(&p)
	if err := p.Err(); err != nil {
		return nil, err
	}
	return cfg, nil
}
