package components

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-command/sdk/go/command/local"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// LocalClusterType is the Pulumi type token of the LocalCluster component.
const LocalClusterType = "apphub:components:LocalCluster"

// Local cluster kinds.
const (
	LocalClusterK3d      = "k3d"
	LocalClusterMinikube = "minikube"
)

// LocalClusterArgs configures a developer cluster created by a command.
type LocalClusterArgs struct {
	// Kind is k3d or minikube.
	Kind string
	// Name is the cluster (k3d) or profile (minikube) name.
	Name string

	// k3d
	Servers, Agents     int
	HTTPPort, HTTPSPort int
	RegistryHostPort    int
	// minikube
	CPUs   int
	Memory string
}

// LocalCluster is a k3d or minikube cluster with a registry, owned by the
// stack: created on up, deleted on destroy.
type LocalCluster struct {
	pulumi.ResourceState

	// Kubeconfig is the cluster's kubeconfig, a Pulumi secret.
	Kubeconfig pulumi.StringOutput
	// Context is the kubeconfig context of the cluster.
	Context pulumi.StringOutput
	// RegistryPushAddress and RegistryPullAddress are the registry as pods
	// and the kubelet reach it; RegistryHostAddress as the host does.
	RegistryPushAddress pulumi.StringOutput
	RegistryPullAddress pulumi.StringOutput
	RegistryHostAddress pulumi.StringOutput
}

// NewLocalCluster runs the create command, which reuses an existing cluster
// of the same name, and registers the delete command for destroy. Changing
// the node counts or ports replaces the cluster (delete first: the name is
// fixed, so create-before-delete would reuse and then delete it).
func NewLocalCluster(ctx *pulumi.Context, name string, args *LocalClusterArgs, opts ...pulumi.ResourceOption) (*LocalCluster, error) {
	if args == nil {
		return nil, fmt.Errorf("local cluster %q: %w", name, errNilArgs)
	}
	p, err := args.plan()
	if err != nil {
		return nil, fmt.Errorf("local cluster %q: %w", name, err)
	}
	comp := &LocalCluster{}
	if err := ctx.RegisterComponentResource(LocalClusterType, name, comp, opts...); err != nil {
		return nil, fmt.Errorf("local cluster %q: registering component: %w", name, err)
	}
	cmd, err := local.NewCommand(ctx, name, &local.CommandArgs{
		Create:   pulumi.String(p.create),
		Delete:   pulumi.String(p.del),
		Triggers: p.triggers,
		// stdout is the kubeconfig: keep it out of the update's log.
		Logging: local.LoggingStderr,
	}, pulumi.Parent(comp),
		pulumi.AdditionalSecretOutputs([]string{"stdout"}),
		pulumi.DeleteBeforeReplace(true))
	if err != nil {
		return nil, fmt.Errorf("local cluster %q: creating command: %w", name, err)
	}
	comp.Kubeconfig = pulumi.ToSecret(cmd.Stdout).(pulumi.StringOutput)
	// Depending on the command output makes every consumer of the context
	// wait for the cluster.
	comp.Context = cmd.Stdout.ApplyT(func(string) string { return p.kubeContext }).(pulumi.StringOutput)
	comp.RegistryPushAddress = pulumi.String(p.push).ToStringOutput()
	comp.RegistryPullAddress = pulumi.String(p.pull).ToStringOutput()
	comp.RegistryHostAddress = pulumi.String(p.host).ToStringOutput()
	if err := finish(ctx, comp, "local cluster", name, pulumi.Map{
		"context":             comp.Context,
		"registryPushAddress": comp.RegistryPushAddress,
		"registryHostAddress": comp.RegistryHostAddress,
	}); err != nil {
		return nil, err
	}
	return comp, nil
}

// localClusterPlan is what one kind of cluster runs, which changes replace
// it, and where its registry is (as LocalCluster's addresses).
type localClusterPlan struct {
	create, del, kubeContext string
	triggers                 pulumi.Array
	push, pull, host         string
}

func (a *LocalClusterArgs) plan() (*localClusterPlan, error) {
	if a.Name == "" {
		return nil, fmt.Errorf("a cluster name is required")
	}
	switch a.Kind {
	case LocalClusterK3d:
		if a.Servers < 1 || a.Agents < 0 {
			return nil, fmt.Errorf("k3d needs at least one server")
		}
		registry := K3dRegistryName(a.Name)
		return &localClusterPlan{
			create:      K3dCreateScript(a),
			del:         K3dDeleteScript(a),
			kubeContext: "k3d-" + a.Name,
			triggers: pulumi.Array{pulumi.String(a.Kind), pulumi.String(a.Name), pulumi.Int(a.Servers), pulumi.Int(a.Agents),
				pulumi.Int(a.HTTPPort), pulumi.Int(a.HTTPSPort), pulumi.Int(a.RegistryHostPort)},
			push: registry + ":5000",
			pull: registry + ":5000",
			host: fmt.Sprintf("%s.localhost:%d", registry, a.RegistryHostPort),
		}, nil
	case LocalClusterMinikube:
		return &localClusterPlan{
			create:      MinikubeCreateScript(a),
			del:         MinikubeDeleteScript(a),
			kubeContext: a.Name,
			triggers:    pulumi.Array{pulumi.String(a.Kind), pulumi.String(a.Name), pulumi.Int(a.CPUs), pulumi.String(a.Memory)},
			push:        MinikubeRegistryPushAddress,
			pull:        MinikubeRegistryPullAddress,
		}, nil
	default:
		return nil, fmt.Errorf("unknown kind %q (k3d or minikube)", a.Kind)
	}
}

