package stacks

import (
	"fmt"
	"strings"
)

// Registry addresses for registries this stack does not run itself. The
// in-cluster registry's come from its component.

// k3dRegistryName is the registry container k3d creates next to the cluster.
func (c *PlatformConfig) k3dRegistryName() string { return c.Cluster.Name + "-registry" }

// staticRegistryAddresses returns push, pull and host addresses for k3d,
// minikube and external registries.
func (c *PlatformConfig) staticRegistryAddresses() (push, pull, host string) {
	switch c.Registry.Kind {
	case RegistryK3d:
		// Pods and nodes share k3d's Docker network and reach the registry
		// by container name over plain HTTP; the host uses its port mapping.
		in := fmt.Sprintf("%s:5000", c.k3dRegistryName())
		return in, in, fmt.Sprintf("%s.localhost:%d", c.k3dRegistryName(), c.Registry.HostPort)
	case RegistryMinikube:
		// The registry addon: a Service for pods, and a registry-proxy
		// DaemonSet listening on every node's port 5000 for the kubelet.
		return "registry.kube-system.svc.cluster.local:80", "localhost:5000", ""
	case RegistryExternal:
		return c.Registry.Server, c.Registry.Server, c.Registry.Server
	}
	return "", "", ""
}

// registryLoginHost is the key of the docker config "auths" entry: the
// registry host without any repository namespace.
func registryLoginHost(address string) string {
	host, _, _ := strings.Cut(address, "/")
	return host
}
