package stacks

import "fmt"

// toolHints says where to get each local-cluster tool.
var toolHints = map[string]string{
	"k3d":      "install k3d v5 (https://k3d.io)",
	"docker":   "install Docker and start it; k3d runs its nodes as containers",
	"minikube": "install minikube (https://minikube.sigs.k8s.io)",
	"kubectl":  "install kubectl; it extracts minikube's kubeconfig and clears ARC's finalizers on destroy",
}

// RequiredTools lists the commands the config's local cluster needs.
func (c *PlatformConfig) RequiredTools() []string {
	var tools []string
	switch c.Cluster.Kind {
	case ClusterK3d:
		tools = []string{"k3d", "docker"}
	case ClusterMinikube:
		tools = []string{"minikube", "kubectl"}
	}
	if c.ARC.Enabled() && c.Cluster.Kind != ClusterMinikube {
		// The ARC finalizer guard runs kubectl when the platform is destroyed.
		tools = append(tools, "kubectl")
	}
	return tools
}

// CheckTools reports every missing tool before any resource is registered,
// rather than halfway through an update.
func (c *PlatformConfig) CheckTools(lookPath func(string) (string, error)) error {
	var missing []string
	for _, t := range c.RequiredTools() {
		if _, err := lookPath(t); err != nil {
			missing = append(missing, fmt.Sprintf("%q (%s)", t, toolHints[t]))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("clusterKind %s (ARC on: %t) needs tools that are not on PATH: %v", c.Cluster.Kind, c.ARC.Enabled(), missing)
	}
	return nil
}
