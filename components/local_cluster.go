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
	// Owner identifies the stack (organization/project/stack): a cluster
	// of the same name it did not create is never adopted or deleted.
	Owner string
	// K3sImage (k3d) and KubernetesVersion (minikube) pin the cluster's
	// Kubernetes; they apply when the cluster is created.
	K3sImage          string
	KubernetesVersion string

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

// NewLocalCluster runs the create command, which reuses a cluster of the
// same name only when this stack created it, and registers the delete
// command for destroy, which deletes only such a cluster. Changing the node
// counts or ports replaces the cluster (delete first: the name is fixed, so
// create-before-delete would reuse and then delete it). The kubeconfig is
// read again on every run, so a re-created cluster, a restarted minikube or
// renewed certificates need no --replace.
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
	// Read on every run, once the cluster exists (the script depends on the
	// command's output, so a first preview skips it).
	read := local.RunOutput(ctx, local.RunOutputArgs{
		Command: cmd.Stdout.ApplyT(func(string) string { return p.kubeconfig }).(pulumi.StringOutput),
	}, pulumi.Parent(comp))
	comp.Kubeconfig = pulumi.ToSecret(read.Stdout()).(pulumi.StringOutput)
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
	create, del, kubeconfig, kubeContext string
	triggers                             pulumi.Array
	push, pull, host                     string
}

