// Package previewurl parses the catalog's preview URL settings
// (APPHUB_K8S_PREVIEW_URL_TEMPLATE, or APPHUB_K8S_PREVIEW_HOST_TEMPLATE with
// APPHUB_K8S_PREVIEW_SCHEME) and renders them for one launch into the URL the
// catalog shows and the host and path an Ingress routes.
package previewurl

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Placeholder is replaced by the launch id.
const Placeholder = "{launch}"

// A sample id used to check that a template renders to a valid host and path.
const sampleLaunch = "sample-launch-0"

// Template is a parsed, validated preview URL template.
type Template struct {
	raw string
}

// Rendered is a template applied to one launch.
type Rendered struct {
	// URL is what users open, e.g. https://abc.preview.local or
	// http://preview.minikube.local/abc.
	URL string
	// Host is the Ingress rule host (no port).
	Host string
	// Path is the Ingress path prefix: "/" for host-style templates.
	Path string
}

// Parse validates a URL template such as https://{launch}.preview.local.
func Parse(urlTemplate string) (Template, error) {
	t := Template{raw: strings.TrimSpace(urlTemplate)}
	if t.raw == "" {
		return Template{}, fmt.Errorf("template is empty")
	}
	if !strings.Contains(t.raw, Placeholder) {
		return Template{}, fmt.Errorf("template %q must contain %s", t.raw, Placeholder)
	}
	u, err := url.Parse(strings.ReplaceAll(t.raw, Placeholder, sampleLaunch))
	if err != nil {
		return Template{}, fmt.Errorf("template %q is not a URL: %w", t.raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return Template{}, fmt.Errorf("template %q must start with http:// or https://", t.raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return Template{}, fmt.Errorf("template %q must not carry user info, a query or a fragment", t.raw)
	}
	inHost, inPath := t.placement()
	if inHost == inPath {
		return Template{}, fmt.Errorf("template %q must place %s in the host or in the path, not both", t.raw, Placeholder)
	}
	// A numeric launch id must not turn the host into an IP address either.
	for _, sample := range []string{sampleLaunch, "1"} {
		if _, err := t.Render(sample); err != nil {
			return Template{}, err
		}
	}
	return t, nil
}

// FromHost builds a template from a host template such as
// {launch}.preview.local and a scheme (http or https).
func FromHost(hostTemplate, scheme string) (Template, error) {
	if scheme != "http" && scheme != "https" {
		return Template{}, fmt.Errorf("scheme must be http or https, got %q", scheme)
	}
	host := strings.TrimSpace(hostTemplate)
	if strings.ContainsAny(host, "/:") {
		return Template{}, fmt.Errorf("host template %q must be a bare host (no scheme, port or path)", host)
	}
	return Parse(scheme + "://" + host)
}

// String returns the template as written.
func (t Template) String() string { return t.raw }

// PathStyle reports whether launches are told apart by path rather than host.
func (t Template) PathStyle() bool {
	_, inPath := t.placement()
	return inPath
}

// placement reports where the placeholder stands: in the authority (host)
// part or after it.
func (t Template) placement() (inHost, inPath bool) {
	rest := t.raw
	if i := strings.Index(rest, "://"); i >= 0 {
		rest = rest[i+3:]
	}
	authority, path := rest, ""
	if i := strings.Index(rest, "/"); i >= 0 {
		authority, path = rest[:i], rest[i:]
	}
	return strings.Contains(authority, Placeholder), strings.Contains(path, Placeholder)
}

// Render applies the template to a launch id and checks that the result is a
// host an Ingress accepts (DNS-1123 subdomain, every label at most 63
// characters, not an IP) and a clean absolute path.
func (t Template) Render(launch string) (Rendered, error) {
	if t.raw == "" {
		return Rendered{}, fmt.Errorf("template is empty")
	}
	raw := strings.ReplaceAll(t.raw, Placeholder, launch)
	u, err := url.Parse(raw)
	if err != nil {
		return Rendered{}, fmt.Errorf("rendered URL %q: %w", raw, err)
	}
	host := u.Hostname()
	if net.ParseIP(host) != nil {
		return Rendered{}, fmt.Errorf("rendered host %q is an IP address; an Ingress host must be a DNS name", host)
	}
	if msgs := validation.IsDNS1123Subdomain(host); len(msgs) > 0 {
		return Rendered{}, fmt.Errorf("rendered host %q: %s", host, strings.Join(msgs, "; "))
	}
	for _, label := range strings.Split(host, ".") {
		if msgs := validation.IsDNS1123Label(label); len(msgs) > 0 {
			return Rendered{}, fmt.Errorf("rendered host %q, label %q: %s", host, label, strings.Join(msgs, "; "))
		}
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return Rendered{}, fmt.Errorf("rendered URL %q: invalid port %q", raw, p)
		}
	}
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	if path == "" {
		path = "/"
	}
	if strings.Contains(path, "//") || strings.Contains(path, "/../") || strings.HasSuffix(path, "/..") {
		return Rendered{}, fmt.Errorf("rendered path %q must be a clean absolute path", path)
	}
	return Rendered{URL: strings.TrimSuffix(raw, "/"), Host: host, Path: path}, nil
}
