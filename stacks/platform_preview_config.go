package stacks

import (
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
