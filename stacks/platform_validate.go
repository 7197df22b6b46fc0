package stacks

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/distribution/reference"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/apphub/apphub-infra/components"
	"github.com/apphub/apphub-infra/internal/validate"
)

// Validate checks the whole config and reports every problem at once.
func (c *PlatformConfig) Validate() error {
	var p validate.Problems
	c.validate(&p)
	return p.Err()
}

func (c *PlatformConfig) validate(p *validate.Problems) {
	c.Cluster.validate(p)
	c.validateNamespaces(p)
	c.validateServiceAccounts(p)
	c.validateQuotaAndLimits(p)
	c.validateRegistry(p)
	c.Redis.validate(p)
	c.Preview.validate(p)
	c.Build.validate(p)
	c.validateBuilder(p)
	c.validateARC(p)
	c.validateService(p)
}

func (c *PlatformConfig) validateARC(p *validate.Problems) {
	a := c.ARC
	if !a.Enabled() {
		return
	}
	// Partial GitHub settings are an error, not a silent "off": name each
	// missing one.
	if a.GitHubConfigURL == "" {
		p.Add("arcGithubConfigUrl", "is required when ARC is configured, e.g. https://github.com/acme")
	} else if u, err := url.Parse(a.GitHubConfigURL); err != nil || u.Scheme != "https" || u.Host == "" || strings.Trim(u.Path, "/") == "" {
		p.Add("arcGithubConfigUrl", "must be https://<host>/<org>[/<repo>], got %q", a.GitHubConfigURL)
	}
	for _, s := range []struct {
		key   string
		value Secret
	}{{"arcGithubAppId", a.AppID}, {"arcGithubAppInstallationId", a.AppInstallationID}} {
		if !s.value.IsSet() {
			p.Add(s.key, "is required when ARC is configured: pulumi config set --secret %s <id>", s.key)
		} else if n, err := strconv.ParseUint(s.value.value, 10, 64); err != nil || n == 0 {
			p.Add(s.key, "must be a positive number")
		}
	}
	if !a.AppPrivateKey.IsSet() {
		p.Add("arcGithubAppPrivateKey", "is required when ARC is configured: pulumi config set --secret arcGithubAppPrivateKey < app.private-key.pem")
	} else if !strings.Contains(a.AppPrivateKey.value, "-----BEGIN") || !strings.Contains(a.AppPrivateKey.value, "PRIVATE KEY-----") {
		p.Add("arcGithubAppPrivateKey", "must be the App's PEM private key")
	}
	p.DNSLabel("arcControllerNamespace", a.ControllerNamespace)
	p.DNSLabel("arcRunnersNamespace", a.RunnersNamespace)
	if a.ControllerNamespace != "" && a.ControllerNamespace == a.RunnersNamespace {
		p.Add("arcRunnersNamespace", "must differ from arcControllerNamespace: runners need a privileged namespace, the controller does not")
	}
	for _, ns := range []string{c.Namespaces.Previews, c.Namespaces.Builds, c.Namespaces.System} {
		if a.RunnersNamespace == ns || a.ControllerNamespace == ns {
			p.Add("arcRunnersNamespace", "ARC namespaces must not reuse the platform namespace %q", ns)
		}
	}
	// Helm release names are at most 53 characters; the chart derives
	// longer names from them.
	p.DNSLabelBudget("arcControllerRelease", a.ControllerRelease, 63-40)
	p.DNSLabelBudget("arcRunnerScaleSetName", a.ScaleSetName, 63-40)
	chartProblems(p, a.ControllerChartRef(), "arcControllerChart", "arcChartVersion", "arcChartRepository")
	if scale := a.ScaleSetChartRef(); components.IsLocalChart(scale.Chart) != components.IsLocalChart(a.ControllerChart) {
		// The version check would otherwise apply to one chart only.
		p.Add("arcScaleSetChart", "must be local exactly when arcControllerChart is (both from one chart release, %s)", a.ChartVersion)
	} else {
		chartProblems(p, scale, "arcScaleSetChart", "", "")
	}
	p.Range("arcFinalizerTimeoutSeconds", a.FinalizerTimeoutSeconds, 1, 3600)
	p.Range("arcMinRunners", a.MinRunners, 0, 100)
	p.Range("arcMaxRunners", a.MaxRunners, 1, 100)
	if a.MinRunners > a.MaxRunners {
		p.Add("arcMinRunners", "must not exceed arcMaxRunners (%d)", a.MaxRunners)
	}
	for _, img := range [][2]string{{"arcRunnerImage", a.RunnerImage}, {"arcBuildkitImage", a.BuildkitImage}} {
		if _, err := reference.ParseNormalizedNamed(img[1]); err != nil {
			p.Add(img[0], "must be an image reference: %v", err)
		}
	}
}

