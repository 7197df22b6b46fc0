package components

import (
	"fmt"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	policyv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/policy/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/util/validation"
)

// APIServiceType is the Pulumi type token of the APIService component.
const APIServiceType = "apphub:components:APIService"

// APIServicePort is the container's and the Service's port.
const APIServicePort = 8080

// APIServiceArgs configures `apphubctl serve` in the cluster.
type APIServiceArgs struct {
	Namespace NamespaceRef
	// Name of the Deployment, Service, Secret and the rest.
	Name  string
	Image string
	// Replicas above one need DatabaseURL: they share the queue and state.
	Replicas      int
	MaxConcurrent int
	// ServiceAccount is the deployer identity the pods run as.
	ServiceAccount string
	// CatalogNamespace is the only namespace whose pods may connect.
	CatalogNamespace string
	// Token, Passphrase, DatabaseURL and WebhookSecret are Pulumi secrets;
	// they reach the pods through a Secret only.
	Token, Passphrase pulumi.StringInput
	DatabaseURL       pulumi.StringInput // nil: SQLite and file:// state on a volume
	WebhookURL        string
	WebhookSecret     pulumi.StringInput
	Resources         ContainerResources
	// StateSize and StorageClass size the single replica's volume.
	StateSize, StorageClass string
	// ImagePullSecret, if set, pulls the image.
	ImagePullSecret string
	// NodeSelector and Tolerations place the pods, e.g. on a node pool
	// kept for the platform's own workloads.
	NodeSelector map[string]string
	Tolerations  []Toleration
}

// Toleration is a pod's toleration, as Kubernetes writes it in JSON.
type Toleration struct {
	Key               string `json:"key,omitempty"`
	Operator          string `json:"operator,omitempty"`
	Value             string `json:"value,omitempty"`
	Effect            string `json:"effect,omitempty"`
	TolerationSeconds *int   `json:"tolerationSeconds,omitempty"`
}

func tolerationArgs(ts []Toleration) corev1.TolerationArray {
	out := make(corev1.TolerationArray, 0, len(ts))
	for _, t := range ts {
		args := &corev1.TolerationArgs{}
		for _, f := range []struct {
			v   string
			dst *pulumi.StringPtrInput
		}{{t.Key, &args.Key}, {t.Operator, &args.Operator}, {t.Value, &args.Value}, {t.Effect, &args.Effect}} {
			if f.v != "" {
				*f.dst = pulumi.StringPtr(f.v)
			}
		}
		if t.TolerationSeconds != nil {
			args.TolerationSeconds = pulumi.IntPtr(*t.TolerationSeconds)
		}
		out = append(out, args)
	}
	return out
}

// ContainerResources are a container's requests and limits (Kubernetes
// quantities): previews, builds and the API service.
type ContainerResources struct {
	CPURequest, MemoryRequest, CPULimit, MemoryLimit string
}

// APIService is the catalog's preview and build API, run by the platform.
type APIService struct {
	pulumi.ResourceState

	// URL is the in-cluster address the catalog calls.
	URL pulumi.StringOutput
}

// NewAPIService creates the Secret, the state
// volume (one replica without a database), the Deployment, Service,
// PodDisruptionBudget and NetworkPolicy.
func NewAPIService(ctx *pulumi.Context, name string, args *APIServiceArgs, opts ...pulumi.ResourceOption) (*APIService, error) {
	if args == nil {
		return nil, fmt.Errorf("api service %q: %w", name, errNilArgs)
	}
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("api service %q: %w", name, err)
	}
	comp := &APIService{}
	if err := ctx.RegisterComponentResource(APIServiceType, name, comp, opts...); err != nil {
		return nil, fmt.Errorf("api service %q: registering component: %w", name, err)
	}
	parent := pulumi.Parent(comp)
	deps, err := args.newConfig(ctx, name, parent)
	if err != nil {
		return nil, fmt.Errorf("api service %q: %w", name, err)
	}
	if err := args.newWorkload(ctx, name, parent, pulumi.DependsOn(deps)); err != nil {
		return nil, fmt.Errorf("api service %q: %w", name, err)
	}
	comp.URL = pulumi.Sprintf("http://%s.%s.svc.cluster.local", args.Name, args.Namespace.Name)
	if err := finish(ctx, comp, "api service", name, pulumi.Map{"url": comp.URL}); err != nil {
		return nil, err
	}
	return comp, nil
}

func (a *APIServiceArgs) validate() error {
	if err := a.Namespace.valid(); err != nil {
		return err
	}
	for _, f := range []struct{ field, value string }{
		{"name", a.Name}, {"service account", a.ServiceAccount}, {"catalog namespace", a.CatalogNamespace},
	} {
		if msgs := validation.IsDNS1123Label(f.value); len(msgs) > 0 {
			return fmt.Errorf("%s %q: %s", f.field, f.value, msgs[0])
		}
	}
	switch {
	case a.Image == "":
		return fmt.Errorf("image is required")
	case a.Replicas < 1 || a.MaxConcurrent < 1:
		return fmt.Errorf("replicas and max concurrent must be positive")
	case a.Replicas > 1 && a.DatabaseURL == nil:
		return fmt.Errorf("%d replicas need a database URL: they share the queue and the stack state", a.Replicas)
	case a.Token == nil || a.Passphrase == nil:
		return fmt.Errorf("token and passphrase are required")
	case (a.WebhookURL == "") != (a.WebhookSecret == nil):
		return fmt.Errorf("a webhook URL and its secret go together")
	}
	return nil
}

