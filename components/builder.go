package components

import (
	"encoding/base64"
	"fmt"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// BuilderType is the Pulumi type token of the Builder component.
const BuilderType = "apphub:components:Builder"

// The persistent builder's names, port and paths.
const (
	BuilderName = "apphub-buildkitd"
	// BuilderClientSecret holds the build Jobs' client certificate, key
	// and the CA (ca.pem, cert.pem, key.pem: buildctl's --tlsdir layout).
	BuilderClientSecret = BuilderName + "-client"
	builderServerSecret = BuilderName + "-server"
	BuilderPort         = 1234
	builderCertsPath    = "/certs"
	builderStatePath    = buildkitHome + "/.local/share/buildkit"
	builderUID          = 1000
)

// BuilderArgs is a persistent rootless BuildKit daemon.
type BuilderArgs struct {
	// Namespace is the build namespace (a plain name: it goes into the
	// daemon's certificate).
	Namespace string
	// Image is a rootless BuildKit image (buildkitd, buildctl, rootlesskit).
	Image    string
	Replicas int
	// StorageSize is each replica's state volume; StorageClass empty is
	// the cluster default.
	StorageSize  string
	StorageClass string
	// GCKeepStorage is buildkitd's --oci-worker-gc-keepstorage,
	// "reserved,minFree,maxUsed" in MB: the cache never grows past
	// maxUsed (BuilderGCPolicy).
	GCKeepStorage string
	Resources     ContainerResources
	// CAConfigMap holds extra CA certificates the daemon trusts (git
	// servers, registries), as for ephemeral builds; empty for none.
	CAConfigMap string
	// DependsOn must exist before the daemon's objects: the namespace with
	// its quota and limits, the CA bundle.
	DependsOn []pulumi.Resource
}

// Builder is the build namespace's BuildKit daemon: a StatefulSet whose
// replicas each keep their cache on a volume, a Service in front of them,
// and a NetworkPolicy that admits only build Job pods. Clients need a
// certificate from the platform's own CA (mutual TLS).
type Builder struct {
	pulumi.ResourceState

	// Address is buildctl's --addr for the daemon.
	Address pulumi.StringOutput
	// ClientSecret names the Secret build Jobs mount.
	ClientSecret pulumi.StringOutput
}

// BuilderAddress is the daemon's address inside the cluster.
func BuilderAddress(namespace string) string {
	return fmt.Sprintf("tcp://%s.%s.svc:%d", BuilderName, namespace, BuilderPort)
}

func builderHosts(namespace string) []string {
	return []string{BuilderName, BuilderName + "." + namespace, BuilderName + "." + namespace + ".svc",
		BuilderName + "." + namespace + ".svc.cluster.local"}
}

// NewBuilder deploys the persistent builder. The update waits until every
// replica answers `buildctl debug workers`.
func NewBuilder(ctx *pulumi.Context, name string, args *BuilderArgs, opts ...pulumi.ResourceOption) (*Builder, error) {
	if args == nil {
		return nil, fmt.Errorf("builder %q: %w", name, errNilArgs)
	}
	a := *args
	if a.Namespace == "" || a.Image == "" || a.StorageSize == "" || a.GCKeepStorage == "" || a.Replicas < 1 {
		return nil, fmt.Errorf("builder %q: namespace, image, storage size, GC policy and at least one replica are required", name)
	}
	comp := &Builder{}
	if err := ctx.RegisterComponentResource(BuilderType, name, comp, opts...); err != nil {
		return nil, fmt.Errorf("builder %q: registering component: %w", name, err)
	}
	parent := pulumi.Composite(pulumi.Parent(comp), pulumi.DependsOn(a.DependsOn))
	files, err := newBuilderCerts(ctx, name, a.Namespace, parent)
	if err != nil {
		return nil, fmt.Errorf("builder %q: %w", name, err)
	}
	labels := commonLabels(BuilderName, "builder", nil)
	selector := pulumi.StringMap{LabelName: pulumi.String(BuilderName), LabelComponent: pulumi.String("builder")}
	for side, secret := range map[string]string{"server": builderServerSecret, "client": BuilderClientSecret} {
		if err := newCertSecret(ctx, name+"-"+side+"-certs", secret, a.Namespace, side, labels, files, parent); err != nil {
			return nil, fmt.Errorf("builder %q: %w", name, err)
		}
	}
	if _, err := appsv1.NewStatefulSet(ctx, name, &appsv1.StatefulSetArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(BuilderName), Namespace: pulumi.String(a.Namespace), Labels: labels},
		Spec:     a.statefulSet(labels, selector),
	}, parent); err != nil {
		return nil, fmt.Errorf("builder %q: creating statefulset: %w", name, err)
	}
	if _, err := corev1.NewService(ctx, name, &corev1.ServiceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(BuilderName), Namespace: pulumi.String(a.Namespace), Labels: labels},
		Spec: &corev1.ServiceSpecArgs{
			Type:     pulumi.String("ClusterIP"),
			Selector: selector,
			Ports: corev1.ServicePortArray{&corev1.ServicePortArgs{
				Name: pulumi.String("buildkitd"), Port: pulumi.Int(BuilderPort), TargetPort: pulumi.String("buildkitd"), Protocol: pulumi.String("TCP"),
			}},
		},
	}, parent); err != nil {
		return nil, fmt.Errorf("builder %q: creating service: %w", name, err)
	}
	if _, err := networkingv1.NewNetworkPolicy(ctx, name, &networkingv1.NetworkPolicyArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(BuilderName), Namespace: pulumi.String(a.Namespace), Labels: labels},
		Spec:     builderNetworkPolicy(selector),
	}, parent); err != nil {
		return nil, fmt.Errorf("builder %q: creating network policy: %w", name, err)
	}
	comp.Address = pulumi.String(BuilderAddress(a.Namespace)).ToStringOutput()
	comp.ClientSecret = pulumi.String(BuilderClientSecret).ToStringOutput()
	if err := finish(ctx, comp, "builder", name, pulumi.Map{"address": comp.Address, "clientSecret": comp.ClientSecret}); err != nil {
		return nil, err
	}
	return comp, nil
}

