package validate

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

// DNSLabel checks a name that must be an RFC 1123 label (namespaces, most
// object names, label values used as names).
func (p *Problems) DNSLabel(field, value string) {
	if value == "" {
		p.Add(field, "is required")
		return
	}
	p.Check(field, validation.IsDNS1123Label(value))
}

// DNSLabelBudget checks a DNS-1123 label that will later be extended by
// extra characters (prefixes, Pulumi's auto-name suffix), so the final name
// still fits in 63 characters.
func (p *Problems) DNSLabelBudget(field, value string, extra int) {
	p.DNSLabel(field, value)
	if limit := validation.DNS1123LabelMaxLength - extra; len(value) > limit {
		p.Add(field, "must be at most %d characters (%d reserved for prefixes and suffixes)", limit, extra)
	}
}

// DNS1035Label checks a Service name: a label that starts with a letter.
func (p *Problems) DNS1035Label(field, value string) {
	if value == "" {
		p.Add(field, "is required")
		return
	}
	p.Check(field, validation.IsDNS1035Label(value))
}

// DNSSubdomain checks an object name or host that may contain dots.
func (p *Problems) DNSSubdomain(field, value string) {
	if value == "" {
		p.Add(field, "is required")
		return
	}
	p.Check(field, validation.IsDNS1123Subdomain(value))
}

// Quantity checks a Kubernetes resource quantity such as "500m" or "4Gi"
// and returns it parsed (zero when invalid) for comparisons.
func (p *Problems) Quantity(field, value string) (resource.Quantity, bool) {
	if value == "" {
		p.Add(field, "is required")
		return resource.Quantity{}, false
	}
	q, err := resource.ParseQuantity(value)
	if err != nil {
		p.Add(field, "must be a Kubernetes quantity such as 500m or 4Gi: %v", err)
		return resource.Quantity{}, false
	}
	if q.Sign() <= 0 {
		p.Add(field, "must be greater than zero")
		return q, false
	}
	return q, true
}

// Range checks lo <= value <= hi.
func (p *Problems) Range(field string, value, lo, hi int) {
	if value < lo || value > hi {
		p.Add(field, "must be between %d and %d, got %d", lo, hi, value)
	}
}

// Port checks a TCP port number.
func (p *Problems) Port(field string, value int) {
	p.Check(field, validation.IsValidPortNum(value))
}

// OneOf checks value against a closed set.
func (p *Problems) OneOf(field, value string, allowed ...string) bool {
	for _, a := range allowed {
		if value == a {
			return true
		}
	}
	p.Add(field, "must be one of %v, got %q", allowed, value)
	return false
}

// NotAbove records that a quantity exceeds its ceiling.
func (p *Problems) NotAbove(field string, value resource.Quantity, ceilingField string, ceiling resource.Quantity) {
	if value.Cmp(ceiling) > 0 {
		p.Add(field, "%s must not exceed %s (%s)", value.String(), ceilingField, ceiling.String())
	}
}

// Required records a missing value.
func (p *Problems) Required(field, value string) bool {
	if value == "" {
		p.Add(field, "is required")
		return false
	}
	return true
}

// Trimmed records a value with leading or trailing whitespace. Config
// loading trims, so a padded request value would otherwise be accepted as
// something other than what the caller sent.
func (p *Problems) Trimmed(field, value string) {
	if strings.TrimSpace(value) != value {
		p.Add(field, "must not begin or end with whitespace, got %q", value)
	}
}

// Bearer token bounds: shorter is guessable, longer than any header a
// proxy passes.
const (
	MinTokenLength = 16
	MaxTokenLength = 4096
)

// Token checks a bearer token (already trimmed): 16 to 4096 visible ASCII
// characters, which an Authorization header carries unchanged.
func (p *Problems) Token(field, value string) {
	switch {
	case value == "":
		p.Add(field, "is empty")
	case len(value) < MinTokenLength:
		p.Add(field, "must be at least %d characters (e.g. openssl rand -hex 32), got %d", MinTokenLength, len(value))
	case len(value) > MaxTokenLength:
		p.Add(field, "must be at most %d characters, got %d", MaxTokenLength, len(value))
	case strings.IndexFunc(value, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0:
		p.Add(field, "must be visible ASCII characters only (no spaces or control characters)")
	}
}

// ErrNotCIDR is MaskedPrefix's error for text that is no CIDR at all.
var ErrNotCIDR = errors.New("not a CIDR")

// MaskedPrefix parses a CIDR that names its range exactly: 10.20.0.1/16
// is refused (has host bits set) rather than silently read as
// 10.20.0.0/16, since the writer may have meant either.
func MaskedPrefix(s string) (netip.Prefix, error) {
	pfx, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, ErrNotCIDR
	}
	if pfx != pfx.Masked() {
		return netip.Prefix{}, fmt.Errorf("has host bits set; did you mean %s?", pfx.Masked())
	}
	return pfx, nil
}
