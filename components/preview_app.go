package components

import (
	"fmt"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// PreviewAppType is the Pulumi type token of the PreviewApp component.
const PreviewAppType = "apphub:components:PreviewApp"

// Preview labels and annotations.
const (
	LabelInstance       = "app.kubernetes.io/instance"
	LabelLaunch         = "apphub.io/launch"
	AnnotationExpiresAt = "apphub.io/expires-at"
	AnnotationSkipAwait = "pulumi.com/skipAwait"
	// AnnotationDeletionPropagation is how the provider deletes an object
	// with dependents (pulumi-kubernetes v4.12+).
	AnnotationDeletionPropagation = "pulumi.com/deletionPropagationPolicy"
	// AnnotationFieldManager names the server-side apply field manager the
	// provider applies an object as. Without it each create draws a random
	// one, so a retried create of an object an interrupted attempt already
	// applied conflicts with that attempt on every field it changes.
	AnnotationFieldManager = "pulumi.com/patchFieldManager"
	PreviewNamePrefix      = "preview-"
	previewServicePort     = 80
	defaultPreviewUserID   = 10001
	// previewDrainSeconds is the preStop pause of a preview's container.
	previewDrainSeconds = 5
)

// EgressRule allows preview pods to reach one CIDR on one TCP port.
type EgressRule struct {
	CIDR string
	Port int
}

// PreviewAppArgs is one launch's preview. Values are validated by the
// preview stack; the component only assembles objects.
type PreviewAppArgs struct {
	Launch    string
	Namespace string
	Image     string
	Port      int
	Replicas  int
	Env       map[string]string
	Resources ContainerResources
	// HealthPath is the readiness probe's HTTP path; empty probes the TCP port.
	HealthPath     string
	ServiceAccount string
	// MountToken mounts the service account token; previews do not need
	// the API, so it is off unless asked for.
	MountToken      bool
	RunAsUser       int
	ImagePullSecret string
	IngressClass    string
	// URL, Host and Path come from the rendered preview URL template.
	URL, Host, Path string
	TLSSecret       string
	// IngressNamespace is the only namespace allowed to reach the pods.
	IngressNamespace string
	// DNSEgress is where DNS queries may go: "kube-dns" (the cluster DNS
	// pods, by label) and CIDRs (NodeLocal DNSCache). Empty: kube-dns.
	DNSEgress []string
	Egress    []EgressRule
	// ExpiresAt (RFC 3339) becomes the apphub.io/expires-at annotation.
	ExpiresAt string
	// ReadyTimeout is the Deployment's progressDeadlineSeconds; 0 leaves
	// Kubernetes' default (600).
	ReadyTimeout int
}

// PreviewApp is a Deployment, Service, Ingress and NetworkPolicy for one launch.
type PreviewApp struct {
	pulumi.ResourceState

	URL         pulumi.StringOutput
	Host        pulumi.StringOutput
	ServiceName pulumi.StringOutput
	Namespace   pulumi.StringOutput
}

// PreviewName is the Kubernetes name of every object of a launch.
func PreviewName(launch string) string { return PreviewNamePrefix + launch }

// NewPreviewApp creates the objects. The Ingress names its backend by the
// known Service name instead of the Service's output, so it is created in
// parallel with the Service rather than behind the Service's endpoint await;
// its own await still waits for the backend's endpoints.
func NewPreviewApp(ctx *pulumi.Context, name string, args *PreviewAppArgs, opts ...pulumi.ResourceOption) (*PreviewApp, error) {
	if args == nil {
		return nil, fmt.Errorf("preview %q: %w", name, errNilArgs)
	}
	a := *args
	if err := a.validate(); err != nil {
		return nil, fmt.Errorf("preview %q: %w", name, err)
	}
	if a.RunAsUser == 0 {
		a.RunAsUser = defaultPreviewUserID
	}
	comp := &PreviewApp{}
	if err := ctx.RegisterComponentResource(PreviewAppType, name, comp, opts...); err != nil {
		return nil, fmt.Errorf("preview %q: registering component: %w", name, err)
	}
	dep, svc, err := a.newObjects(ctx, name, pulumi.Parent(comp))
	if err != nil {
		return nil, fmt.Errorf("preview %q: %w", name, err)
	}
	comp.URL = pulumi.String(a.URL).ToStringOutput()
	comp.Host = pulumi.String(a.Host).ToStringOutput()
	comp.ServiceName = svc.Metadata.Name().Elem()
	comp.Namespace = dep.Metadata.Namespace().Elem()
	if err := finish(ctx, comp, "preview", name, pulumi.Map{
		"url": comp.URL, "host": comp.Host, "serviceName": comp.ServiceName, "namespace": comp.Namespace,
	}); err != nil {
		return nil, err
	}
	return comp, nil
}

func (a *PreviewAppArgs) validate() error {
	if a.Launch == "" || a.Namespace == "" || a.Image == "" || a.Host == "" || a.Path == "" || a.ServiceAccount == "" || a.IngressNamespace == "" {
		return fmt.Errorf("launch, namespace, image, host, path, service account and ingress namespace are required")
	}
	if a.Port < 1 || a.Port > 65535 || a.Replicas < 0 {
		return fmt.Errorf("invalid port %d or replicas %d", a.Port, a.Replicas)
	}
	return nil
}

// newObjects creates the Deployment, Service, Ingress and NetworkPolicy.
func (a *PreviewAppArgs) newObjects(ctx *pulumi.Context, name string, parent pulumi.ResourceOption) (*appsv1.Deployment, *corev1.Service, error) {
	// Foreground deletion: a destroy returns once the pods are gone too,
	// not while they still serve out their preStop pause.
	annotations := a.annotations()
	annotations[AnnotationDeletionPropagation] = pulumi.String("foreground")
	depMeta := a.meta()
	depMeta.Annotations = annotations
	dep, err := appsv1.NewDeployment(ctx, name, &appsv1.DeploymentArgs{
		Metadata: depMeta,
		Spec: &appsv1.DeploymentSpecArgs{
			Replicas:                pulumi.Int(a.Replicas),
			ProgressDeadlineSeconds: positive(a.ReadyTimeout),
			Selector:                &metav1.LabelSelectorArgs{MatchLabels: a.selector()},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: a.labels()},
				Spec:     previewPodSpec(a),
			},
		},
	}, parent)
	if err != nil {
		return nil, nil, fmt.Errorf("creating deployment: %w", err)
	}
	svc, err := corev1.NewService(ctx, name, a.service(), parent)
	if err != nil {
		return nil, nil, fmt.Errorf("creating service: %w", err)
	}
	if _, err := networkingv1.NewIngress(ctx, name, &networkingv1.IngressArgs{Metadata: a.meta(), Spec: a.ingress()}, parent); err != nil {
		return nil, nil, fmt.Errorf("creating ingress: %w", err)
	}
	if _, err := networkingv1.NewNetworkPolicy(ctx, name, &networkingv1.NetworkPolicyArgs{
		Metadata: a.meta(),
		Spec:     previewNetworkPolicy(a, a.selector()),
	}, parent); err != nil {
		return nil, nil, fmt.Errorf("creating network policy: %w", err)
	}
	return dep, svc, nil
}

