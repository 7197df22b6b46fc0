package components

import (
	"fmt"
	helmv3 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v3"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// generatedSecretArgs is a Secret of generated passwords a chart reads
// through its existingSecret setting.
type generatedSecretArgs struct {
	Namespace NamespaceRef
	// Name is the Kubernetes name of the Secret.
	Name string
	// App and Component label it like the release it belongs to.
	App, Component string
	// Passwords each get their own generated password, under Key in the
	// Secret; Resource names the password in the stack, and never changes
	// (a new name would be a new password).
	Passwords []generatedPassword
}

// GeneratedPassword is one key of a generated Secret.
type generatedPassword struct{ Key, Resource string }

// newGeneratedSecret generates one password per key, kept as Pulumi
// secrets, and stores them in a Secret, so no password ever shows up in a
// Helm release's stored values or in the plan.
func newGeneratedSecret(ctx *pulumi.Context, name string, args generatedSecretArgs, parent pulumi.ResourceOption) (map[string]pulumi.StringOutput, *corev1.Secret, error) {
	passwords := map[string]pulumi.StringOutput{}
	data := pulumi.StringMap{}
	for _, gp := range args.Passwords {
		key := gp.Key
		pw, err := random.NewRandomPassword(ctx, gp.Resource, &random.RandomPasswordArgs{
			Length: pulumi.Int(32),
			// Alphanumeric keeps the password safe inside a URL and a shell.
			Special: pulumi.Bool(false),
		}, parent)
		if err != nil {
			return nil, nil, fmt.Errorf("creating password %s: %w", key, err)
		}
		passwords[key] = pulumi.ToSecret(pw.Result).(pulumi.StringOutput)
		data[key] = passwords[key]
	}
	sec, err := corev1.NewSecret(ctx, name, &corev1.SecretArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:      pulumi.String(args.Name),
			Namespace: args.Namespace.Name,
			Labels:    commonLabels(args.App, args.Component, nil),
		},
		Type:       pulumi.String("Opaque"),
		StringData: data,
	}, parent, pulumi.AdditionalSecretOutputs([]string{"data", "stringData"}))
	if err != nil {
		return nil, nil, fmt.Errorf("creating secret %s: %w", args.Name, err)
	}
	return passwords, sec, nil
}

// bitnamiRelease is the release of a standalone bitnami chart: atomic, so a
// failed upgrade rolls back, with a short history.
func bitnamiRelease(ns NamespaceRef, release string, chart ChartRef, values pulumi.Map, timeoutSeconds int) *helmv3.ReleaseArgs {
	args := &helmv3.ReleaseArgs{
		Name:          pulumi.String(release),
		Namespace:     ns.Name,
		Values:        values,
		Atomic:        pulumi.Bool(true),
		CleanupOnFail: pulumi.Bool(true),
		Timeout:       pulumi.Int(timeoutSeconds),
		MaxHistory:    pulumi.Int(5),
	}
	chart.applyTo(args)
	return args
}

// setChartImage puts a bitnami chart's image override, if any, into values.
func setChartImage(values pulumi.Map, registry, repository, tag string) {
	if image := chartImageValues(registry, repository, tag); len(image) > 0 {
		values["image"] = image
		// Bitnami charts refuse images from other repositories unless told.
		values["global"] = pulumi.Map{"security": pulumi.Map{"allowInsecureImages": pulumi.Bool(true)}}
	}
}

// chartImageValues is a bitnami chart's image override; empty parts keep
// the chart's values.
func chartImageValues(registry, repository, tag string) pulumi.Map {
	image := pulumi.Map{}
	for k, v := range map[string]string{"registry": registry, "repository": repository, "tag": tag} {
		if v != "" {
			image[k] = pulumi.String(v)
		}
	}
	return image
}

// persistenceValues is a bitnami chart's volume setting.
func persistenceValues(enabled bool, size, storageClass string) pulumi.Map {
	persistence := pulumi.Map{"enabled": pulumi.Bool(enabled)}
	if enabled {
		persistence["size"] = pulumi.String(size)
		if storageClass != "" {
			persistence["storageClass"] = pulumi.String(storageClass)
		}
	}
	return persistence
}