// newBuilderCerts makes the secret seed the certificates derive from and
// returns the files, a secret map keyed "ca", "<side>-cert", "<side>-key".
func newBuilderCerts(ctx *pulumi.Context, name, namespace string, parent pulumi.ResourceOption) (pulumi.StringMapOutput, error) {
	seed, err := random.NewRandomBytes(ctx, name+"-tls-seed", &random.RandomBytesArgs{Length: pulumi.Int(32)}, parent)
	if err != nil {
		return pulumi.StringMapOutput{}, fmt.Errorf("creating the TLS seed: %w", err)
	}
	hosts := builderHosts(namespace)
	files := seed.Base64.ApplyT(func(b64 string) (map[string]string, error) {
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("decoding the TLS seed: %w", err)
		}
		c, err := IssueBuilderCerts(raw, hosts)
		if err != nil {
			return nil, err
		}
		return map[string]string{"ca": c.CA, "server-cert": c.ServerCert, "server-key": c.ServerKey,
			"client-cert": c.ClientCert, "client-key": c.ClientKey}, nil
	}).(pulumi.StringMapOutput)
	return pulumi.ToSecret(files).(pulumi.StringMapOutput), nil
}

// newCertSecret stores one side's certificate, key and the CA under
// buildctl's and buildkitd's file names.
func newCertSecret(ctx *pulumi.Context, resName, name, namespace, side string, labels pulumi.StringMap, files pulumi.StringMapOutput, parent pulumi.ResourceOption) error {
	_, err := corev1.NewSecret(ctx, resName, &corev1.SecretArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(name), Namespace: pulumi.String(namespace), Labels: labels},
		Type:     pulumi.String("Opaque"),
		StringData: pulumi.StringMap{
			"ca.pem":   files.MapIndex(pulumi.String("ca")),
			"cert.pem": files.MapIndex(pulumi.String(side + "-cert")),
			"key.pem":  files.MapIndex(pulumi.String(side + "-key")),
		},
	}, parent, pulumi.AdditionalSecretOutputs([]string{"data", "stringData"}))
	if err != nil {
		return fmt.Errorf("creating secret %s: %w", name, err)
	}
	return nil
}

// builderNetworkPolicy admits only the build namespace's build Job pods
// (they carry the build label), on the daemon's port.
func builderNetworkPolicy(selector pulumi.StringMap) *networkingv1.NetworkPolicySpecArgs {
	return &networkingv1.NetworkPolicySpecArgs{
		PodSelector: &metav1.LabelSelectorArgs{MatchLabels: selector},
		PolicyTypes: pulumi.ToStringArray([]string{"Ingress"}),
		Ingress: networkingv1.NetworkPolicyIngressRuleArray{&networkingv1.NetworkPolicyIngressRuleArgs{
			From: networkingv1.NetworkPolicyPeerArray{&networkingv1.NetworkPolicyPeerArgs{
				PodSelector: &metav1.LabelSelectorArgs{MatchExpressions: metav1.LabelSelectorRequirementArray{
					&metav1.LabelSelectorRequirementArgs{Key: pulumi.String(LabelBuild), Operator: pulumi.String("Exists")},
				}},
			}},
			Ports: networkingv1.NetworkPolicyPortArray{&networkingv1.NetworkPolicyPortArgs{
				Protocol: pulumi.String("TCP"), Port: pulumi.Int(BuilderPort),
			}},
		}},
	}
}