// positive is n as an input, or nil (the API's default) when not positive.
func positive(n int) pulumi.IntPtrInput {
	if n <= 0 {
		return nil
	}
	return pulumi.IntPtr(n)
}

func (a *PreviewAppArgs) objName() string { return PreviewName(a.Launch) }

// selector matches this launch's pods only.
func (a *PreviewAppArgs) selector() pulumi.StringMap {
	return pulumi.StringMap{LabelInstance: pulumi.String(a.objName())}
}

func (a *PreviewAppArgs) labels() pulumi.StringMap {
	return commonLabels("preview", "preview", map[string]string{LabelInstance: a.objName(), LabelLaunch: a.Launch})
}

// FieldManager is the one field manager every attempt of a preview or
// build stack applies its objects as (kind "preview" or "build").
func FieldManager(kind, id string) string { return "apphub-" + kind + "-" + id }

func (a *PreviewAppArgs) annotations() pulumi.StringMap {
	annotations := pulumi.StringMap{AnnotationFieldManager: pulumi.String(FieldManager("preview", a.Launch))}
	if a.ExpiresAt != "" {
		annotations[AnnotationExpiresAt] = pulumi.String(a.ExpiresAt)
	}
	return annotations
}

func (a *PreviewAppArgs) meta() *metav1.ObjectMetaArgs {
	return &metav1.ObjectMetaArgs{
		Name: pulumi.String(a.objName()), Namespace: pulumi.String(a.Namespace),
		Labels: a.labels(), Annotations: a.annotations(),
	}
}

