package stacks

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/apphub/apphub-infra/internal/previewurl"
	"github.com/apphub/apphub-infra/internal/validate"
)

// PlatformValues are the platform outputs preview and build stacks use, read
// once as plain values so they can be validated before anything is created.
type PlatformValues struct {
	Namespace             string
	BuildNamespace        string
	IngressNamespace      string
	PreviewServiceAccount string
	BuilderServiceAccount string
	IngressClass          string
	URLTemplate           previewurl.Template
	TLSSecret             string
	// DNSEgress is where previews send DNS queries (ParseDNSEgress).
	DNSEgress []string
	// PreviewReadyTimeoutSeconds is the previews' progress deadline; 0
	// (a platform from before the setting) leaves Kubernetes' default.
	PreviewReadyTimeoutSeconds int
	RegistryPushAddress        string
	RegistryPullAddress        string
	// RegistryHostAddress is the registry as the platform's host sees it
	// (local clusters); empty when that is the push address.
	RegistryHostAddress string
	RegistryInsecure    bool
	RegistrySecret      string
	BuilderImage        string
	BuildTimeoutSeconds int
	BuildJobTTLSeconds  int
	// BuildCAConfigMap holds the CA bundle builds trust; empty for none.
	BuildCAConfigMap string
	// BuilderAddress and BuilderClientSecret are the persistent builder;
	// empty, each build Job starts its own daemon.
	BuilderAddress      string
	BuilderClientSecret string
	// BuildCABundle is the PEM of that bundle.
	BuildCABundle string
	KubeContext   string
	// kubeconfig stays a secret; only the provider sees it.
	kubeconfig *pulumi.StringOutput
}

// platformOutputs reads outputs by name; the StackReference in programs,
// a map in tests of the conversion.
type platformOutputs func(name string) (value any, secret bool, err error)

// readPlatformRef reads the platform stack through a StackReference.
func readPlatformRef(ctx *pulumi.Context, stack string) (*PlatformValues, error) {
	ref, err := pulumi.NewStackReference(ctx, stack, nil)
	if err != nil {
		return nil, fmt.Errorf("platform stack %q: %w", stack, err)
	}
	return platformValues(stack, func(name string) (any, bool, error) {
		d, err := ref.GetOutputDetails(name)
		if err != nil {
			return nil, false, err
		}
		if d.SecretValue != nil {
			return d.SecretValue, true, nil
		}
		return d.Value, false, nil
	})
}

// LoadPlatform reads the platform a preview or build stack is built on:
// the outputs passed as config (what the Manager does, from the platform's
// ConfigMap), else the fully qualified StackReference of a stack run by
// hand.
func LoadPlatform(ctx *pulumi.Context, stack, outputsJSON string) (*PlatformValues, error) {
	switch {
	case outputsJSON != "":
		return PlatformFromJSON(outputsJSON)
	case stack != "":
		return readPlatformRef(ctx, stack)
	}
	return nil, fmt.Errorf("invalid config: platformOutputs or platformStack (%s) is required", qualifiedStackHint)
}

// qualifiedStackHint says what a StackReference name looks like.
const qualifiedStackHint = "the platform stack's fully qualified name <organization>/<project>/<stack>, e.g. organization/apphub/dev on a file backend"

// checkPlatformSource refuses both sources at once, a StackReference name
// that is not fully qualified (on Pulumi Cloud a short name resolves
// against the current user's organisation, not necessarily the
// platform's) and platformOutputs that are not a JSON object.
func checkPlatformSource(p *validate.Problems, stack, outputsJSON string) {
	if stack != "" && outputsJSON != "" {
		p.Add("platformStack", "set platformStack or platformOutputs, not both")
		return
	}
	if stack != "" {
		parts := strings.Split(stack, "/")
		if len(parts) != 3 || slices.Contains(parts, "") {
			p.Add("platformStack", "must be %s, got %q", qualifiedStackHint, stack)
		}
	}
	if outputsJSON != "" {
		if _, err := ParsePlatformOutputs(outputsJSON); err != nil {
			p.Add("platformOutputs", "%v", err)
		}
	}
}

// platformOutputsSource names the JSON source in errors.
const platformOutputsSource = "(outputs passed as config)"

// PlatformFromJSON reads platform values from the outputs as one JSON
// object (the platform's ConfigMap).
func PlatformFromJSON(outputsJSON string) (*PlatformValues, error) {
	outs, err := ParsePlatformOutputs(outputsJSON)
	if err != nil {
		return nil, err
	}
	return PlatformFromOutputs(outs)
}

// PlatformFromOutputs reads platform values from the outputs as decoded.
func PlatformFromOutputs(outs map[string]any) (*PlatformValues, error) {
	return platformValues(platformOutputsSource, func(name string) (any, bool, error) {
		// An absent output reads as a StackReference reads it: no value.
		return outs[name], false, nil
	})
}

