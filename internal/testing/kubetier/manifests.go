// Package kubetier turns what the stack programs declare into Kubernetes
// objects without the provider plugin: the programs run under recording
// mocks, and every kubernetes:<group>/<version>:<Kind> resource becomes an
// object (type token → apiVersion/kind, inputs → the rest). Helm releases
// and command resources are outside this tier: they are not objects.
package kubetier

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/apphub/apphub-infra/internal/testing/testmocks"
)

// Object is one Kubernetes object as plain JSON-able data.
type Object map[string]any

// Kind, Name and Namespace read the object's identity.
func (o Object) Kind() string { s, _ := o["kind"].(string); return s }
func (o Object) APIVersion() string {
	s, _ := o["apiVersion"].(string)
	return s
}
func (o Object) meta(k string) string {
	m, _ := o["metadata"].(map[string]any)
	s, _ := m[k].(string)
	return s
}
func (o Object) Name() string      { return o.meta("name") }
func (o Object) Namespace() string { return o.meta("namespace") }

// String is kind/namespace/name.
func (o Object) String() string {
	if ns := o.Namespace(); ns != "" {
		return o.Kind() + "/" + ns + "/" + o.Name()
	}
	return o.Kind() + "/" + o.Name()
}

// APIVersion maps a type token's module to an apiVersion:
// "kubernetes:core/v1:Pod" → "v1", "kubernetes:apps/v1:Deployment" → "apps/v1".
func APIVersion(token string) (apiVersion, kind string, ok bool) {
	parts := strings.Split(token, ":")
	if len(parts) != 3 || parts[0] != "kubernetes" || strings.HasPrefix(parts[1], "helm.sh") {
		return "", "", false
	}
	group, version, found := strings.Cut(parts[1], "/")
	if !found {
		return "", "", false
	}
	if group == "core" {
		return version, parts[2], true
	}
	return group + "/" + version, parts[2], true
}

// Objects converts the recorded Kubernetes resources, in apply order:
// namespaces first, then identities and config, then workloads.
func Objects(resources []testmocks.Resource) ([]Object, error) {
	var out []Object
	for _, r := range resources {
		apiVersion, kind, ok := APIVersion(r.Type)
		if !ok || !r.Custom {
			continue
		}
		obj, ok := plain(resource.NewProperty(r.Inputs)).(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s %s: inputs are not an object", r.Type, r.Name)
		}
		obj["apiVersion"], obj["kind"] = apiVersion, kind
		if Object(obj).Name() == "" {
			return nil, fmt.Errorf("%s %s: no metadata.name (every AppHub object is named explicitly)", r.Type, r.Name)
		}
		out = append(out, obj)
	}
	sort.SliceStable(out, func(i, j int) bool { return rank(out[i].Kind()) < rank(out[j].Kind()) })
	return out, nil
}

var order = []string{"Namespace", "ResourceQuota", "LimitRange", "ServiceAccount", "Secret", "ConfigMap", "Role", "RoleBinding",
	"PersistentVolumeClaim", "Service", "Deployment", "Job", "Ingress", "NetworkPolicy"}

func rank(kind string) int {
	for i, k := range order {
		if k == kind {
			return i
		}
	}
	return len(order)
}

// plain unwraps secrets and outputs into plain JSON values.
func plain(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return plain(v.SecretValue().Element)
	case v.IsOutput():
		return plain(v.OutputValue().Element)
	case v.IsObject():
		m := map[string]any{}
		for k, e := range v.ObjectValue() {
			if e.IsNull() {
				continue
			}
			m[string(k)] = plain(e)
		}
		return m
	case v.IsArray():
		a := []any{}
		for _, e := range v.ArrayValue() {
			a = append(a, plain(e))
		}
		return a
	case v.IsString():
		return v.StringValue()
	case v.IsNumber():
		f := v.NumberValue()
		if f == float64(int64(f)) {
			return int64(f)
		}
		return f
	case v.IsBool():
		return v.BoolValue()
	}
	return nil
}