func (a *PreviewAppArgs) service() *corev1.ServiceArgs {
	// The Service's own await (ready endpoints) adds ~10 s of settling on
	// every create and proves nothing the Deployment's await (pods
	// Available) and the Ingress's await (ready endpoints behind its
	// backend, plus an address) do not already prove.
	annotations := a.annotations()
	annotations[AnnotationSkipAwait] = pulumi.String("true")
	meta := a.meta()
	meta.Annotations = annotations
	return &corev1.ServiceArgs{Metadata: meta, Spec: httpServiceSpec(a.selector(), previewServicePort)}
}

func (a *PreviewAppArgs) ingress() *networkingv1.IngressSpecArgs {
	spec := &networkingv1.IngressSpecArgs{
		IngressClassName: pulumi.String(a.IngressClass),
		Rules: networkingv1.IngressRuleArray{&networkingv1.IngressRuleArgs{
			Host: pulumi.String(a.Host),
			Http: &networkingv1.HTTPIngressRuleValueArgs{Paths: networkingv1.HTTPIngressPathArray{
				&networkingv1.HTTPIngressPathArgs{
					Path:     pulumi.String(a.Path),
					PathType: pulumi.String("Prefix"),
					Backend: &networkingv1.IngressBackendArgs{Service: &networkingv1.IngressServiceBackendArgs{
						Name: pulumi.String(a.objName()),
						Port: &networkingv1.ServiceBackendPortArgs{Number: pulumi.Int(previewServicePort)},
					}},
				},
			}},
		}},
	}
	if a.TLSSecret != "" {
		spec.Tls = networkingv1.IngressTLSArray{&networkingv1.IngressTLSArgs{
			Hosts: pulumi.ToStringArray([]string{a.Host}), SecretName: pulumi.String(a.TLSSecret),
		}}
	}
	return spec
}

// previewPodSpec passes Pod Security "restricted": non-root with a fixed
// UID (so images built to run as root still start), no privilege
// escalation, all capabilities dropped, RuntimeDefault seccomp.
func previewPodSpec(a *PreviewAppArgs) *corev1.PodSpecArgs {
	probe := &corev1.ProbeArgs{PeriodSeconds: pulumi.Int(5), FailureThreshold: pulumi.Int(6)}
	if a.HealthPath != "" {
		probe.HttpGet = &corev1.HTTPGetActionArgs{Path: pulumi.String(a.HealthPath), Port: pulumi.String("http")}
	} else {
		probe.TcpSocket = &corev1.TCPSocketActionArgs{Port: pulumi.String("http")}
	}
	spec := &corev1.PodSpecArgs{
		ServiceAccountName:           pulumi.String(a.ServiceAccount),
		AutomountServiceAccountToken: pulumi.Bool(a.MountToken),
		EnableServiceLinks:           pulumi.Bool(false),
		SecurityContext:              restrictedPod(a.RunAsUser),
		Containers: corev1.ContainerArray{&corev1.ContainerArgs{
			Name:  pulumi.String("app"),
			Image: pulumi.String(a.Image),
			Ports: corev1.ContainerPortArray{&corev1.ContainerPortArgs{
				Name: pulumi.String("http"), ContainerPort: pulumi.Int(a.Port), Protocol: pulumi.String("TCP"),
			}},
			Env:            a.env(),
			ReadinessProbe: probe,
			// A pod being replaced leaves the Service's endpoints at once,
			// but the ingress controller learns of it a moment later; the
			// pause keeps it serving until then, so a rollout drops no
			// request (the sleep action needs no shell in the image).
			Lifecycle: &corev1.LifecycleArgs{PreStop: &corev1.LifecycleHandlerArgs{
				Sleep: &corev1.SleepActionArgs{Seconds: pulumi.Int(previewDrainSeconds)},
			}},
			Resources:       a.Resources.requirements(),
			SecurityContext: restrictedContainer(false),
		}},
	}
	if a.ImagePullSecret != "" {
		spec.ImagePullSecrets = corev1.LocalObjectReferenceArray{&corev1.LocalObjectReferenceArgs{Name: pulumi.String(a.ImagePullSecret)}}
	}
	return spec
}

