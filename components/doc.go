// Package components holds AppHub's Pulumi component resources. Each component
// takes typed args, creates its children parented to itself (so they inherit
// its Kubernetes provider), and knows nothing about stacks or config files.
package components

import (
	"errors"
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Labels every object we create carries, so `kubectl get -l` finds them and
// the cleanup checks can prove nothing is left behind.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelPartOf    = "app.kubernetes.io/part-of"
	LabelName      = "app.kubernetes.io/name"
	LabelComponent = "app.kubernetes.io/component"

	ManagedBy = "pulumi"
	PartOf    = "apphub"
)

// errNilArgs is returned by every constructor given nil args.
var errNilArgs = errors.New("args are required")

// NamespaceRef points at a namespace for objects created inside it. Key keeps
// Pulumi logical names readable and stable; Name is an input so that a
// namespace created in the same program is a dependency of what goes in it.
type NamespaceRef struct {
	Key  string
	Name pulumi.StringInput
}

// ExistingNamespace refers to a namespace this program does not create.
func ExistingNamespace(name string) NamespaceRef {
	return NamespaceRef{Key: name, Name: pulumi.String(name)}
}

func (r NamespaceRef) valid() error {
	if r.Key == "" || r.Name == nil {
		return errors.New("namespace reference needs a key and a name")
	}
	return nil
}

// commonLabels returns the labels shared by every object of one component.
func commonLabels(name, component string, extra map[string]string) pulumi.StringMap {
	out := pulumi.StringMap{
		LabelManagedBy: pulumi.String(ManagedBy),
		LabelPartOf:    pulumi.String(PartOf),
		LabelName:      pulumi.String(name),
		LabelComponent: pulumi.String(component),
	}
	for k, v := range extra {
		out[k] = pulumi.String(v)
	}
	return out
}

// finish registers a component's outputs, wrapping the error with its name.
func finish(ctx *pulumi.Context, res pulumi.ComponentResource, kind, name string, outputs pulumi.Map) error {
	if err := ctx.RegisterResourceOutputs(res, outputs); err != nil {
		return fmt.Errorf("%s %q: registering outputs: %w", kind, name, err)
	}
	return nil
}

// Labels are the common labels for an object a stack creates outside a
// component (the platform's outputs ConfigMap).
func Labels(name, component string) pulumi.StringMap { return commonLabels(name, component, nil) }