var kubernetesVersion = regexp.MustCompile(`^v1\.(\d+)\.\d+$`)

// kubernetesVersionProblems checks a pinned v1.x.y against the minimum.
func kubernetesVersionProblems(p *validate.Problems, key, v string) {
	m := kubernetesVersion.FindStringSubmatch(v)
	if m == nil {
		p.Add(key, "must pin a Kubernetes version such as v1.34.1, got %q", v)
		return
	}
	if minor, _ := strconv.Atoi(m[1]); minor < MinKubernetesMinor {
		p.Add(key, "is Kubernetes %s; the platform needs 1.%d or later", v, MinKubernetesMinor)
	}
}

func (c *ClusterConfig) validate(p *validate.Problems) {
	if !p.OneOf("clusterKind", c.Kind, ClusterK3d, ClusterMinikube, ClusterExisting) {
		return
	}
	if c.Kind != ClusterExisting {
		// A local cluster's own kubeconfig and context win; a value here
		// would be ignored, and the platform would not go where it says.
		for _, k := range []struct {
			key string
			set bool
		}{{"kubeconfig", c.Kubeconfig.IsSet()}, {"kubeContext", c.Context != ""}} {
			if k.set {
				p.Add(k.key, "applies to clusterKind existing only; a %s cluster is reached through the kubeconfig it creates", c.Kind)
			}
		}
	}
	switch c.Kind {
	case ClusterK3d:
		// k3d prefixes node container names and the context with the name.
		p.DNSLabelBudget("clusterName", c.Name, len("k3d--server-0")+len("-registry"))
		if ref, err := reference.ParseNormalizedNamed(c.K3sImage); err != nil {
			p.Add("k3sImage", "must be an image reference such as rancher/k3s:v1.34.1-k3s1: %v", err)
		} else if tagged, ok := ref.(reference.Tagged); !ok {
			p.Add("k3sImage", "must name a tag (rancher/k3s:v1.34.1-k3s1), so the cluster's Kubernetes is pinned")
		} else {
			kubernetesVersionProblems(p, "k3sImage", strings.SplitN(tagged.Tag(), "-", 2)[0])
		}
		p.Range("k3dServers", c.K3dServers, 1, 7)
		p.Range("k3dAgents", c.K3dAgents, 0, 10)
		p.Port("k3dHttpPort", c.K3dHTTPPort)
		p.Port("k3dHttpsPort", c.K3dHTTPSPort)
		if c.K3dHTTPPort == c.K3dHTTPSPort {
			p.Add("k3dHttpsPort", "must differ from k3dHttpPort (%d)", c.K3dHTTPPort)
		}
	case ClusterMinikube:
		p.DNSLabel("clusterName", c.Name)
		kubernetesVersionProblems(p, "minikubeKubernetesVersion", c.MinikubeKubernetesVersion)
		p.Range("minikubeCpus", c.MinikubeCPUs, 2, 64)
		if mib, ok := minikubeMemoryMiB(c.MinikubeMemory); !ok {
			p.Add("minikubeMemory", "must be a size such as 8g or 8192m, got %q", c.MinikubeMemory)
		} else if mib < 2048 {
			p.Add("minikubeMemory", "must be at least 2g for the ingress and registry addons, got %q", c.MinikubeMemory)
		}
	case ClusterExisting:
		if c.Context == "" {
			p.Add("kubeContext", "is required for an existing cluster: name the context so the platform never lands on whatever context is current")
		}
	}
}

