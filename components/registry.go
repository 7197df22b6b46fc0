package components

import (
	"fmt"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// RegistryType is the Pulumi type token of the Registry component.
const RegistryType = "apphub:components:Registry"

// RegistryPort is the port the registry listens on inside the cluster.
const RegistryPort = 5000

// RegistryArgs configures an in-cluster OCI registry for clusters that have
// none (k3d and external registries need no such thing).
type RegistryArgs struct {
	Namespace NamespaceRef
	// Name is the Kubernetes name of the Deployment, Service and claim.
	Name  string
	Image string
	// StorageSize is the claim size, e.g. 10Gi.
	StorageSize string
	// StorageClass is empty for the cluster default.
	StorageClass string
	// NodePort exposes the registry on every node so the kubelet, which does
	// not resolve cluster DNS, can pull from localhost:NodePort.
	NodePort int
	// ProtectVolume protects the claim that holds the images.
	ProtectVolume bool
}

// Registry is a single-replica registry with a persistent volume.
type Registry struct {
	pulumi.ResourceState

	// PushAddress is where in-cluster builds push (cluster DNS).
	PushAddress pulumi.StringOutput
	// PullAddress is what image references in pod specs use.
	PullAddress pulumi.StringOutput
}

// NewRegistry creates the claim, the Deployment and the NodePort Service.
func NewRegistry(ctx *pulumi.Context, name string, args *RegistryArgs, opts ...pulumi.ResourceOption) (*Registry, error) {
	if args == nil {
		return nil, fmt.Errorf("registry %q: %w", name, errNilArgs)
	}
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("registry %q: %w", name, err)
	}
	comp := &Registry{}
	if err := ctx.RegisterComponentResource(RegistryType, name, comp, opts...); err != nil {
		return nil, fmt.Errorf("registry %q: registering component: %w", name, err)
	}
	parent := pulumi.Parent(comp)
	pvc, err := corev1.NewPersistentVolumeClaim(ctx, name, &corev1.PersistentVolumeClaimArgs{
		Metadata: args.meta(),
		Spec:     readWriteOnceClaim(args.StorageSize, args.StorageClass),
	}, parent, pulumi.Protect(args.ProtectVolume))
	if err != nil {
		return nil, fmt.Errorf("registry %q: creating volume claim: %w", name, err)
	}
	if _, err := appsv1.NewDeployment(ctx, name, args.deployment(pvc), parent); err != nil {
		return nil, fmt.Errorf("registry %q: creating deployment: %w", name, err)
	}
	svc, err := corev1.NewService(ctx, name, args.service(), parent)
	if err != nil {
		return nil, fmt.Errorf("registry %q: creating service: %w", name, err)
	}

	comp.PushAddress = pulumi.Sprintf("%s.%s.svc.cluster.local:%d", svc.Metadata.Name().Elem(), svc.Metadata.Namespace().Elem(), RegistryPort)
	comp.PullAddress = pulumi.Sprintf("localhost:%d", args.NodePort)
	if err := finish(ctx, comp, "registry", name, pulumi.Map{
		"pushAddress": comp.PushAddress,
		"pullAddress": comp.PullAddress,
	}); err != nil {
		return nil, err
	}
	return comp, nil
}

func (a *RegistryArgs) validate() error {
	if err := a.Namespace.valid(); err != nil {
		return err
	}
	if a.Name == "" || a.Image == "" || a.StorageSize == "" {
		return fmt.Errorf("name, image and storage size are required")
	}
	if a.NodePort < 30000 || a.NodePort > 32767 {
		return fmt.Errorf("node port %d is outside 30000-32767", a.NodePort)
	}
	return nil
}

func (a *RegistryArgs) labels() pulumi.StringMap { return commonLabels(a.Name, "registry", nil) }

// selector matches the registry's pods only.
func (a *RegistryArgs) selector() pulumi.StringMap {
	return pulumi.StringMap{LabelName: pulumi.String(a.Name), LabelComponent: pulumi.String("registry")}
}

func (a *RegistryArgs) meta() *metav1.ObjectMetaArgs {
	return &metav1.ObjectMetaArgs{Name: pulumi.String(a.Name), Namespace: a.Namespace.Name, Labels: a.labels()}
}

func (a *RegistryArgs) deployment(pvc *corev1.PersistentVolumeClaim) *appsv1.DeploymentArgs {
	return &appsv1.DeploymentArgs{
		Metadata: a.meta(),
		Spec: &appsv1.DeploymentSpecArgs{
			Replicas: pulumi.Int(1),
			// The volume is ReadWriteOnce: never run two registries at once.
			Strategy: &appsv1.DeploymentStrategyArgs{Type: pulumi.String("Recreate")},
			Selector: &metav1.LabelSelectorArgs{MatchLabels: a.selector()},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: a.labels()},
				Spec: &corev1.PodSpecArgs{
					AutomountServiceAccountToken: pulumi.Bool(false),
					SecurityContext:              restrictedPod(1000),
					Containers:                   corev1.ContainerArray{a.container()},
					Volumes: corev1.VolumeArray{&corev1.VolumeArgs{
						Name: pulumi.String("data"),
						PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSourceArgs{
							ClaimName: pvc.Metadata.Name().Elem(),
						},
					}},
				},
			},
		},
	}
}

func (a *RegistryArgs) container() *corev1.ContainerArgs {
	return &corev1.ContainerArgs{
		Name:  pulumi.String("registry"),
		Image: pulumi.String(a.Image),
		Ports: corev1.ContainerPortArray{&corev1.ContainerPortArgs{
			Name: pulumi.String("registry"), ContainerPort: pulumi.Int(RegistryPort),
		}},
		Env: corev1.EnvVarArray{
			&corev1.EnvVarArgs{Name: pulumi.String("REGISTRY_STORAGE_DELETE_ENABLED"), Value: pulumi.String("true")},
		},
		ReadinessProbe: &corev1.ProbeArgs{
			HttpGet: &corev1.HTTPGetActionArgs{Path: pulumi.String("/v2/"), Port: pulumi.Int(RegistryPort)},
		},
		Resources: ContainerResources{CPURequest: "50m", MemoryRequest: "64Mi", CPULimit: "500m", MemoryLimit: "256Mi"}.requirements(),
		SecurityContext: &corev1.SecurityContextArgs{
			AllowPrivilegeEscalation: pulumi.Bool(false),
			Capabilities:             &corev1.CapabilitiesArgs{Drop: pulumi.ToStringArray([]string{"ALL"})},
		},
		VolumeMounts: corev1.VolumeMountArray{&corev1.VolumeMountArgs{
			Name: pulumi.String("data"), MountPath: pulumi.String("/var/lib/registry"),
		}},
	}
}

// service is the NodePort the kubelet pulls through.
func (a *RegistryArgs) service() *corev1.ServiceArgs {
	meta := a.meta()
	// The Service's await (ready endpoints) held every platform update ~10 s
	// and proves nothing the Deployment's await (pods Available) does not.
	meta.Annotations = pulumi.StringMap{AnnotationSkipAwait: pulumi.String("true")}
	return &corev1.ServiceArgs{
		Metadata: meta,
		Spec: &corev1.ServiceSpecArgs{
			Type:     pulumi.String("NodePort"),
			Selector: a.selector(),
			Ports: corev1.ServicePortArray{&corev1.ServicePortArgs{
				Name:       pulumi.String("registry"),
				Port:       pulumi.Int(RegistryPort),
				TargetPort: pulumi.Int(RegistryPort),
				NodePort:   pulumi.Int(a.NodePort),
			}},
		},
	}
}
