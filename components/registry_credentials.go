package components

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// RegistryCredentialsType is the Pulumi type token of the RegistryCredentials component.
const RegistryCredentialsType = "apphub:components:RegistryCredentials"

// RegistryCredentialsArgs configures the pull/push secret.
type RegistryCredentialsArgs struct {
	// SecretName is the Secret's Kubernetes name in every namespace; it is
	// what APPHUB_K8S_REGISTRY_SECRET names.
	SecretName string
	// Namespaces receive a copy: Secrets are namespaced, and both preview
	// pods (pull) and build Jobs (push) need it.
	Namespaces []NamespaceRef
	// Server is the registry host as clients log in to it, e.g. ghcr.io.
	Server   string
	Username pulumi.StringInput
	// Password must be a Pulumi secret; the component keeps it one.
	Password pulumi.StringInput
}

// RegistryCredentials is a kubernetes.io/dockerconfigjson Secret per namespace.
type RegistryCredentials struct {
	pulumi.ResourceState

	SecretName pulumi.StringOutput
}

// NewRegistryCredentials creates the Secrets. The docker config is built from
// secret inputs and wrapped with ToSecret, so it stays encrypted in state and
// masked in logs even if a caller passes a plain password by mistake.
func NewRegistryCredentials(ctx *pulumi.Context, name string, args *RegistryCredentialsArgs, opts ...pulumi.ResourceOption) (*RegistryCredentials, error) {
	if args == nil {
		return nil, fmt.Errorf("registry credentials %q: %w", name, errNilArgs)
	}
	if args.SecretName == "" || args.Server == "" || args.Username == nil || args.Password == nil {
		return nil, fmt.Errorf("registry credentials %q: secret name, server, username and password are required", name)
	}
	if len(args.Namespaces) == 0 {
		return nil, fmt.Errorf("registry credentials %q: at least one namespace is required", name)
	}
	for _, ns := range args.Namespaces {
		if err := ns.valid(); err != nil {
			return nil, fmt.Errorf("registry credentials %q: %w", name, err)
		}
	}

	comp := &RegistryCredentials{SecretName: pulumi.String(args.SecretName).ToStringOutput()}
	if err := ctx.RegisterComponentResource(RegistryCredentialsType, name, comp, opts...); err != nil {
		return nil, fmt.Errorf("registry credentials %q: registering component: %w", name, err)
	}

	server := args.Server
	dockerConfig := pulumi.ToSecret(pulumi.All(args.Username, args.Password).ApplyT(
		func(v []any) (string, error) {
			return DockerConfigJSON(server, v[0].(string), v[1].(string))
		})).(pulumi.StringOutput)

	for _, ns := range args.Namespaces {
		_, err := corev1.NewSecret(ctx, name+"-"+ns.Key, &corev1.SecretArgs{
			Metadata: &metav1.ObjectMetaArgs{
				Name:      pulumi.String(args.SecretName),
				Namespace: ns.Name,
				Labels:    commonLabels(args.SecretName, "registry-credentials", nil),
			},
			Type:       pulumi.String("kubernetes.io/dockerconfigjson"),
			StringData: pulumi.StringMap{".dockerconfigjson": dockerConfig},
		}, pulumi.Parent(comp), pulumi.AdditionalSecretOutputs([]string{"data", "stringData"}))
		if err != nil {
			return nil, fmt.Errorf("registry credentials %q: creating secret in %s: %w", name, ns.Key, err)
		}
	}

	if err := finish(ctx, comp, "registry credentials", name, pulumi.Map{"secretName": comp.SecretName}); err != nil {
		return nil, err
	}
	return comp, nil
}

// DockerConfigJSON renders the .dockerconfigjson document for one registry.
func DockerConfigJSON(server, username, password string) (string, error) {
	type entry struct {
		Username string `json:"username"`
		Password string `json:"password"`
		Auth     string `json:"auth"`
	}
	doc := map[string]map[string]entry{"auths": {server: {
		Username: username,
		Password: password,
		Auth:     base64.StdEncoding.EncodeToString([]byte(username + ":" + password)),
	}}}
	b, err := json.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("encoding docker config: %w", err)
	}
	return string(b), nil
}
