package netguard

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHostsRefusedByDefault(t *testing.T) {
	tests := []struct{ host, reason string }{
		{"127.0.0.1", "loopback"},
		{"::1", "loopback"},
		{"::1%lo", "zone"},
		{"fe80::1%lo", "zone"},
		{"fe80::1", "link-local"},
		{"169.254.169.254", "link-local"},
		{"10.0.0.5", "RFC 1918"},
		{"172.16.3.4", "RFC 1918"},
		{"192.168.1.1", "RFC 1918"},
		{"100.100.100.200", "carrier-grade NAT"},
		{"fd00:ec2::254", "unique local"},
		{"fc00::1", "unique local"},
		{"::ffff:127.0.0.1", "loopback"},
		{"::ffff:10.0.0.1", "RFC 1918"},
		{"64:ff9b::a00:1", "NAT64"},
		{"2002:7f00:1::", "6to4"},
		{"0.0.0.0", "\"this\" network"},
		{"::", "unspecified"},
		{"224.0.0.1", "multicast"},
		{"255.255.255.255", "reserved"},
		{"localhost", "loopback"},
		{"api.localhost.", "loopback"},
		{"2130706433", "not an address in dotted-quad"},
		{"0177.0.0.1", "not an address in dotted-quad"},
		{"0x7f.1", "not an address in dotted-quad"},
		{"127.1", "not an address in dotted-quad"},
		{"", "has no host"},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			err := Policy{}.CheckHost(tt.host)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.reason)
		})
	}
}

func TestHostsAllowed(t *testing.T) {
	for _, host := range []string{"93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "hooks.example.com", "deadbeef.example", "1e100.net", "8.8.8.8"} {
		assert.NoError(t, Policy{}.CheckHost(host), host)
	}
}

// An operator's allow-list opens exactly the ranges it names, nothing
// around them, and never a zone.
func TestAllowList(t *testing.T) {
	allow, err := ParseAllow([]string{"10.20.0.0/16", "127.0.0.1", "fd00:1::/64"})
	require.NoError(t, err)
	p := Policy{Allow: allow}
	for _, ok := range []string{"10.20.3.4", "127.0.0.1", "fd00:1::5", "::ffff:10.20.0.1"} {
		assert.NoError(t, p.CheckHost(ok), ok)
	}
	for _, refused := range []string{"10.21.0.1", "127.0.0.2", "fd00:2::1", "::1", "127.0.0.1%lo"} {
		assert.Error(t, p.CheckHost(refused), refused)
	}
	assert.NoError(t, p.CheckDial("127.0.0.1:8080"))
	assert.Error(t, p.CheckDial("[::1]:8080"))
	assert.Error(t, p.CheckDial("[fe80::1%lo]:8080"))
}

func TestParseAllowRefusesWhatIsNoRange(t *testing.T) {
	for in, want := range map[string]string{
		"10.20.0.1/16": "host bits set; did you mean 10.20.0.0/16",
		"10.20.0.0/33": "is not a CIDR",
		"intranet":     "is not a CIDR",
		"fe80::1%eth0": "is not a CIDR",
	} {
		_, err := ParseAllow([]string{in})
		require.Error(t, err, in)
		assert.Contains(t, err.Error(), want, in)
	}
	got, err := ParseAllow([]string{" 192.168.0.0/24 ", "::1"})
	require.NoError(t, err)
	assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("192.168.0.0/24"), netip.MustParsePrefix("::1/128")}, got)
}
