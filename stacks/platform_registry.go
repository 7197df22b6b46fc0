package stacks

import (
	"strings"

	"github.com/apphub/apphub-infra/components"
)

// Registry addresses for registries this stack does not run itself. The
// in-cluster registry's come from its component.

// externalRegistryAddresses returns push, pull and host addresses of an
// external registry; other kinds get theirs from the component running them.
func (c *PlatformConfig) externalRegistryAddresses() (push, pull, host string) {
	if c.Registry.Kind == RegistryExternal {
		return c.Registry.Server, c.Registry.Server, c.Registry.Server
	}
	return "", "", ""
}

// localRegistryPushAddress is the local cluster registry's address as a
// plain string, for the registry credentials' login host.
func (c *PlatformConfig) localRegistryPushAddress() string {
	if c.Registry.Kind == RegistryK3d {
		return components.K3dRegistryName(c.Cluster.Name) + ":5000"
	}
	return components.MinikubeRegistryPushAddress
}

// RegistryLoginHost is the key of the docker config "auths" entry: the
// registry host without any repository namespace.
func RegistryLoginHost(address string) string {
	host, _, _ := strings.Cut(address, "/")
	return host
}
