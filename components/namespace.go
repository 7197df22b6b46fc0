package components

import (
	"fmt"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// NamespaceType is the Pulumi type token of the Namespace component.
const NamespaceType = "apphub:components:Namespace"

// Pod Security Standards levels.
const (
	PodSecurityPrivileged = "privileged"
	PodSecurityBaseline   = "baseline"
	PodSecurityRestricted = "restricted"
)

// NamespaceArgs configures one namespace and its guard rails.
type NamespaceArgs struct {
	// Name is the Kubernetes name; it is used as is (no auto-naming) because
	// the catalog and other stacks refer to it.
	Name string
	// Enforce is the Pod Security level enforced at admission.
	Enforce string
	// Warn is the level reported to clients and audited; it defaults to
	// Enforce and may be stricter, so a privileged namespace still shows
	// what would break under a stricter policy.
	Warn string
	// Labels are added to the namespace.
	Labels map[string]string
	// Annotations are added to the namespace: what the cluster reads there,
	// such as PodNodeSelector's scheduler.alpha.kubernetes.io/node-selector
	// that sends every pod of the namespace to a node pool.
	Annotations map[string]string
	// Quota caps what the namespace may request; nil creates none.
	Quota *QuotaArgs
	// Limits sets per-container defaults and maxima; nil creates none. With a
	// cpu/memory quota, pods without requests are rejected unless Limits
	// supplies defaults.
	Limits *LimitsArgs
}

// QuotaArgs are ResourceQuota hard limits (Kubernetes quantities).
type QuotaArgs struct {
	RequestsCPU    string
	RequestsMemory string
	LimitsCPU      string
	LimitsMemory   string
	Pods           int
	// PersistentVolumeClaims is the maximum number of claims: nil sets no
	// bound, a pointer to 0 allows none (a quota of 0 is a hard zero in
	// Kubernetes, not "unlimited").
	PersistentVolumeClaims *int
}

// LimitsArgs are LimitRange values for containers (Kubernetes quantities).
type LimitsArgs struct {
	DefaultRequestCPU    string
	DefaultRequestMemory string
	DefaultCPU           string
	DefaultMemory        string
	MaxCPU               string
	MaxMemory            string
}

// Namespace is a namespace with Pod Security labels, quota and limits.
type Namespace struct {
	pulumi.ResourceState

	// Name is the namespace name, resolved once the namespace exists.
	Name pulumi.StringOutput

	key string
}

// NewNamespace creates the namespace, then its ResourceQuota and LimitRange.
func NewNamespace(ctx *pulumi.Context, name string, args *NamespaceArgs, opts ...pulumi.ResourceOption) (*Namespace, error) {
	if args == nil {
		return nil, fmt.Errorf("namespace %q: %w", name, errNilArgs)
	}
	a := *args
	if a.Name == "" {
		return nil, fmt.Errorf("namespace %q: name is required", name)
	}
	if a.Warn == "" {
		a.Warn = a.Enforce
	}
	for _, level := range []string{a.Enforce, a.Warn} {
		switch level {
		case PodSecurityPrivileged, PodSecurityBaseline, PodSecurityRestricted:
		default:
			return nil, fmt.Errorf("namespace %q: unknown pod security level %q", name, level)
		}
	}

	comp := &Namespace{key: name}
	if err := ctx.RegisterComponentResource(NamespaceType, name, comp, opts...); err != nil {
		return nil, fmt.Errorf("namespace %q: registering component: %w", name, err)
	}
	parent := pulumi.Parent(comp)

	labels := commonLabels(a.Name, "namespace", a.Labels)
	labels["pod-security.kubernetes.io/enforce"] = pulumi.String(a.Enforce)
	labels["pod-security.kubernetes.io/enforce-version"] = pulumi.String("latest")
	labels["pod-security.kubernetes.io/warn"] = pulumi.String(a.Warn)
	labels["pod-security.kubernetes.io/warn-version"] = pulumi.String("latest")
	labels["pod-security.kubernetes.io/audit"] = pulumi.String(a.Warn)
	labels["pod-security.kubernetes.io/audit-version"] = pulumi.String("latest")

	ns, err := corev1.NewNamespace(ctx, name, &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(a.Name), Labels: labels, Annotations: annotations(a.Annotations)},
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("namespace %q: creating namespace: %w", name, err)
	}
	comp.Name = ns.Metadata.Name().Elem()

	if a.Quota != nil {
		if _, err := newQuota(ctx, name, comp.Name, a.Name, a.Quota, parent); err != nil {
			return nil, fmt.Errorf("namespace %q: %w", name, err)
		}
	}
	if a.Limits != nil {
		if _, err := newLimitRange(ctx, name, comp.Name, a.Name, a.Limits, parent); err != nil {
			return nil, fmt.Errorf("namespace %q: %w", name, err)
		}
	}

	if err := finish(ctx, comp, "namespace", name, pulumi.Map{"name": comp.Name}); err != nil {
		return nil, err
	}
	return comp, nil
}

