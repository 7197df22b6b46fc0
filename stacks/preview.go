package stacks

import (
	"fmt"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/apphub/apphub-infra/components"
	"github.com/apphub/apphub-infra/internal/previewurl"
	"github.com/apphub/apphub-infra/internal/validate"
)

// PreviewProject is the Pulumi project of preview stacks (previews/).
const PreviewProject = "apphub-preview"

// launchBudget reserves room in a DNS label for the "preview-" prefix and
// Pulumi's 9-character auto-name suffix, so every name derived from the
// launch id stays a valid label whichever way it is named.
const launchBudget = len(components.PreviewNamePrefix) + 9

// PreviewStackConfig is what the catalog passes for one launch; everything
// else comes from the platform stack.
type PreviewStackConfig struct {
	// PlatformOutputs (the platform's outputs as one JSON object, what the
	// Manager passes) or PlatformStack (a fully qualified StackReference
	// name, for stacks run by hand) says which platform the stack is on.
	PlatformOutputs string `key:"platformOutputs"`
	PlatformStack   string `key:"platformStack"`
	Launch          string `key:"launch"`
	Image           string `key:"image"`
	Port            int    `key:"port" default:"8080"`
	Replicas        int    `key:"replicas" default:"1"`
	// Env is a JSON object of strings.
	Env           string `key:"env"`
	CPURequest    string `key:"cpuRequest" default:"100m"`
	MemoryRequest string `key:"memoryRequest" default:"128Mi"`
	CPULimit      string `key:"cpuLimit" default:"500m"`
	MemoryLimit   string `key:"memoryLimit" default:"512Mi"`
	HealthPath    string `key:"healthPath" default:"/"`
	RunAsUser     int    `key:"runAsUser" default:"10001"`
	MountToken    bool   `key:"mountServiceAccountToken" default:"false"`
	// EgressAllow is "CIDR:port,CIDR:port".
	EgressAllow string `key:"egressAllow"`
	// ExpiresAt is RFC 3339; the Automation API derives it once from a TTL.
	ExpiresAt string `key:"expiresAt"`

	env    map[string]string
	egress []validate.Egress
}

func checkLaunchID(p *validate.Problems, id string) { p.DNSLabelBudget("launch", id, launchBudget) }

// ValidateLaunchID checks a launch id alone, by the preview stack's rule
// (for operations that take only the id: get, destroy).
func ValidateLaunchID(id string) error {
	var p validate.Problems
	checkLaunchID(&p, id)
	return p.Err()
}

// PreviewConfigKeys lists the preview project's keys.
func PreviewConfigKeys() []ConfigKey { return keysOf(&PreviewStackConfig{}) }

// ParsePreviewConfig reads and validates a preview stack's own config.
func ParsePreviewConfig(src ConfigSource) (*PreviewStackConfig, error) {
	var p validate.Problems
	c := &PreviewStackConfig{}
	loadInto(c, src, nil, &p)
	refuseUnknownKeys(&p, src, PreviewConfigKeys(), "preview stack")
	c.validate(&p)
	if err := p.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *PreviewStackConfig) validate(p *validate.Problems) {
	checkPlatformSource(p, c.PlatformStack, c.PlatformOutputs)
	checkLaunchID(p, c.Launch)
	p.ImageRef("image", c.Image)
	switch {
	case c.Port < 1 || c.Port > 65535:
		p.Add("port", "must be 1-65535, got %d", c.Port)
	case c.Port < 1024:
		p.Add("port", "must be 1024 or above: preview containers run as non-root and cannot bind %d", c.Port)
	}
	p.Range("replicas", c.Replicas, 0, 10)
	c.env = p.StringMap("env", c.Env, func(k string) []string {
		if msgs := validate.EnvName(k); len(msgs) > 0 {
			return msgs
		}
		if strings.HasPrefix(k, "APPHUB_") || k == "PORT" {
			return []string{"is set by the platform and cannot be overridden"}
		}
		return nil
	})
	p.RequestWithinLimit("cpuRequest", c.CPURequest, "cpuLimit", c.CPULimit)
	p.RequestWithinLimit("memoryRequest", c.MemoryRequest, "memoryLimit", c.MemoryLimit)
	if c.HealthPath != "" && (!strings.HasPrefix(c.HealthPath, "/") || strings.ContainsAny(c.HealthPath, " \t\n?#")) {
		p.Add("healthPath", "must be an absolute path such as /healthz (or empty for a TCP check), got %q", c.HealthPath)
	}
	p.Range("runAsUser", c.RunAsUser, 1, 2147483647)
	c.egress = p.EgressList("egressAllow", c.EgressAllow)
	if c.ExpiresAt != "" {
		if _, err := time.Parse(time.RFC3339, c.ExpiresAt); err != nil {
			p.Add("expiresAt", "must be an RFC 3339 time such as 2026-11-23T18:00:00Z, got %q", c.ExpiresAt)
		}
	}
}

