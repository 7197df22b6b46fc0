package stacks

import (
	"net/url"
	"strings"

	"github.com/distribution/reference"

	"github.com/apphub/apphub-infra/components"
	"github.com/apphub/apphub-infra/internal/validate"
)

// ServiceConfig is `apphubctl serve` run by the platform itself, next to
// the catalog: off in dev (the engineer runs it), on in prod.
type ServiceConfig struct {
	Enabled bool `key:"serviceEnabled" default:"false"`
	// Image holds apphubctl, the pinned Pulumi CLI and the provider plugins
	// (see the Dockerfile).
	Image string `key:"serviceImage"`
	Name  string `key:"serviceName" default:"apphub-api"`
	// Replicas above one share the queue and the stack state in PostgreSQL.
	Replicas      int `key:"serviceReplicas" default:"1"`
	MaxConcurrent int `key:"serviceMaxConcurrent" default:"4"`
	// CatalogNamespace is the only namespace the NetworkPolicy admits.
	CatalogNamespace string `key:"catalogNamespace" default:"apphub-catalog"`
	Token            Secret `key:"serviceToken"`
	Passphrase       Secret `key:"servicePassphrase"`
	// DatabaseURL is an external postgres:// database; servicePostgres runs
	// one in the cluster instead.
	DatabaseURL   Secret `key:"serviceDatabaseUrl"`
	WebhookURL    string `key:"serviceWebhookUrl"`
	WebhookSecret Secret `key:"serviceWebhookSecret"`
	CPURequest    string `key:"serviceCpuRequest" default:"250m"`
	MemoryRequest string `key:"serviceMemoryRequest" default:"512Mi"`
	CPULimit      string `key:"serviceCpuLimit" default:"2"`
	MemoryLimit   string `key:"serviceMemoryLimit" default:"2Gi"`
	// StateSize is the volume of a single replica without a database (its
	// SQLite queue and file:// stack state).
	StateSize string `key:"serviceStateSize" default:"5Gi"`
	// NodeSelector (a JSON object) and Tolerations (a JSON array) place
	// the service's pods.
	NodeSelector string `key:"serviceNodeSelector"`
	Tolerations  string `key:"serviceTolerations"`

	nodeSelector map[string]string
	tolerations  []components.Toleration
}

// PostgresConfig is the optional in-cluster database of the service.
type PostgresConfig struct {
	Enabled         bool   `key:"servicePostgres" default:"false"`
	Chart           string `key:"postgresChart" default:"oci://registry-1.docker.io/bitnamicharts/postgresql"`
	ChartVersion    string `key:"postgresChartVersion" default:"16.7.0"`
	ChartRepository string `key:"postgresChartRepository"`
	Persistence     bool   `key:"postgresPersistence" default:"true"`
	PersistenceSize string `key:"postgresPersistenceSize" default:"8Gi"`
	ImageRegistry   string `key:"postgresImageRegistry"`
	ImageRepository string `key:"postgresImageRepository" default:"bitnamilegacy/postgresql"`
	ImageTag        string `key:"postgresImageTag"`
}

// ChartRef is where the PostgreSQL chart comes from.
func (c *PostgresConfig) ChartRef() components.ChartRef {
	return components.ChartRef{Chart: c.Chart, Version: c.ChartVersion, Repository: c.ChartRepository}
}

// hasDatabase reports whether the service's queue and state live in
// PostgreSQL, which more than one replica needs.
func (c *PlatformConfig) hasDatabase() bool {
	return c.Service.DatabaseURL.IsSet() || c.Postgres.Enabled
}