// minikubeMemoryMiB parses minikube's --memory forms: 8g, 8gb, 8192m, 8192mb.
func minikubeMemoryMiB(v string) (int, bool) {
	v = strings.ToLower(strings.TrimSpace(v))
	factor := 0
	for _, s := range []struct {
		suffix string
		mib    int
	}{{"gb", 1024}, {"g", 1024}, {"mb", 1}, {"m", 1}} {
		if strings.HasSuffix(v, s.suffix) {
			v, factor = strings.TrimSuffix(v, s.suffix), s.mib
			break
		}
	}
	n, err := strconv.Atoi(v)
	if factor == 0 || err != nil || n <= 0 {
		return 0, false
	}
	return n * factor, true
}

func (c *PlatformConfig) validateNamespaces(p *validate.Problems) {
	n := c.Namespaces
	p.DNSLabel("namespace", n.Previews)
	p.DNSLabel("buildNamespace", n.Builds)
	p.DNSLabel("systemNamespace", n.System)
	p.DNSLabel("ingressNamespace", n.Ingress)
	seen := map[string]string{}
	for _, kv := range [][2]string{{"namespace", n.Previews}, {"buildNamespace", n.Builds}, {"systemNamespace", n.System}} {
		if other, dup := seen[kv[1]]; dup && kv[1] != "" {
			p.Add(kv[0], "must differ from %s (%q): each namespace has its own Pod Security level", other, kv[1])
		}
		seen[kv[1]] = kv[0]
	}
	for key, raw := range map[string]string{
		"previewNamespaceAnnotations": n.PreviewAnnotations,
		"buildNamespaceAnnotations":   n.BuildAnnotations,
		"systemNamespaceAnnotations":  n.SystemAnnotations,
	} {
		if _, err := ParseAnnotations(raw); err != nil {
			p.Add(key, "%v", err)
		}
	}
	for _, reserved := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
		for _, kv := range [][2]string{{"namespace", n.Previews}, {"buildNamespace", n.Builds}, {"systemNamespace", n.System}} {
			if kv[1] == reserved {
				p.Add(kv[0], "must not be the reserved namespace %q", reserved)
			}
		}
	}
}

func (c *PlatformConfig) validateServiceAccounts(p *validate.Problems) {
	s := c.ServiceAccounts
	p.DNSSubdomain("builderServiceAccount", s.Builder)
	p.DNSSubdomain("previewServiceAccount", s.Preview)
	p.DNSSubdomain("deployerServiceAccount", s.Deployer)
	if s.Builder != "" && s.Builder == s.Preview {
		p.Add("previewServiceAccount", "must differ from builderServiceAccount: previews must not hold build permissions")
	}
}