func (a *APIServiceArgs) labels() pulumi.StringMap { return commonLabels(a.Name, "api", nil) }

// selector matches the service's pods only.
func (a *APIServiceArgs) selector() pulumi.StringMap {
	return pulumi.StringMap{LabelName: pulumi.String(a.Name), LabelComponent: pulumi.String("api")}
}

func (a *APIServiceArgs) meta(name string) *metav1.ObjectMetaArgs {
	return &metav1.ObjectMetaArgs{Name: pulumi.String(name), Namespace: a.Namespace.Name, Labels: a.labels()}
}

// Secret keys the pods read.
const (
	apiSecretToken         = "token"
	apiSecretPassphrase    = "passphrase"
	apiSecretDatabaseURL   = "database-url"
	apiSecretWebhookSecret = "webhook-secret"
)

// newConfig creates the Secret and, for one replica without a database,
// the state volume; the pods wait for both.
func (a *APIServiceArgs) newConfig(ctx *pulumi.Context, name string, parent pulumi.ResourceOption) ([]pulumi.Resource, error) {
	data := pulumi.StringMap{apiSecretToken: a.Token, apiSecretPassphrase: a.Passphrase}
	if a.DatabaseURL != nil {
		data[apiSecretDatabaseURL] = a.DatabaseURL
	}
	if a.WebhookSecret != nil {
		data[apiSecretWebhookSecret] = a.WebhookSecret
	}
	sec, err := corev1.NewSecret(ctx, name, &corev1.SecretArgs{
		Metadata:   a.meta(a.Name),
		Type:       pulumi.String("Opaque"),
		StringData: pulumi.ToSecret(data).(pulumi.StringMapOutput),
	}, parent, pulumi.AdditionalSecretOutputs([]string{"data", "stringData"}))
	if err != nil {
		return nil, fmt.Errorf("creating secret: %w", err)
	}
	deps := []pulumi.Resource{sec}
	if a.DatabaseURL == nil {
		pvc, err := corev1.NewPersistentVolumeClaim(ctx, name+"-state", &corev1.PersistentVolumeClaimArgs{
			Metadata: a.meta(a.Name + "-state"),
			Spec:     readWriteOnceClaim(a.StateSize, a.StorageClass),
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("creating state volume: %w", err)
		}
		deps = append(deps, pvc)
	}
	return deps, nil
}

// newWorkload creates the Deployment, then the Service, the
// PodDisruptionBudget and the NetworkPolicy in front of it.
func (a *APIServiceArgs) newWorkload(ctx *pulumi.Context, name string, opts ...pulumi.ResourceOption) error {
	if _, err := newAPIDeployment(ctx, name, a, opts...); err != nil {
		return fmt.Errorf("creating deployment: %w", err)
	}
	if _, err := corev1.NewService(ctx, name, &corev1.ServiceArgs{
		Metadata: a.meta(a.Name),
		Spec:     httpServiceSpec(a.selector(), 80),
	}, opts...); err != nil {
		return fmt.Errorf("creating service: %w", err)
	}
	// One pod at a time may go: a drain never takes every replica, and a
	// single replica can still be moved.
	if _, err := policyv1.NewPodDisruptionBudget(ctx, name, &policyv1.PodDisruptionBudgetArgs{
		Metadata: a.meta(a.Name),
		Spec: &policyv1.PodDisruptionBudgetSpecArgs{
			MaxUnavailable: pulumi.Int(1),
			Selector:       &metav1.LabelSelectorArgs{MatchLabels: a.selector()},
		},
	}, opts...); err != nil {
		return fmt.Errorf("creating disruption budget: %w", err)
	}
	if _, err := networkingv1.NewNetworkPolicy(ctx, name, &networkingv1.NetworkPolicyArgs{
		Metadata: a.meta(a.Name),
		Spec:     a.networkPolicy(),
	}, opts...); err != nil {
		return fmt.Errorf("creating network policy: %w", err)
	}
	return nil
}

// networkPolicy admits the catalog's namespace on the API port and nothing
// else; egress stays open (the API server, the database, callbacks).
func (a *APIServiceArgs) networkPolicy() *networkingv1.NetworkPolicySpecArgs {
	return &networkingv1.NetworkPolicySpecArgs{
		PodSelector: &metav1.LabelSelectorArgs{MatchLabels: a.selector()},
		PolicyTypes: pulumi.ToStringArray([]string{"Ingress"}),
		Ingress:     networkingv1.NetworkPolicyIngressRuleArray{ingressFromNamespace(a.CatalogNamespace, APIServicePort)},
	}
}