func (c *PlatformConfig) validateService(p *validate.Problems) {
	s := c.Service
	if !s.Enabled {
		for _, k := range []struct {
			key string
			set bool
		}{{"servicePostgres", c.Postgres.Enabled}, {"serviceDatabaseUrl", s.DatabaseURL.IsSet()},
			{"serviceNodeSelector", s.NodeSelector != ""}, {"serviceTolerations", s.Tolerations != ""}} {
			if k.set {
				p.Add(k.key, "applies only with serviceEnabled: true")
			}
		}
		return
	}
	if p.Required("serviceImage", s.Image) {
		if _, err := reference.ParseNormalizedNamed(s.Image); err != nil {
			p.Add("serviceImage", "must be an image reference such as ghcr.io/acme/apphubctl:v1.2.0: %v", err)
		}
	}
	// The database's release is <serviceName>-postgresql, and the chart's
	// StatefulSet revision label adds 11 more within 63.
	budget := len("-platform")
	if c.Postgres.Enabled {
		budget = len("-postgresql") + 11
	}
	p.DNSLabelBudget("serviceName", s.Name, budget)
	p.DNSLabel("catalogNamespace", s.CatalogNamespace)
	p.Range("serviceReplicas", s.Replicas, 1, 20)
	p.Range("serviceMaxConcurrent", s.MaxConcurrent, 1, 64)
	if s.Replicas > 1 && !c.hasDatabase() {
		p.Add("serviceReplicas", "more than one replica needs a shared database: set serviceDatabaseUrl (--secret) or servicePostgres: true")
	}
	for _, k := range []struct {
		key string
		set bool
	}{{"serviceToken", s.Token.IsSet()}, {"servicePassphrase", s.Passphrase.IsSet()}} {
		if !k.set {
			p.Add(k.key, "is required when serviceEnabled: pulumi config set --secret %s \"$(openssl rand -hex 32)\"", k.key)
		}
	}
	if s.Token.IsSet() {
		// apphubctl serve refuses what this would let through.
		p.Token("serviceToken", strings.TrimSpace(s.Token.value))
	}
	var err error
	if c.Service.nodeSelector, err = ParseNodeSelector(s.NodeSelector); err != nil {
		p.Add("serviceNodeSelector", "%v", err)
	}
	if c.Service.tolerations, err = ParseTolerations(s.Tolerations); err != nil {
		p.Add("serviceTolerations", "%v", err)
	}
	c.validateServiceDatabase(p)
	c.validateServiceWebhook(p)
	c.validateServiceResources(p)
}

func (c *PlatformConfig) validateServiceDatabase(p *validate.Problems) {
	s := c.Service
	if s.DatabaseURL.IsSet() {
		if c.Postgres.Enabled {
			p.Add("servicePostgres", "must be false when serviceDatabaseUrl names the database")
		}
		if u, err := url.Parse(s.DatabaseURL.value); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
			// The value is a credential: the message never repeats it.
			p.Add("serviceDatabaseUrl", "must be postgres://user:password@host:5432/db")
		}
	}
	if !c.Postgres.Enabled {
		return
	}
	pg := c.Postgres
	chartProblems(p, pg.ChartRef(), "postgresChart", "postgresChartVersion", "postgresChartRepository")
	if pg.Persistence {
		p.Quantity("postgresPersistenceSize", pg.PersistenceSize)
	}
	imageOverrideProblems(p, "postgres", pg.ImageRegistry, pg.ImageRepository, pg.ImageTag)
}

func (c *PlatformConfig) validateServiceWebhook(p *validate.Problems) {
	s := c.Service
	if s.WebhookURL == "" {
		if s.WebhookSecret.IsSet() {
			p.Add("serviceWebhookSecret", "is set but serviceWebhookUrl is not")
		}
		return
	}
	if u, err := url.Parse(s.WebhookURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.Add("serviceWebhookUrl", "must be an http(s) URL, got %q", s.WebhookURL)
	}
	if !s.WebhookSecret.IsSet() {
		p.Add("serviceWebhookSecret", "is required with serviceWebhookUrl (callbacks are signed): pulumi config set --secret serviceWebhookSecret <secret>")
	}
}

func (c *PlatformConfig) validateServiceResources(p *validate.Problems) {
	s := c.Service
	cpuReq, okCPU := p.Quantity("serviceCpuRequest", s.CPURequest)
	memReq, okMem := p.Quantity("serviceMemoryRequest", s.MemoryRequest)
	if cpu, ok := p.Quantity("serviceCpuLimit", s.CPULimit); ok && okCPU {
		p.NotAbove("serviceCpuRequest", cpuReq, "serviceCpuLimit", cpu)
	}
	if mem, ok := p.Quantity("serviceMemoryLimit", s.MemoryLimit); ok && okMem {
		p.NotAbove("serviceMemoryRequest", memReq, "serviceMemoryLimit", mem)
	}
	if !c.hasDatabase() {
		p.Quantity("serviceStateSize", s.StateSize)
	}
}

// imageOverrideProblems checks a chart's image override (registry,
// repository, tag under <prefix>Image*) as one image reference.
func imageOverrideProblems(p *validate.Problems, prefix, registry, repository, tag string) {
	if tag != "" && repository == "" {
		p.Add(prefix+"ImageTag", "needs %sImageRepository: a tag alone points at the chart's default repository", prefix)
	}
	if repository == "" {
		return
	}
	ref := repository
	if registry != "" {
		ref = registry + "/" + ref
	}
	if tag != "" {
		ref += ":" + tag
	}
	if _, err := reference.ParseNormalizedNamed(ref); err != nil {
		p.Add(prefix+"ImageRepository", "registry, repository and tag must form an image reference (%q): %v", ref, err)
	}
}