// Preview is the preview stack program (`pulumi up -s preview-<launch>` in
// previews/, or inline through the Automation API).
func Preview(ctx *pulumi.Context) error {
	cfg, err := ParsePreviewConfig(PulumiConfig(ctx))
	if err != nil {
		return fmt.Errorf("preview stack %q: invalid config: %w", ctx.Stack(), err)
	}
	res, err := NewPreview(ctx, cfg)
	if err != nil {
		return fmt.Errorf("preview stack %q: %w", ctx.Stack(), err)
	}
	for k, v := range res {
		ctx.Export(k, v)
	}
	return nil
}

// Preview stack outputs.
const (
	OutURL         = "url"
	OutHost        = "host"
	OutPath        = "path"
	OutServiceName = "serviceName"
	OutLaunch      = "launch"
	OutExpiresAt   = "expiresAt"
)

// NewPreview reads the platform, renders the URL (a launch id that breaks
// the host is rejected before any Kubernetes object) and creates the app.
func NewPreview(ctx *pulumi.Context, cfg *PreviewStackConfig) (pulumi.Map, error) {
	pv, err := LoadPlatform(ctx, cfg.PlatformStack, cfg.PlatformOutputs)
	if err != nil {
		return nil, err
	}
	rendered, err := pv.URLTemplate.Render(cfg.Launch)
	if err != nil {
		return nil, fmt.Errorf("invalid config: launch %q with URL template %s: %w", cfg.Launch, pv.URLTemplate, err)
	}
	k8s, err := pv.Provider(ctx)
	if err != nil {
		return nil, err
	}
	app, err := components.NewPreviewApp(ctx, "preview", previewAppArgs(cfg, pv, rendered), pulumi.Provider(k8s))
	if err != nil {
		return nil, err
	}
	out := pulumi.Map{
		OutURL:         app.URL,
		OutHost:        app.Host,
		OutPath:        pulumi.String(rendered.Path),
		OutServiceName: app.ServiceName,
		OutNamespace:   app.Namespace,
		OutLaunch:      pulumi.String(cfg.Launch),
	}
	if cfg.ExpiresAt != "" {
		out[OutExpiresAt] = pulumi.String(cfg.ExpiresAt)
	}
	return out, nil
}

// previewAppArgs is the app for one launch on the platform, at its URL.
func previewAppArgs(cfg *PreviewStackConfig, pv *PlatformValues, rendered previewurl.Rendered) *components.PreviewAppArgs {
	egress := make([]components.EgressRule, len(cfg.egress))
	for i, e := range cfg.egress {
		egress[i] = components.EgressRule{CIDR: e.CIDR, Port: e.Port}
	}
	tls := ""
	if strings.HasPrefix(rendered.URL, "https://") {
		tls = pv.TLSSecret
	}
	return &components.PreviewAppArgs{
		Launch:    cfg.Launch,
		Namespace: pv.Namespace,
		Image:     cfg.Image,
		Port:      cfg.Port,
		Replicas:  cfg.Replicas,
		Env:       cfg.env,
		Resources: components.ContainerResources{
			CPURequest: cfg.CPURequest, MemoryRequest: cfg.MemoryRequest,
			CPULimit: cfg.CPULimit, MemoryLimit: cfg.MemoryLimit,
		},
		HealthPath:       cfg.HealthPath,
		ServiceAccount:   pv.PreviewServiceAccount,
		MountToken:       cfg.MountToken,
		RunAsUser:        cfg.RunAsUser,
		ImagePullSecret:  pv.RegistrySecret,
		IngressClass:     pv.IngressClass,
		URL:              rendered.URL,
		Host:             rendered.Host,
		Path:             rendered.Path,
		TLSSecret:        tls,
		IngressNamespace: pv.IngressNamespace,
		DNSEgress:        pv.DNSEgress,
		Egress:           egress,
		ExpiresAt:        cfg.ExpiresAt,
		ReadyTimeout:     pv.PreviewReadyTimeoutSeconds,
	}
}