func (c *PlatformConfig) validateQuotaAndLimits(p *validate.Problems) {
	l := c.Limits
	reqCPU, ok1 := p.Quantity("containerCpuRequest", l.DefaultRequestCPU)
	reqMem, ok2 := p.Quantity("containerMemoryRequest", l.DefaultRequestMemory)
	defCPU, ok3 := p.Quantity("containerCpuLimit", l.DefaultCPU)
	defMem, ok4 := p.Quantity("containerMemoryLimit", l.DefaultMemory)
	maxCPU, ok5 := p.Quantity("containerMaxCpu", l.MaxCPU)
	maxMem, ok6 := p.Quantity("containerMaxMemory", l.MaxMemory)
	if ok1 && ok3 {
		p.NotAbove("containerCpuRequest", reqCPU, "containerCpuLimit", defCPU)
	}
	if ok2 && ok4 {
		p.NotAbove("containerMemoryRequest", reqMem, "containerMemoryLimit", defMem)
	}
	if ok3 && ok5 {
		p.NotAbove("containerCpuLimit", defCPU, "containerMaxCpu", maxCPU)
	}
	if ok4 && ok6 {
		p.NotAbove("containerMemoryLimit", defMem, "containerMaxMemory", maxMem)
	}
	for _, q := range []struct {
		prefix                         string
		reqCPU, reqMem, limCPU, limMem string
		pods                           int
	}{
		{"previewQuota", c.PreviewQuota.RequestsCPU, c.PreviewQuota.RequestsMemory, c.PreviewQuota.LimitsCPU, c.PreviewQuota.LimitsMemory, c.PreviewQuota.Pods},
		{"buildQuota", c.BuildQuota.RequestsCPU, c.BuildQuota.RequestsMemory, c.BuildQuota.LimitsCPU, c.BuildQuota.LimitsMemory, c.BuildQuota.Pods},
	} {
		rc, okRC := p.Quantity(q.prefix+"Cpu", q.reqCPU)
		rm, okRM := p.Quantity(q.prefix+"Memory", q.reqMem)
		lc, okLC := p.Quantity(q.prefix+"CpuLimit", q.limCPU)
		lm, okLM := p.Quantity(q.prefix+"MemoryLimit", q.limMem)
		p.Range(q.prefix+"Pods", q.pods, 1, 10000)
		if okRC && okLC {
			p.NotAbove(q.prefix+"Cpu", rc, q.prefix+"CpuLimit", lc)
		}
		if okRM && okLM {
			p.NotAbove(q.prefix+"Memory", rm, q.prefix+"MemoryLimit", lm)
		}
		// One container at the LimitRange maximum must fit in the quota.
		if ok5 && okLC {
			p.NotAbove("containerMaxCpu", maxCPU, q.prefix+"CpuLimit", lc)
		}
		if ok6 && okLM {
			p.NotAbove("containerMaxMemory", maxMem, q.prefix+"MemoryLimit", lm)
		}
	}
}

func (c *PlatformConfig) validateRegistry(p *validate.Problems) {
	r := c.Registry
	p.DNSSubdomain("registrySecretName", r.SecretName)
	if !p.OneOf("registryKind", r.Kind, RegistryK3d, RegistryMinikube, RegistryInCluster, RegistryExternal) {
		return
	}
	switch {
	case r.Kind == RegistryK3d && c.Cluster.Kind != ClusterK3d:
		p.Add("registryKind", "k3d needs clusterKind k3d (got %q): use in-cluster or external", c.Cluster.Kind)
	case r.Kind == RegistryMinikube && c.Cluster.Kind != ClusterMinikube:
		p.Add("registryKind", "minikube needs clusterKind minikube (got %q): use in-cluster or external", c.Cluster.Kind)
	}
	if r.Kind == RegistryK3d {
		p.Port("registryHostPort", r.HostPort)
		if c.Cluster.Kind == ClusterK3d && (r.HostPort == c.Cluster.K3dHTTPPort || r.HostPort == c.Cluster.K3dHTTPSPort) {
			// Both are published on the host: the cluster would be created
			// and then fail to bind.
			p.Add("registryHostPort", "must differ from k3dHttpPort (%d) and k3dHttpsPort (%d), got %d", c.Cluster.K3dHTTPPort, c.Cluster.K3dHTTPSPort, r.HostPort)
		}
	}
	if r.Kind == RegistryInCluster {
		if _, err := reference.ParseNormalizedNamed(r.Image); err != nil {
			p.Add("registryImage", "must be an image reference: %v", err)
		}
		p.Quantity("registryStorageSize", r.StorageSize)
		p.Range("registryNodePort", r.NodePort, 30000, 32767)
		c.refuseInClusterCredentials(p)
	}
	if r.Kind != RegistryExternal && r.Server != "" {
		p.Add("registryServer", "applies to registryKind external only; registryKind %q gets its address from the registry it uses", r.Kind)
	}
	if r.StorageClass != "" {
		p.DNSSubdomain("storageClass", r.StorageClass)
	}
	if r.Kind == RegistryExternal {
		if p.Required("registryServer", r.Server) {
			if _, err := reference.ParseNormalizedNamed(r.Server + "/probe"); err != nil || strings.Contains(r.Server, "://") {
				p.Add("registryServer", "must be host[:port][/namespace] without a scheme, got %q", r.Server)
			}
		}
	}
	if r.Insecure && r.Kind != RegistryExternal {
		p.Add("registryInsecure", "applies to registryKind external only; registryKind %q is reached over plain HTTP already", r.Kind)
	}
	if (r.Username != "") != r.Password.IsSet() {
		p.Add("registryUsername", "registryUsername and registryPassword go together")
	}
}