// Minikube's registry addon: a Service for pods, and a registry-proxy
// DaemonSet listening on every node's port 5000 for the kubelet.
const (
	MinikubeRegistryPushAddress = "registry.kube-system.svc.cluster.local:80"
	MinikubeRegistryPullAddress = "localhost:5000"
)

// K3dRegistryName is the registry k3d creates beside the cluster; pods and
// nodes reach it by this name on k3d's Docker network.
func K3dRegistryName(cluster string) string { return cluster + "-registry" }

// requireTools is the shell preamble that names a missing tool before any
// command changes anything.
func requireTools(what string, tools ...string) string {
	var b strings.Builder
	b.WriteString("set -eu\n")
	for _, t := range tools {
		fmt.Fprintf(&b, "command -v %s >/dev/null 2>&1 || { echo \"%s: '%s' is not installed or not on PATH (see README: Dev cluster)\" >&2; exit 127; }\n", t, what, t)
	}
	return b.String()
}

// K3dCreateScript creates (or reuses) the cluster and prints its kubeconfig.
func K3dCreateScript(a *LocalClusterArgs) string {
	reg := K3dRegistryName(a.Name)
	var b strings.Builder
	b.WriteString(requireTools("k3d cluster "+a.Name, "k3d", "docker"))
	fmt.Fprintf(&b, "docker info >/dev/null 2>&1 || { echo \"k3d cluster %s: the Docker engine is not reachable (is Docker running?)\" >&2; exit 1; }\n", a.Name)
	fmt.Fprintf(&b, "if k3d cluster get %s >/dev/null 2>&1; then\n", a.Name)
	fmt.Fprintf(&b, "  echo \"k3d cluster %s exists: reusing it\" >&2\n", a.Name)
	b.WriteString("else\n")
	fmt.Fprintf(&b, "  k3d cluster create %s --servers %d --agents %d \\\n", a.Name, a.Servers, a.Agents)
	fmt.Fprintf(&b, "    --port %d:80@loadbalancer --port %d:443@loadbalancer \\\n", a.HTTPPort, a.HTTPSPort)
	fmt.Fprintf(&b, "    --registry-create %s:0.0.0.0:%d \\\n", reg, a.RegistryHostPort)
	b.WriteString("    --kubeconfig-update-default --kubeconfig-switch-context=false --wait --timeout 300s >&2\n")
	b.WriteString("fi\n")
	fmt.Fprintf(&b, "k3d kubeconfig get %s\n", a.Name)
	return b.String()
}

// K3dDeleteScript deletes the cluster and its registry; both are no-ops
// when already gone, so a destroy after a manual delete still succeeds.
func K3dDeleteScript(a *LocalClusterArgs) string {
	var b strings.Builder
	b.WriteString(requireTools("k3d cluster "+a.Name, "k3d"))
	fmt.Fprintf(&b, "if k3d cluster get %s >/dev/null 2>&1; then k3d cluster delete %s >&2; fi\n", a.Name, a.Name)
	fmt.Fprintf(&b, "if k3d registry get %s >/dev/null 2>&1; then k3d registry delete %s >&2; fi\n", K3dRegistryName(a.Name), K3dRegistryName(a.Name))
	return b.String()
}

// MinikubeCreateScript starts (or resumes) the profile with the ingress and
// registry addons and prints a self-contained kubeconfig for it.
func MinikubeCreateScript(a *LocalClusterArgs) string {
	var b strings.Builder
	b.WriteString(requireTools("minikube profile "+a.Name, "minikube", "kubectl"))
	fmt.Fprintf(&b, "minikube start --profile %s --cpus %d --memory %s --addons ingress --addons registry --wait all >&2\n", a.Name, a.CPUs, a.Memory)
	fmt.Fprintf(&b, "kubectl config view --raw --minify --flatten --context %s\n", a.Name)
	return b.String()
}

// MinikubeDeleteScript deletes the profile (a no-op when it is gone).
func MinikubeDeleteScript(a *LocalClusterArgs) string {
	return requireTools("minikube profile "+a.Name, "minikube") +
		fmt.Sprintf("minikube delete --profile %s >&2\n", a.Name)
}