// ParsePlatformOutputs decodes platform outputs written as a JSON object.
func ParsePlatformOutputs(outputsJSON string) (map[string]any, error) {
	var outs map[string]any
	if err := json.Unmarshal([]byte(outputsJSON), &outs); err != nil {
		return nil, fmt.Errorf("platform outputs must be a JSON object of the platform stack's outputs: %v", err)
	}
	if outs == nil {
		return nil, fmt.Errorf("platform outputs must be a JSON object of the platform stack's outputs, got null")
	}
	return outs, nil
}

func platformValues(stack string, get platformOutputs) (*PlatformValues, error) {
	var missing []string
	str := func(name string, required bool) string {
		v, _, err := get(name)
		s, ok := v.(string)
		if err != nil || !ok || s == "" {
			if required {
				missing = append(missing, name)
			}
			return ""
		}
		return s
	}
	num := func(name string) int {
		v, _, err := get(name)
		switch n := v.(type) {
		case float64:
			return int(n)
		case int:
			return n
		}
		if err == nil {
			missing = append(missing, name)
		}
		return 0
	}
	pv := &PlatformValues{
		Namespace:             str(OutNamespace, true),
		BuildNamespace:        str(OutBuildNamespace, true),
		IngressNamespace:      str(OutIngressNamespace, true),
		PreviewServiceAccount: str(OutPreviewServiceAccount, true),
		BuilderServiceAccount: str(OutBuilderServiceAccount, true),
		IngressClass:          str(OutIngressClass, true),
		TLSSecret:             str(OutPreviewTLSSecret, false),
		RegistryPushAddress:   str(OutRegistryPushAddress, true),
		RegistryPullAddress:   str(OutRegistryPullAddress, true),
		RegistryHostAddress:   str(OutRegistryHostAddress, false),
		RegistrySecret:        str(OutRegistrySecret, false),
		BuilderImage:          str(OutBuilderImage, true),
		BuildTimeoutSeconds:   num(OutBuildTimeoutSeconds),
		BuildJobTTLSeconds:    num(OutBuildJobTTLSeconds),
		BuildCAConfigMap:      str(OutBuildCAConfigMap, false),
		BuilderAddress:        str(OutBuilderAddress, false),
		BuilderClientSecret:   str(OutBuilderClientSecret, false),
		BuildCABundle:         str(OutBuildCABundle, false),
		KubeContext:           str(OutKubeContext, false),
	}
	if v, _, _ := get(OutPreviewReadyTimeout); v != nil {
		pv.PreviewReadyTimeoutSeconds = num(OutPreviewReadyTimeout)
	}
	if v, _, _ := get(OutRegistryInsecure); v == true {
		pv.RegistryInsecure = true
	}
	if s := str(OutKubeconfig, false); s != "" {
		k := pulumi.ToSecret(pulumi.String(s)).(pulumi.StringOutput)
		pv.kubeconfig = &k
	}
	// A platform from before the setting names only the cluster's DNS pods.
	dns := DNSEgressKubeDNS
	if s := str(OutPreviewDNSEgress, false); s != "" {
		dns = s
	}
	var err error
	if pv.DNSEgress, err = ParseDNSEgress(dns); err != nil {
		return nil, fmt.Errorf("platform stack %q: %s: %w", stack, OutPreviewDNSEgress, err)
	}
	urlTpl, hostTpl, scheme := str(OutPreviewURLTemplate, false), str(OutPreviewHostTemplate, false), str(OutPreviewScheme, false)
	if len(missing) > 0 {
		return nil, fmt.Errorf("platform stack %q lacks outputs %s: deploy (or update) the platform first", stack, strings.Join(missing, ", "))
	}
	tpl, err := urlTemplate(urlTpl, hostTpl, scheme)
	if err != nil {
		return nil, fmt.Errorf("platform stack %q: preview URL template: %w", stack, err)
	}
	pv.URLTemplate = tpl
	return pv, nil
}

// urlTemplate is the preview URL template from either style of output.
func urlTemplate(urlTpl, hostTpl, scheme string) (previewurl.Template, error) {
	if urlTpl != "" {
		return previewurl.Parse(urlTpl)
	}
	return previewurl.FromHost(hostTpl, scheme)
}

// Provider is the Kubernetes provider for stacks built on the platform: the
// platform's kubeconfig (or context), server-side apply, and upsert so that
// re-creating a preview after a half-finished destroy adopts what is left
// instead of failing with AlreadyExists (provider v4.29 change).
func (pv *PlatformValues) Provider(ctx *pulumi.Context) (*kubernetes.Provider, error) {
	args := &kubernetes.ProviderArgs{
		EnableServerSideApply: pulumi.Bool(true),
		UpsertExistingObjects: pulumi.Bool(true),
	}
	if pv.KubeContext != "" {
		args.Context = pulumi.String(pv.KubeContext)
	}
	if pv.kubeconfig != nil {
		args.Kubeconfig = *pv.kubeconfig
	}
	p, err := kubernetes.NewProvider(ctx, "k8s", args)
	if err != nil {
		return nil, fmt.Errorf("creating kubernetes provider: %w", err)
	}
	return p, nil
}
