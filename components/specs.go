package components

import (
	"sort"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// requirements are the container's requests and limits as a pod spec takes them.
func (r ContainerResources) requirements() *corev1.ResourceRequirementsArgs {
	return &corev1.ResourceRequirementsArgs{
		Requests: pulumi.StringMap{"cpu": pulumi.String(r.CPURequest), "memory": pulumi.String(r.MemoryRequest)},
		Limits:   pulumi.StringMap{"cpu": pulumi.String(r.CPULimit), "memory": pulumi.String(r.MemoryLimit)},
	}
}

// readWriteOnceClaim is the claim of a single-replica workload's volume;
// an empty storage class leaves the cluster default.
func readWriteOnceClaim(size, storageClass string) *corev1.PersistentVolumeClaimSpecArgs {
	spec := &corev1.PersistentVolumeClaimSpecArgs{
		AccessModes: pulumi.ToStringArray([]string{"ReadWriteOnce"}),
		Resources:   &corev1.VolumeResourceRequirementsArgs{Requests: pulumi.StringMap{"storage": pulumi.String(size)}},
	}
	if storageClass != "" {
		spec.StorageClassName = pulumi.String(storageClass)
	}
	return spec
}

// httpServiceSpec is a ClusterIP Service from port to the pods' port named http.
func httpServiceSpec(selector pulumi.StringMap, port int) *corev1.ServiceSpecArgs {
	return &corev1.ServiceSpecArgs{
		Type:     pulumi.String("ClusterIP"),
		Selector: selector,
		Ports: corev1.ServicePortArray{&corev1.ServicePortArgs{
			Name: pulumi.String("http"), Port: pulumi.Int(port), TargetPort: pulumi.String("http"), Protocol: pulumi.String("TCP"),
		}},
	}
}

// ingressFromNamespace admits every pod of one namespace on one TCP port.
func ingressFromNamespace(namespace string, port int) *networkingv1.NetworkPolicyIngressRuleArgs {
	return &networkingv1.NetworkPolicyIngressRuleArgs{
		From: networkingv1.NetworkPolicyPeerArray{&networkingv1.NetworkPolicyPeerArgs{
			NamespaceSelector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{
				"kubernetes.io/metadata.name": pulumi.String(namespace),
			}},
		}},
		Ports: networkingv1.NetworkPolicyPortArray{&networkingv1.NetworkPolicyPortArgs{
			Protocol: pulumi.String("TCP"), Port: pulumi.Int(port),
		}},
	}
}

// sortedKeys gives a map's keys in a stable order, which keeps updates free
// of spurious diffs.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