// annotations is nil for none, so a namespace without any has no empty map.
func annotations(m map[string]string) pulumi.StringMapInput {
	if len(m) == 0 {
		return nil
	}
	return pulumi.ToStringMap(m)
}

// Ref lets other components create objects inside this namespace.
func (n *Namespace) Ref() NamespaceRef {
	return NamespaceRef{Key: n.key, Name: n.Name}
}

func newQuota(ctx *pulumi.Context, name string, ns pulumi.StringInput, nsName string, q *QuotaArgs, opt pulumi.ResourceOption) (*corev1.ResourceQuota, error) {
	hard := pulumi.StringMap{
		"requests.cpu":    pulumi.String(q.RequestsCPU),
		"requests.memory": pulumi.String(q.RequestsMemory),
		"limits.cpu":      pulumi.String(q.LimitsCPU),
		"limits.memory":   pulumi.String(q.LimitsMemory),
		"pods":            pulumi.Sprintf("%d", q.Pods),
	}
	if q.PersistentVolumeClaims != nil {
		hard["persistentvolumeclaims"] = pulumi.Sprintf("%d", *q.PersistentVolumeClaims)
	}
	rq, err := corev1.NewResourceQuota(ctx, name+"-quota", &corev1.ResourceQuotaArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:      pulumi.String("apphub-quota"),
			Namespace: ns,
			Labels:    commonLabels(nsName, "quota", nil),
		},
		Spec: &corev1.ResourceQuotaSpecArgs{Hard: hard},
	}, opt)
	if err != nil {
		return nil, fmt.Errorf("creating resource quota: %w", err)
	}
	return rq, nil
}

func newLimitRange(ctx *pulumi.Context, name string, ns pulumi.StringInput, nsName string, l *LimitsArgs, opt pulumi.ResourceOption) (*corev1.LimitRange, error) {
	lr, err := corev1.NewLimitRange(ctx, name+"-limits", &corev1.LimitRangeArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:      pulumi.String("apphub-limits"),
			Namespace: ns,
			Labels:    commonLabels(nsName, "limits", nil),
		},
		Spec: &corev1.LimitRangeSpecArgs{
			Limits: corev1.LimitRangeItemArray{
				&corev1.LimitRangeItemArgs{
					Type: pulumi.String("Container"),
					DefaultRequest: pulumi.StringMap{
						"cpu":    pulumi.String(l.DefaultRequestCPU),
						"memory": pulumi.String(l.DefaultRequestMemory),
					},
					Default: pulumi.StringMap{
						"cpu":    pulumi.String(l.DefaultCPU),
						"memory": pulumi.String(l.DefaultMemory),
					},
					Max: pulumi.StringMap{
						"cpu":    pulumi.String(l.MaxCPU),
						"memory": pulumi.String(l.MaxMemory),
					},
				},
			},
		},
	}, opt)
	if err != nil {
		return nil, fmt.Errorf("creating limit range: %w", err)
	}
	return lr, nil
}
