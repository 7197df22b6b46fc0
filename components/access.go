package components

import (
	"fmt"
	"strings"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	rbacv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/rbac/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// AccessType is the Pulumi type token of the Access component.
const AccessType = "apphub:components:Access"

// Rule is one RBAC policy rule. Wildcards are refused: every identity lists
// exactly the groups, resources and verbs it uses.
type Rule struct {
	APIGroups     []string
	Resources     []string
	Verbs         []string
	ResourceNames []string
}

// Grant gives the identity a namespaced Role in one namespace.
type Grant struct {
	Namespace NamespaceRef
	Rules     []Rule
}

// AccessArgs describes one workload identity.
type AccessArgs struct {
	// ServiceAccount is the Kubernetes name of the service account, and of
	// its Roles and RoleBindings.
	ServiceAccount string
	// Namespace is where the service account lives.
	Namespace NamespaceRef
	// AutomountToken controls whether pods get an API token by default.
	AutomountToken bool
	// ImagePullSecrets are attached to the service account.
	ImagePullSecrets []string
	// Grants are the namespaced permissions; an identity without grants has
	// no API access beyond what every authenticated user has.
	Grants []Grant
}

// Access is a service account with least-privilege Roles and RoleBindings.
type Access struct {
	pulumi.ResourceState

	ServiceAccountName pulumi.StringOutput
	Namespace          pulumi.StringOutput
}

// NewAccess creates the service account, then one Role and RoleBinding per grant.
func NewAccess(ctx *pulumi.Context, name string, args *AccessArgs, opts ...pulumi.ResourceOption) (*Access, error) {
	if args == nil {
		return nil, fmt.Errorf("access %q: %w", name, errNilArgs)
	}
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("access %q: %w", name, err)
	}
	comp := &Access{}
	if err := ctx.RegisterComponentResource(AccessType, name, comp, opts...); err != nil {
		return nil, fmt.Errorf("access %q: registering component: %w", name, err)
	}
	parent := pulumi.Parent(comp)
	labels := commonLabels(args.ServiceAccount, "identity", nil)

	var pullSecrets corev1.LocalObjectReferenceArray
	for _, s := range args.ImagePullSecrets {
		pullSecrets = append(pullSecrets, &corev1.LocalObjectReferenceArgs{Name: pulumi.String(s)})
	}
	sa, err := corev1.NewServiceAccount(ctx, name, &corev1.ServiceAccountArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:      pulumi.String(args.ServiceAccount),
			Namespace: args.Namespace.Name,
			Labels:    labels,
		},
		AutomountServiceAccountToken: pulumi.Bool(args.AutomountToken),
		ImagePullSecrets:             pullSecrets,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("access %q: creating service account: %w", name, err)
	}
	comp.ServiceAccountName = sa.Metadata.Name().Elem()
	comp.Namespace = sa.Metadata.Namespace().Elem()

	for _, g := range args.Grants {
		child := name + "-" + g.Namespace.Key
		role, err := rbacv1.NewRole(ctx, child, &rbacv1.RoleArgs{
			Metadata: &metav1.ObjectMetaArgs{
				Name:      pulumi.String(args.ServiceAccount),
				Namespace: g.Namespace.Name,
				Labels:    labels,
			},
			Rules: policyRules(g.Rules),
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("access %q: creating role in %s: %w", name, g.Namespace.Key, err)
		}
		_, err = rbacv1.NewRoleBinding(ctx, child, &rbacv1.RoleBindingArgs{
			Metadata: &metav1.ObjectMetaArgs{
				Name:      pulumi.String(args.ServiceAccount),
				Namespace: g.Namespace.Name,
				Labels:    labels,
			},
			RoleRef: &rbacv1.RoleRefArgs{
				ApiGroup: pulumi.String("rbac.authorization.k8s.io"),
				Kind:     pulumi.String("Role"),
				Name:     role.Metadata.Name().Elem(),
			},
			Subjects: rbacv1.SubjectArray{&rbacv1.SubjectArgs{
				Kind:      pulumi.String("ServiceAccount"),
				Name:      comp.ServiceAccountName,
				Namespace: comp.Namespace,
			}},
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("access %q: creating role binding in %s: %w", name, g.Namespace.Key, err)
		}
	}

	if err := finish(ctx, comp, "access", name, pulumi.Map{
		"serviceAccountName": comp.ServiceAccountName,
		"namespace":          comp.Namespace,
	}); err != nil {
		return nil, err
	}
	return comp, nil
}

func (a *AccessArgs) validate() error {
	if a.ServiceAccount == "" {
		return fmt.Errorf("service account name is required")
	}
	if err := a.Namespace.valid(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, g := range a.Grants {
		if err := g.Namespace.valid(); err != nil {
			return err
		}
		if seen[g.Namespace.Key] {
			return fmt.Errorf("namespace %s is granted twice", g.Namespace.Key)
		}
		seen[g.Namespace.Key] = true
		if len(g.Rules) == 0 {
			return fmt.Errorf("grant in %s has no rules", g.Namespace.Key)
		}
		for i, r := range g.Rules {
			if err := r.validate(); err != nil {
				return fmt.Errorf("grant in %s, rule %d: %w", g.Namespace.Key, i, err)
			}
		}
	}
	return nil
}

func (r Rule) validate() error {
	if len(r.Resources) == 0 || len(r.Verbs) == 0 {
		return fmt.Errorf("resources and verbs are required")
	}
	for _, list := range [][]string{r.APIGroups, r.Resources, r.Verbs, r.ResourceNames} {
		for _, v := range list {
			if strings.Contains(v, "*") {
				return fmt.Errorf("wildcard %q is not allowed", v)
			}
		}
	}
	for _, res := range r.Resources {
		if res == "pods/exec" || res == "pods/attach" || res == "pods/portforward" {
			return fmt.Errorf("%s is not allowed: it is a shell into any pod", res)
		}
	}
	for _, v := range r.Verbs {
		if v == "escalate" || v == "bind" || v == "impersonate" {
			return fmt.Errorf("verb %q is not allowed", v)
		}
	}
	return nil
}

func policyRules(rules []Rule) rbacv1.PolicyRuleArray {
	out := make(rbacv1.PolicyRuleArray, 0, len(rules))
	for _, r := range rules {
		apiGroups := r.APIGroups
		if len(apiGroups) == 0 {
			apiGroups = []string{""}
		}
		pr := &rbacv1.PolicyRuleArgs{
			ApiGroups: pulumi.ToStringArray(apiGroups),
			Resources: pulumi.ToStringArray(r.Resources),
			Verbs:     pulumi.ToStringArray(r.Verbs),
		}
		if len(r.ResourceNames) > 0 {
			pr.ResourceNames = pulumi.ToStringArray(r.ResourceNames)
		}
		out = append(out, pr)
	}
	return out
}