// refuseInClusterCredentials: the in-cluster registry runs without
// authentication and its address is known only once it exists, so there is
// no login host for a credentials Secret; accepting them would fail the
// update after the namespaces and identities were created.
func (c *PlatformConfig) refuseInClusterCredentials(p *validate.Problems) {
	r := c.Registry
	const rule = "must not be set with registryKind in-cluster: that registry runs without authentication (use registryKind external for a registry with credentials)"
	if r.Username != "" {
		p.Add("registryUsername", rule)
	}
	if r.Password.IsSet() {
		p.Add("registryPassword", rule)
	}
}

func (r *RedisConfig) validate(p *validate.Problems) {
	chartProblems(p, r.ChartRef(), "redisChart", "redisChartVersion", "redisChartRepository")
	if r.Persistence {
		p.Quantity("redisPersistenceSize", r.PersistenceSize)
	}
	imageOverrideProblems(p, "redis", r.ImageRegistry, r.ImageRepository, r.ImageTag)
}

func (b *BuildConfig) validate(p *validate.Problems) {
	if _, err := reference.ParseNormalizedNamed(b.BuilderImage); err != nil {
		p.Add("builderImage", "must be an image reference such as moby/buildkit:v0.23.2-rootless: %v", err)
	}
	p.Range("buildTimeoutSeconds", b.TimeoutSeconds, 60, 6*3600)
	// The Job must outlive its completion long enough for the update to
	// observe it and for someone to read its logs.
	p.Range("buildJobTtlSeconds", b.JobTTLSeconds, 60, 7*24*3600)
	if _, err := ParseCABundle(b.CABundle); err != nil {
		p.Add("buildCaBundle", "%v", err)
	}
}

func (c *PlatformConfig) validateBuilder(p *validate.Problems) {
	b := c.Build.Builder
	if !p.OneOf("builderMode", b.Mode, BuilderPersistent, BuilderEphemeral) || b.Mode != BuilderPersistent {
		return
	}
	p.Range("builderReplicas", b.Replicas, 1, 5)
	if _, ok := b.GCKeepStorage(p); !ok {
		return
	}
	p.RequestWithinLimit("builderCpuRequest", b.CPURequest, "builderCpuLimit", b.CPULimit)
	p.RequestWithinLimit("builderMemoryRequest", b.MemoryRequest, "builderMemoryLimit", b.MemoryLimit)
	for _, l := range []struct {
		key, value, maxKey, max string
		times                   int64
	}{
		// The build namespace's LimitRange would refuse the pod...
		{"builderCpuLimit", b.CPULimit, "containerMaxCpu", c.Limits.MaxCPU, 1},
		{"builderMemoryLimit", b.MemoryLimit, "containerMaxMemory", c.Limits.MaxMemory, 1},
		// ...and its quota every replica beyond it.
		{"builderCpuRequest", b.CPURequest, "buildQuotaCpu", c.BuildQuota.RequestsCPU, int64(b.Replicas)},
		{"builderMemoryRequest", b.MemoryRequest, "buildQuotaMemory", c.BuildQuota.RequestsMemory, int64(b.Replicas)},
		{"builderCpuLimit", b.CPULimit, "buildQuotaCpuLimit", c.BuildQuota.LimitsCPU, int64(b.Replicas)},
		{"builderMemoryLimit", b.MemoryLimit, "buildQuotaMemoryLimit", c.BuildQuota.LimitsMemory, int64(b.Replicas)},
	} {
		v, err1 := resource.ParseQuantity(l.value)
		m, err2 := resource.ParseQuantity(l.max)
		if err1 != nil || err2 != nil || p.Has(l.key) {
			continue
		}
		total := v.DeepCopy()
		total.Mul(l.times)
		if total.Cmp(m) > 0 {
			p.Add(l.key, "%s × builderReplicas %d = %s must not exceed %s (%s)", v.String(), l.times, total.String(), l.maxKey, m.String())
		}
	}
}

