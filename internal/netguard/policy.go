// Package netguard decides which addresses the service may send a request
// to on a caller's behalf (callbacks): public unicast addresses only,
// unless an operator allows a private range by CIDR. The same policy runs
// when a URL is accepted and when its name has been resolved and is about
// to be dialled, so neither DNS nor an unusual spelling of an address can
// point a request at the cluster's own network.
package netguard

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/apphub/apphub-infra/internal/validate"
)

// Policy refuses every non-public address except those in Allow.
type Policy struct {
	// Allow are ranges a caller may reach although they are not public
	// (a receiver inside the cluster, a test server on loopback).
	Allow []netip.Prefix
}

// special are the ranges that are not public unicast, with what they are
// (IANA's IPv4 and IPv6 special-purpose registries, and the metadata
// services clouds put inside them).
var special = []struct {
	prefix netip.Prefix
	what   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "\"this\" network"},
	{netip.MustParsePrefix("10.0.0.0/8"), "a private range (RFC 1918)"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT space (RFC 6598)"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local (cloud metadata lives here)"},
	{netip.MustParsePrefix("172.16.0.0/12"), "a private range (RFC 1918)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation space"},
	{netip.MustParsePrefix("192.88.99.0/24"), "6to4 relay anycast"},
	{netip.MustParsePrefix("192.168.0.0/16"), "a private range (RFC 1918)"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking space"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation space"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation space"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved space (and broadcast)"},
	{netip.MustParsePrefix("::/128"), "the unspecified address"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("::/96"), "IPv4-compatible space (deprecated)"},
	{netip.MustParsePrefix("64:ff9b::/96"), "NAT64, which reaches IPv4 addresses"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use NAT64"},
	{netip.MustParsePrefix("100::/64"), "discard-only space"},
	{netip.MustParsePrefix("2001::/23"), "IETF protocol assignments (Teredo among them)"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation space"},
	{netip.MustParsePrefix("2002::/16"), "6to4, which reaches IPv4 addresses"},
	{netip.MustParsePrefix("fc00::/7"), "unique local space (cloud metadata such as fd00:ec2::254 lives here)"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("fec0::/10"), "site-local (deprecated)"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

// CheckAddr refuses an address that is not public unicast and that Allow
// does not cover. An IPv4 address written as IPv6 (::ffff:a.b.c.d) is
// judged as the IPv4 address it is; an address with a zone is refused
// (it names an interface, never a public host).
func (p Policy) CheckAddr(a netip.Addr) error {
	if a.Zone() != "" {
		return fmt.Errorf("%s names a network interface (zone %q)", a, a.Zone())
	}
	a = a.Unmap()
	for _, allowed := range p.Allow {
		if allowed.Contains(a) {
			return nil
		}
	}
	for _, s := range special {
		if s.prefix.Contains(a) {
			return fmt.Errorf("%s is %s", a, s.what)
		}
	}
	return nil
}

// CheckHost judges the host of a URL before anything is resolved: an IP
// address in its canonical form is checked; any other spelling of an
// address (decimal, octal or hex IPv4, fewer than four parts) is refused,
// since resolvers disagree on what it means; "localhost" and its
// subdomains are loopback. Other names are judged when dialled.
func (p Policy) CheckHost(host string) error {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "" {
		return fmt.Errorf("has no host")
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return p.CheckAddr(a)
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return p.CheckAddr(netip.MustParseAddr("127.0.0.1"))
	}
	if numericSpelling(host) || strings.IndexFunc(host, notNameRune) >= 0 {
		return fmt.Errorf("%s is not an address in dotted-quad or IPv6 form, nor a DNS name", host)
	}
	return nil
}

// CheckDial judges the address a connection is about to be made to
// ("ip:port", after resolution).
func (p Policy) CheckDial(address string) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("cannot judge address %q: %v", address, err)
	}
	return p.CheckAddr(ap.Addr())
}

// numericSpelling reports a host made only of numbers and dots (in
// decimal, octal or 0x hex), which no DNS name is: every label of a real
// name has a letter, or it is an address.
func numericSpelling(host string) bool {
	for _, label := range strings.Split(host, ".") {
		l := strings.TrimPrefix(label, "0x")
		if l == "" {
			return label != "" // "0x" alone is a number; an empty label is not
		}
		for _, r := range l {
			isHex := r >= '0' && r <= '9' || r >= 'a' && r <= 'f'
			if !isHex || (l == label && (r < '0' || r > '9')) {
				return false
			}
		}
	}
	return true
}

// notNameRune is a character no DNS name has (a zone's %, a colon).
func notNameRune(r rune) bool {
	return (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' && r != '_' && r != '.'
}

// ParseAllow reads CIDRs for Policy.Allow; a bare address is one host.
func ParseAllow(values []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range values {
		v = strings.TrimSpace(v)
		pfx, err := validate.MaskedPrefix(v)
		if err == nil {
			out = append(out, pfx)
			continue
		}
		if !errors.Is(err, validate.ErrNotCIDR) {
			return nil, fmt.Errorf("%q %w", v, err)
		}
		a, err := netip.ParseAddr(v)
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("%q is not a CIDR such as 10.20.0.0/16 or fd00:1::/64", v)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
