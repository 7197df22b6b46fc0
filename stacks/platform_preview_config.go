package stacks

import (
	"errors"
	"fmt"
	"strings"

	"github.com/apphub/apphub-infra/internal/previewurl"
	"github.com/apphub/apphub-infra/internal/validate"
)

func (c *PreviewConfig) validate(p *validate.Problems) {
	p.DNSSubdomain("ingressClass", c.IngressClass)
	if _, err := c.Template(); err != nil {
		field := "previewUrlTemplate"
		if c.URLTemplate == "" && c.HostTemplate != "" {
			field = "previewHostTemplate"
		}
		p.Add(field, "%v", err)
	}
	if _, err := ParseDNSEgress(c.DNSEgress); err != nil {
		p.Add("previewDnsEgress", "%v", err)
	}
	p.Range("previewReadyTimeoutSeconds", c.ReadyTimeoutSeconds, 30, 3600)
	if c.TLSSecret != "" {
		p.DNSSubdomain("previewTlsSecret", c.TLSSecret)
		if t, err := c.Template(); err == nil && !strings.HasPrefix(t.String(), "https://") {
			p.Add("previewTlsSecret", "is set but preview URLs are not https (%s)", t.String())
		}
	}
}

// CatalogPreviewTemplate is the preview URL template the catalog's own
// settings name (APPHUB_K8S_PREVIEW_URL_TEMPLATE, or the host template and
// scheme), with the platform's defaults: what stub mode shows.
func CatalogPreviewTemplate(env EnvLookup) (previewurl.Template, error) {
	var p validate.Problems
	c := &PreviewConfig{}
	loadInto(c, MapSource{}, env, &p)
	if err := p.Err(); err != nil {
		return previewurl.Template{}, err
	}
	return c.Template()
}

// Template returns the parsed preview URL template, from the URL template
// or from the host template and scheme.
func (c *PreviewConfig) Template() (previewurl.Template, error) {
	switch {
	case c.URLTemplate != "" && c.HostTemplate != "":
		return previewurl.Template{}, fmt.Errorf("set previewUrlTemplate or previewHostTemplate, not both")
	case c.URLTemplate != "":
		return previewurl.Parse(c.URLTemplate)
	case c.HostTemplate != "":
		return previewurl.FromHost(c.HostTemplate, c.Scheme)
	default:
		return previewurl.Template{}, fmt.Errorf("is required (or previewHostTemplate with previewScheme), e.g. https://{launch}.preview.example.com")
	}
}

// DNSEgressKubeDNS names the cluster DNS pods in previewDnsEgress.
const DNSEgressKubeDNS = "kube-dns"

// ParseDNSEgress reads previewDnsEgress: comma-separated "kube-dns" and
// CIDRs, at least one.
func ParseDNSEgress(raw string) ([]string, error) {
	var out []string
	for _, e := range strings.Split(raw, ",") {
		e = strings.TrimSpace(e)
		if e == DNSEgressKubeDNS {
			out = append(out, e)
			continue
		}
		pfx, err := validate.MaskedPrefix(e)
		switch {
		case errors.Is(err, validate.ErrNotCIDR):
			return nil, fmt.Errorf("entry %q must be %q or a CIDR such as 169.254.20.10/32 (NodeLocal DNSCache)", e, DNSEgressKubeDNS)
		case err != nil:
			return nil, fmt.Errorf("entry %q %w", e, err)
		}
		out = append(out, pfx.String())
	}
	return out, nil
}