func (a *LocalClusterArgs) plan() (*localClusterPlan, error) {
	if a.Name == "" || a.Owner == "" {
		return nil, fmt.Errorf("a cluster name and its owning stack are required")
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
			kubeconfig:  requireTools("k3d cluster "+a.Name, "k3d") + "k3d kubeconfig get " + a.Name + "\n",
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
			kubeconfig:  requireTools("minikube profile "+a.Name, "kubectl") + minikubeKubeconfig(a),
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

// ownerLabel marks a cluster with the stack that created it: a k3d node
// container's label, a file in a minikube profile.
const ownerLabel = "apphub.io/owner"

// shellQuote quotes s for /bin/sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// k3dOwner prints the owner label of the cluster's first server ("" if none).
func k3dOwner(name string) string {
	return fmt.Sprintf("owner=$(docker inspect --format '{{ index .Config.Labels %q }}' k3d-%s-server-0 2>/dev/null || true)\n", ownerLabel, name)
}

// K3dCreateScript creates the cluster, or reuses one this stack created,
// and prints its kubeconfig; a cluster of the same name created by anyone
// else stops it, untouched.
func K3dCreateScript(a *LocalClusterArgs) string {
	reg := K3dRegistryName(a.Name)
	var b strings.Builder
	b.WriteString(requireTools("k3d cluster "+a.Name, "k3d", "docker"))
	fmt.Fprintf(&b, "docker info >/dev/null 2>&1 || { echo \"k3d cluster %s: the Docker engine is not reachable (is Docker running?)\" >&2; exit 1; }\n", a.Name)
	fmt.Fprintf(&b, "if k3d cluster get %s >/dev/null 2>&1; then\n", a.Name)
	b.WriteString("  " + k3dOwner(a.Name))
	fmt.Fprintf(&b, "  if [ \"$owner\" != %s ]; then\n", shellQuote(a.Owner))
	fmt.Fprintf(&b, "    echo \"k3d cluster %s exists but this stack (%s) did not create it (owner: ${owner:-none}); it is left alone: delete it yourself (k3d cluster delete %s) or set clusterName to another name\" >&2\n", a.Name, a.Owner, a.Name)
	b.WriteString("    exit 1\n  fi\n")
	fmt.Fprintf(&b, "  echo \"k3d cluster %s (created by this stack) exists: reusing it\" >&2\n", a.Name)
	b.WriteString("else\n")
	fmt.Fprintf(&b, "  k3d cluster create %s --image %s --servers %d --agents %d \\\n", a.Name, shellQuote(a.K3sImage), a.Servers, a.Agents)
	fmt.Fprintf(&b, "    --runtime-label %s \\\n", shellQuote(ownerLabel+"="+a.Owner+"@server:0"))
	fmt.Fprintf(&b, "    --port %d:80@loadbalancer --port %d:443@loadbalancer \\\n", a.HTTPPort, a.HTTPSPort)
	fmt.Fprintf(&b, "    --registry-create %s:0.0.0.0:%d \\\n", reg, a.RegistryHostPort)
	b.WriteString("    --kubeconfig-update-default --kubeconfig-switch-context=false --wait --timeout 300s >&2\n")
	b.WriteString("fi\n")
	fmt.Fprintf(&b, "k3d kubeconfig get %s\n", a.Name)
	return b.String()
}

// K3dDeleteScript deletes the cluster and its registry when this stack
// created the cluster; a cluster already gone is a no-op, and one created
// by anyone else is left alone, saying so.
func K3dDeleteScript(a *LocalClusterArgs) string {
	reg := K3dRegistryName(a.Name)
	var b strings.Builder
	b.WriteString(requireTools("k3d cluster "+a.Name, "k3d", "docker"))
	fmt.Fprintf(&b, "if k3d cluster get %s >/dev/null 2>&1; then\n", a.Name)
	b.WriteString("  " + k3dOwner(a.Name))
	fmt.Fprintf(&b, "  if [ \"$owner\" = %s ]; then\n", shellQuote(a.Owner))
	fmt.Fprintf(&b, "    k3d cluster delete %s >&2\n", a.Name)
	fmt.Fprintf(&b, "    if k3d registry get %s >/dev/null 2>&1; then k3d registry delete %s >&2; fi\n", reg, reg)
	b.WriteString("  else\n")
	fmt.Fprintf(&b, "    echo \"k3d cluster %s was not created by this stack (%s; owner: ${owner:-none}): left alone\" >&2\n", a.Name, a.Owner)
	b.WriteString("  fi\nelse\n")
	fmt.Fprintf(&b, "  echo \"k3d cluster %s is already gone; its registry %s, if any, is left (k3d registry delete %s)\" >&2\n", a.Name, reg, reg)
	b.WriteString("fi\n")
	return b.String()
}

// minikubeProfile is the profile's directory; it records the stack that
// created it in a file (shell builtins only: read, test).
func minikubeProfile(name string) string {
	return fmt.Sprintf("\"${MINIKUBE_HOME:-$HOME/.minikube}/profiles/%s\"", name)
}

func minikubeOwnerFile(name string) string {
	return fmt.Sprintf("\"${MINIKUBE_HOME:-$HOME/.minikube}/profiles/%s/%s\"", name, strings.ReplaceAll(ownerLabel, "/", "-"))
}

// minikubeReadOwner sets $owner from the profile's owner file ("" if none).
func minikubeReadOwner(name string) string {
	return fmt.Sprintf("owner=\"\"; if [ -f %s ]; then read -r owner < %s || true; fi\n", minikubeOwnerFile(name), minikubeOwnerFile(name))
}

func minikubeKubeconfig(a *LocalClusterArgs) string {
	return fmt.Sprintf("kubectl config view --raw --minify --flatten --context %s\n", a.Name)
}

// MinikubeCreateScript starts (or resumes) a profile this stack created,
// with the ingress and registry addons and the pinned Kubernetes, and
// prints a self-contained kubeconfig for it; a profile created by anyone
// else stops it, untouched.
func MinikubeCreateScript(a *LocalClusterArgs) string {
	var b strings.Builder
	b.WriteString(requireTools("minikube profile "+a.Name, "minikube", "kubectl"))
	fmt.Fprintf(&b, "if [ -d %s ]; then\n", minikubeProfile(a.Name))
	b.WriteString("  " + minikubeReadOwner(a.Name))
	fmt.Fprintf(&b, "  if [ \"$owner\" != %s ]; then\n", shellQuote(a.Owner))
	fmt.Fprintf(&b, "    echo \"minikube profile %s exists but this stack (%s) did not create it (owner: ${owner:-none}); it is left alone: delete it yourself (minikube delete --profile %s) or set clusterName to another name\" >&2\n", a.Name, a.Owner, a.Name)
	b.WriteString("    exit 1\n  fi\nfi\n")
	fmt.Fprintf(&b, "minikube start --profile %s --kubernetes-version %s --cpus %d --memory %s --addons ingress --addons registry --wait all >&2\n", a.Name, shellQuote(a.KubernetesVersion), a.CPUs, a.Memory)
	fmt.Fprintf(&b, "printf '%%s' %s > %s\n", shellQuote(a.Owner), minikubeOwnerFile(a.Name))
	b.WriteString(minikubeKubeconfig(a))
	return b.String()
}

// MinikubeDeleteScript deletes the profile when this stack created it.
func MinikubeDeleteScript(a *LocalClusterArgs) string {
	var b strings.Builder
	b.WriteString(requireTools("minikube profile "+a.Name, "minikube"))
	b.WriteString(minikubeReadOwner(a.Name))
	fmt.Fprintf(&b, "if [ \"$owner\" = %s ]; then\n", shellQuote(a.Owner))
	fmt.Fprintf(&b, "  minikube delete --profile %s >&2\n", a.Name)
	b.WriteString("else\n")
	fmt.Fprintf(&b, "  echo \"minikube profile %s was not created by this stack (%s; owner: ${owner:-none}) or is gone: left alone\" >&2\n", a.Name, a.Owner)
	b.WriteString("fi\n")
	return b.String()
}
