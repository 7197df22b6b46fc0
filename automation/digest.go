package automation

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/apphub/apphub-infra/internal/kubeclient"
)

// DigestReader reads the image digest a finished build wrote to its
// termination message.
type DigestReader interface {
	Digest(ctx context.Context, kubeconfig, kubeContext, namespace, job string) (string, error)
}

// ClusterDigest, the default DigestReader, reads the build pod's
// termination message through the API server (client-go), with the
// platform's kubeconfig given as a path or as contents.
type ClusterDigest struct{}

func (ClusterDigest) Digest(ctx context.Context, kubeconfig, kubeContext, namespace, job string) (string, error) {
	cs, err := kubeclient.Clientset(kubeconfig, kubeContext)
	if err != nil {
		return "", err
	}
	pods, err := cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{
		LabelSelector: "job-name=" + job,
		FieldSelector: "status.phase=" + string(corev1.PodSucceeded),
	})
	if err != nil {
		return "", fmt.Errorf("listing pods of job %s/%s: %w", namespace, job, err)
	}
	return digestOf(pods.Items), nil
}

// digestOf finds the first sha256 digest in the pods' termination messages.
func digestOf(pods []corev1.Pod) string {
	for _, pod := range pods {
		for _, st := range pod.Status.ContainerStatuses {
			if st.State.Terminated == nil {
				continue
			}
			for _, field := range strings.Fields(st.State.Terminated.Message) {
				if strings.HasPrefix(field, "sha256:") {
					return field
				}
			}
		}
	}
	return ""
}
