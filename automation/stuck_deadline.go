package automation

import (
	"context"
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/apphub/apphub-infra/components"
)

// A preview whose pods run but never become ready (a readiness probe that
// never passes) blocks nothing the watch can see: the Deployment's own
// progress deadline (the platform's previewReadyTimeoutSeconds) is what
// ends it. Once the Deployment says ProgressDeadlineExceeded the update is
// over, with what each pod is still waiting for.

// deadlineExceeded is the launch's Deployment's verdict that its rollout
// stopped progressing, with its pods' readiness, or "".
func deadlineExceeded(ctx context.Context, cs kubernetes.Interface, ns, launch string) (string, error) {
	sel := metav1.ListOptions{LabelSelector: components.LabelLaunch + "=" + launch}
	deps, err := cs.AppsV1().Deployments(ns).List(ctx, sel)
	if err != nil {
		return "", err
	}
	for _, d := range deps.Items {
		for _, c := range d.Status.Conditions {
			if c.Type != appsv1.DeploymentProgressing || c.Status != corev1.ConditionFalse || c.Reason != "ProgressDeadlineExceeded" {
				continue
			}
			reason := fmt.Sprintf("Deployment %s: ProgressDeadlineExceeded: %s", d.Name, c.Message)
			notReady, err := podsNotReady(ctx, cs, ns, sel)
			if err != nil {
				return "", err
			}
			if notReady != "" {
				reason += "; " + notReady
			}
			return reason, nil
		}
	}
	return "", nil
}

// podsNotReady names the running pods that are not ready, each with its
// latest readiness probe failure.
func podsNotReady(ctx context.Context, cs kubernetes.Interface, ns string, sel metav1.ListOptions) (string, error) {
	pods, err := cs.CoreV1().Pods(ns).List(ctx, sel)
	if err != nil {
		return "", err
	}
	var out []string
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil || podReady(p) {
			continue
		}
		r := fmt.Sprintf("pod %s: not ready", p.Name)
		probe, err := lastProbeFailure(ctx, cs, p)
		if err != nil {
			return "", err
		}
		if probe != "" {
			r += " (" + probe + ")"
		}
		out = append(out, r)
	}
	sort.Strings(out)
	return strings.Join(out, "; "), nil
}

func podReady(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// lastProbeFailure is the message of the pod's latest Unhealthy event
// ("Readiness probe failed: HTTP probe failed with statuscode: 503").
func lastProbeFailure(ctx context.Context, cs kubernetes.Interface, p corev1.Pod) (string, error) {
	latest, err := latestPodEvent(ctx, cs, p, func(reason string) bool { return reason == "Unhealthy" })
	if err != nil || latest == nil {
		return "", err
	}
	return strings.TrimSpace(latest.Message), nil
}
