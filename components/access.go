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
	sa, err := corev1.NewServiceAccount(ctx, name, args.serviceAccount(), parent)
	if err != nil {
		return nil, fmt.Errorf("access %q: creating service account: %w", name, err)
	}
	comp.ServiceAccountName = sa.Metadata.Name().Elem()
	comp.Namespace = sa.Metadata.Namespace().Elem()
	subject := &rbacv1.SubjectArgs{
		Kind:      pulumi.String("ServiceAccount"),
		Name:      comp.ServiceAccountName,
		Namespace: comp.Namespace,
	}
	for _, g := range args.Grants {
		if err := args.newGrant(ctx, name+"-"+g.Namespace.Key, g, subject, parent); err != nil {
			return nil, fmt.Errorf("access %q: %w", name, err)
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

// meta names the service account and each of its Roles and RoleBindings alike.
func (a *AccessArgs) meta(namespace pulumi.StringInput) *metav1.ObjectMetaArgs {
	return &metav1.ObjectMetaArgs{
		Name:      pulumi.String(a.ServiceAccount),
		Namespace: namespace,
		Labels:    commonLabels(a.ServiceAccount, "identity", nil),
	}
}

func (a *AccessArgs) serviceAccount() *corev1.ServiceAccountArgs {
	var pullSecrets corev1.LocalObjectReferenceArray
	for _, s := range a.ImagePullSecrets {
		pullSecrets = append(pullSecrets, &corev1.LocalObjectReferenceArgs{Name: pulumi.String(s)})
	}
	return &corev1.ServiceAccountArgs{
		Metadata:                     a.meta(a.Namespace.Name),
		AutomountServiceAccountToken: pulumi.Bool(a.AutomountToken),
		ImagePullSecrets:             pullSecrets,
	}
}

// newGrant creates one grant's Role and the RoleBinding of subject to it.
func (a *AccessArgs) newGrant(ctx *pulumi.Context, name string, g Grant, subject *rbacv1.SubjectArgs, parent pulumi.ResourceOption) error {
	role, err := rbacv1.NewRole(ctx, name, &rbacv1.RoleArgs{
		Metadata: a.meta(g.Namespace.Name),
		Rules:    policyRules(g.Rules),
	}, parent)
	if err != nil {
		return fmt.Errorf("creating role in %s: %w", g.Namespace.Key, err)
	}
	_, err = rbacv1.NewRoleBinding(ctx, name, &rbacv1.RoleBindingArgs{
		Metadata: a.meta(g.Namespace.Name),
		RoleRef: &rbacv1.RoleRefArgs{
			ApiGroup: pulumi.String("rbac.authorization.k8s.io"),
			Kind:     pulumi.String("Role"),
			Name:     role.Metadata.Name().Elem(),
		},
		Subjects: rbacv1.SubjectArray{subject},
	}, parent)
	if err != nil {
		return fmt.Errorf("creating role binding in %s: %w", g.Namespace.Key, err)
	}
	return nil
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
