package testprograms

import (
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/apphub/apphub-infra/stacks"
)

// PlatformNamespace is where PlatformCluster keeps the platform's ConfigMap
// (the Manager's default).
const PlatformNamespace = "apphub-system"

// PlatformOutputs are Platform's outputs as the platform's ConfigMap holds
// them: no secret, no connection.
func PlatformOutputs() map[string]any {
	return map[string]any{
		stacks.OutNamespace: "apphub", stacks.OutBuildNamespace: "apphub-builds", stacks.OutSystemNamespace: PlatformNamespace,
		stacks.OutBuilderImage: "moby/buildkit:v0.23.2-rootless", stacks.OutBuilderServiceAccount: "apphub-builder",
		stacks.OutPreviewServiceAccount: "apphub-preview", stacks.OutBuildTimeoutSeconds: 900, stacks.OutBuildJobTTLSeconds: 3600,
		stacks.OutPreviewURLTemplate: "http://{launch}.preview.test", stacks.OutIngressClass: "traefik",
	}
}

// PlatformCluster is an in-memory API server (client-go's fake) holding
// the platform's ConfigMap with outs, for tests that drive the real
// Pulumi CLI without a cluster: the Manager reads the platform from it as
// it does from a cluster.
func PlatformCluster(outs map[string]any) *fake.Clientset {
	b, err := json.Marshal(outs)
	if err != nil {
		panic(err) // a test's own literal
	}
	return fake.NewClientset(&corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: stacks.PlatformConfigMap, Namespace: PlatformNamespace},
		Data:       map[string]string{stacks.PlatformOutputsKey: string(b)},
	})
}

// KubeClient is an Options.KubeClient that answers with cs whatever the
// connection.
func KubeClient(cs kubernetes.Interface) func(string, string) (kubernetes.Interface, error) {
	return func(string, string) (kubernetes.Interface, error) { return cs, nil }
}