func (a *PreviewAppArgs) env() corev1.EnvVarArray {
	env := corev1.EnvVarArray{
		&corev1.EnvVarArgs{Name: pulumi.String("PORT"), Value: pulumi.Sprintf("%d", a.Port)},
		&corev1.EnvVarArgs{Name: pulumi.String("APPHUB_LAUNCH_ID"), Value: pulumi.String(a.Launch)},
		&corev1.EnvVarArgs{Name: pulumi.String("APPHUB_PUBLIC_URL"), Value: pulumi.String(a.URL)},
		// Path-style previews are served under a prefix the app must know.
		&corev1.EnvVarArgs{Name: pulumi.String("APPHUB_BASE_PATH"), Value: pulumi.String(a.Path)},
	}
	for _, k := range sortedKeys(a.Env) {
		env = append(env, &corev1.EnvVarArgs{Name: pulumi.String(k), Value: pulumi.String(a.Env[k])})
	}
	return env
}

// previewNetworkPolicy isolates a preview: traffic in only from the ingress
// controller's namespace on the app port; traffic out only to cluster DNS
// and to what the launch explicitly allows.
func previewNetworkPolicy(a *PreviewAppArgs, selector pulumi.StringMap) *networkingv1.NetworkPolicySpecArgs {
	dnsPorts := networkingv1.NetworkPolicyPortArray{
		&networkingv1.NetworkPolicyPortArgs{Protocol: pulumi.String("UDP"), Port: pulumi.Int(53)},
		&networkingv1.NetworkPolicyPortArgs{Protocol: pulumi.String("TCP"), Port: pulumi.Int(53)},
	}
	egress := networkingv1.NetworkPolicyEgressRuleArray{&networkingv1.NetworkPolicyEgressRuleArgs{
		To:    dnsPeers(a.DNSEgress),
		Ports: dnsPorts,
	}}
	for _, e := range a.Egress {
		egress = append(egress, &networkingv1.NetworkPolicyEgressRuleArgs{
			To:    networkingv1.NetworkPolicyPeerArray{&networkingv1.NetworkPolicyPeerArgs{IpBlock: &networkingv1.IPBlockArgs{Cidr: pulumi.String(e.CIDR)}}},
			Ports: networkingv1.NetworkPolicyPortArray{&networkingv1.NetworkPolicyPortArgs{Protocol: pulumi.String("TCP"), Port: pulumi.Int(e.Port)}},
		})
	}
	return &networkingv1.NetworkPolicySpecArgs{
		PodSelector: &metav1.LabelSelectorArgs{MatchLabels: selector},
		PolicyTypes: pulumi.ToStringArray([]string{"Ingress", "Egress"}),
		Ingress:     networkingv1.NetworkPolicyIngressRuleArray{ingressFromNamespace(a.IngressNamespace, a.Port)},
		Egress:      egress,
	}
}

// dnsPeers are the DNS destinations: "kube-dns" is the cluster DNS pods in
// any namespace; anything else is a CIDR (validated by the platform).
func dnsPeers(entries []string) networkingv1.NetworkPolicyPeerArray {
	if len(entries) == 0 {
		entries = []string{"kube-dns"}
	}
	var peers networkingv1.NetworkPolicyPeerArray
	for _, e := range entries {
		if e == "kube-dns" {
			peers = append(peers, &networkingv1.NetworkPolicyPeerArgs{
				NamespaceSelector: &metav1.LabelSelectorArgs{},
				PodSelector:       &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"k8s-app": pulumi.String("kube-dns")}},
			})
			continue
		}
		peers = append(peers, &networkingv1.NetworkPolicyPeerArgs{IpBlock: &networkingv1.IPBlockArgs{Cidr: pulumi.String(e)}})
	}
	return peers
}
