package components

import (
	"fmt"
	"reflect"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/utilities"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// helmReleaseToken is the kubernetes provider's real Helm release (hooks,
// `helm ls`, rollback), the kind the provider recommends for production.
//
// We register it directly instead of importing the SDK's helm/v3 package:
// that package also holds the v3 Chart, which imports kubernetes/yaml and so
// every API group of the SDK (69 packages), and compiling those dominated the
// program's cold build. The provider sees exactly the same resource.
const helmReleaseToken = "kubernetes:helm.sh/v3:Release"

// helmReleaseInputs mirrors the provider's input schema for the fields we use.
type helmReleaseInputs struct {
	Name          string         `pulumi:"name"`
	Namespace     string         `pulumi:"namespace"`
	Chart         string         `pulumi:"chart"`
	Version       *string        `pulumi:"version"`
	Values        map[string]any `pulumi:"values"`
	Atomic        *bool          `pulumi:"atomic"`
	CleanupOnFail *bool          `pulumi:"cleanupOnFail"`
	Timeout       *int           `pulumi:"timeout"`
	MaxHistory    *int           `pulumi:"maxHistory"`
	WaitForJobs   *bool          `pulumi:"waitForJobs"`
	SkipAwait     *bool          `pulumi:"skipAwait"`
	Compat        *string        `pulumi:"compat"`
	// RepositoryOpts.repo is a classic Helm repository URL.
	RepositoryOpts map[string]string `pulumi:"repositoryOpts"`
}

// HelmReleaseArgs are the inputs of a Helm release.
type HelmReleaseArgs struct {
	Name          pulumi.StringInput
	Namespace     pulumi.StringInput
	Chart         pulumi.StringInput
	Version       pulumi.StringPtrInput
	Values        pulumi.MapInput
	Atomic        pulumi.BoolPtrInput
	CleanupOnFail pulumi.BoolPtrInput
	// Timeout is in seconds (the provider's default is 300).
	Timeout     pulumi.IntPtrInput
	MaxHistory  pulumi.IntPtrInput
	WaitForJobs pulumi.BoolPtrInput
	// SkipAwait skips Helm's wait on install and upgrade and, unless
	// Atomic, on uninstall.
	SkipAwait pulumi.BoolPtrInput
	Compat    pulumi.StringPtrInput
	// RepositoryOpts takes "repo", the URL of a classic Helm repository.
	RepositoryOpts pulumi.StringMapInput
}

// ElementType ties the args to the input schema for marshalling.
func (HelmReleaseArgs) ElementType() reflect.Type {
	return reflect.TypeOf((*helmReleaseInputs)(nil)).Elem()
}

// HelmRelease is a registered Helm release.
type HelmRelease struct {
	pulumi.CustomResourceState

	Name      pulumi.StringPtrOutput `pulumi:"name"`
	Namespace pulumi.StringPtrOutput `pulumi:"namespace"`
	Status    pulumi.MapOutput       `pulumi:"status"`
}

// newHelmRelease registers a kubernetes:helm.sh/v3:Release.
func newHelmRelease(ctx *pulumi.Context, name string, args *HelmReleaseArgs, opts ...pulumi.ResourceOption) (*HelmRelease, error) {
	if args == nil || args.Chart == nil {
		return nil, fmt.Errorf("helm release %q: a chart is required", name)
	}
	a := *args
	// The generated SDK sets compat so the provider keeps its historical
	// diffing behaviour; do the same.
	a.Compat = pulumi.StringPtr("true")
	var rel HelmRelease
	if err := ctx.RegisterResource(helmReleaseToken, name, a, &rel, utilities.PkgResourceDefaultOpts(opts)...); err != nil {
		return nil, fmt.Errorf("helm release %q: %w", name, err)
	}
	return &rel, nil
}