// GCKeepStorage is buildkitd's --oci-worker-gc-keepstorage for the
// volume: "reserved,minFree,maxUsed" in MB. The cache is kept under
// maxUsed (builderCacheMaxSize, else 80% of the volume); GC also runs when
// less than a tenth of the volume is free, and never below a tenth of
// maxUsed.
func (b *BuilderConfig) GCKeepStorage(p *validate.Problems) (string, bool) {
	size, ok := p.Quantity("builderStorageSize", b.StorageSize)
	if !ok {
		return "", false
	}
	const mb = 1_000_000
	maxUsed := size.Value() * 8 / 10
	if b.CacheMaxSize != "" {
		q, ok := p.Quantity("builderCacheMaxSize", b.CacheMaxSize)
		if !ok {
			return "", false
		}
		if q.Cmp(size) > 0 {
			p.Add("builderCacheMaxSize", "%s must not exceed builderStorageSize (%s)", q.String(), size.String())
			return "", false
		}
		maxUsed = q.Value()
	}
	if maxUsed < 1000*mb {
		p.Add("builderCacheMaxSize", "the cache needs at least 1 GB, got %d MB (builderStorageSize %s)", maxUsed/mb, size.String())
		return "", false
	}
	return fmt.Sprintf("%d,%d,%d", maxUsed/10/mb, size.Value()/10/mb, maxUsed/mb), true
}

// chartProblems records a chart reference's problems under the config keys
// of its parts; an empty key skips a part another call already reports.
func chartProblems(p *validate.Problems, ref components.ChartRef, chartKey, versionKey, repoKey string) {
	probs := ref.Problems()
	for _, part := range []struct{ name, key string }{
		{components.ChartPartChart, chartKey},
		{components.ChartPartVersion, versionKey},
		{components.ChartPartRepository, repoKey},
	} {
		if msg, ok := probs[part.name]; ok && part.key != "" {
			p.Add(part.key, "%s", msg)
		}
	}
}

// secureValue stands for a secret whose value only the Pulumi CLI can
// decrypt: set, content unknown.
const secureValue = "[secure]"

// CheckPlatformValues validates a platform stack's config as its stack file
// holds it, so a caller can refuse bad config before the stack is created
// or updated. Secure values cannot be read without the passphrase: they
// count as set, and the problems of secure keys (which may depend on the
// secret's content) are left to the program, which reads the real values.
// Every problem reported is one the program would report too.
func CheckPlatformValues(values map[string]string, secure map[string]bool) error {
	src := MapSource{Values: map[string]string{}, Secrets: secure}
	for k, v := range values {
		src.Values[k] = v
	}
	for k := range secure {
		src.Values[k] = secureValue
	}
	_, err := ParsePlatformConfig(src)
	var errs validate.Errors
	if !errors.As(err, &errs) {
		return err
	}
	var p validate.Problems
	for _, fe := range errs {
		if !secure[fe.Field] {
			p.Add(fe.Field, "%s", fe.Rule)
		}
	}
	return p.Err()
}
