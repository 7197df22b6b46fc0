package automation

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"

	"github.com/apphub/apphub-infra/components"
	"github.com/apphub/apphub-infra/stacks"
)

// A preview update waits for its Deployment to become available, up to
// the provider's await timeout (10 minutes). Some causes cannot clear on
// their own within that time: admission forbidding the pods (quota,
// LimitRange), an image that cannot be pulled, a container that keeps
// crashing, pods no node can take and no autoscaler is adding a node for.
// The stuck watch ends such an update early with the cluster's reason.
//
// It judges the preview's objects as they are now, never past events: a
// condition must hold at every look for FailFastAfter before the update is
// cancelled, so one BackOff during warm-up or a registry hiccup that
// cleared cancels nothing. Objects are the preview's own by their
// apphub.io/launch label (launch pr-1 never sees the pods of pr-1-2), and
// pods waiting for a node an autoscaler is adding (TriggeredScaleUp,
// Karpenter's Nominated) are progress.

// errStuck is the cancellation cause of an update that cannot progress.
type errStuck struct{ reason string }

func (e errStuck) Error() string { return "cannot make progress: " + e.reason }

// blockedWaiting are the container waiting reasons that do not clear by
// themselves while the spec stays as it is.
var blockedWaiting = map[string]bool{
	"ErrImagePull": true, "ImagePullBackOff": true, "InvalidImageName": true,
	"CrashLoopBackOff": true, "CreateContainerConfigError": true, "CreateContainerError": true,
}

// scaleUpReasons are the events of an autoscaler adding capacity for a pod.
var scaleUpReasons = map[string]bool{"TriggeredScaleUp": true, "Nominated": true}

// blocked says why the launch's workload cannot progress now, or "".
func blocked(ctx context.Context, cs kubernetes.Interface, ns, launch string) (string, error) {
	sel := metav1.ListOptions{LabelSelector: components.LabelLaunch + "=" + launch}
	rss, err := cs.AppsV1().ReplicaSets(ns).List(ctx, sel)
	if err != nil {
		return "", err
	}
	var reasons []string
	for _, rs := range rss.Items {
		if r := replicaFailure(rs); r != "" {
			reasons = append(reasons, r)
		}
	}
	pods, err := cs.CoreV1().Pods(ns).List(ctx, sel)
	if err != nil {
		return "", err
	}
	for _, p := range pods.Items {
		r, err := podBlocked(ctx, cs, p)
		if err != nil {
			return "", err
		}
		if r != "" {
			reasons = append(reasons, r)
		}
	}
	sort.Strings(reasons)
	return strings.Join(reasons, "; "), nil
}

// replicaFailure is a ReplicaSet's ReplicaFailure condition (admission
// refusing its pods: quota, LimitRange, a webhook).
func replicaFailure(rs appsv1.ReplicaSet) string {
	for _, c := range rs.Status.Conditions {
		if c.Type == appsv1.ReplicaSetReplicaFailure && c.Status == corev1.ConditionTrue {
			return fmt.Sprintf("ReplicaSet %s: %s: %s", rs.Name, c.Reason, c.Message)
		}
	}
	return ""
}

// podBlocked is a pod's blocking state: a container waiting for a reason
// that does not clear, or no node for it and no scale-up under way.
func podBlocked(ctx context.Context, cs kubernetes.Interface, p corev1.Pod) (string, error) {
	for _, st := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if w := st.State.Waiting; w != nil && blockedWaiting[w.Reason] {
			r := fmt.Sprintf("pod %s container %s: %s: %s", p.Name, st.Name, w.Reason, w.Message)
			if t := st.LastTerminationState.Terminated; t != nil && w.Reason == "CrashLoopBackOff" {
				r += fmt.Sprintf(" (last exit code %d, %s)", t.ExitCode, t.Reason)
			}
			return r, nil
		}
		// Between two back-offs a crashing container shows as terminated
		// for a moment; that is the same crash loop, not a recovery.
		if t := st.State.Terminated; t != nil && t.ExitCode != 0 && st.RestartCount > 0 {
			return fmt.Sprintf("pod %s container %s: crash loop: exit code %d (%s) after %d restarts", p.Name, st.Name, t.ExitCode, t.Reason, st.RestartCount), nil
		}
	}
	for _, c := range p.Status.Conditions {
		if c.Type != corev1.PodScheduled || c.Status != corev1.ConditionFalse || c.Reason != corev1.PodReasonUnschedulable {
			continue
		}
		scaling, err := scaleUpUnderWay(ctx, cs, p)
		if err != nil || scaling {
			return "", err
		}
		return fmt.Sprintf("pod %s: Unschedulable: %s (no autoscaler is adding a node for it)", p.Name, c.Message), nil
	}
	return "", nil
}

// scaleUpUnderWay reports whether an autoscaler's latest word on the pod
// is that it is adding capacity (its latest event about the pod from
// Cluster Autoscaler or Karpenter is a scale-up, not NotTriggerScaleUp).
func scaleUpUnderWay(ctx context.Context, cs kubernetes.Interface, p corev1.Pod) (bool, error) {
	latest, err := latestPodEvent(ctx, cs, p, func(reason string) bool {
		return scaleUpReasons[reason] || reason == "NotTriggerScaleUp"
	})
	return latest != nil && scaleUpReasons[latest.Reason], err
}

// latestPodEvent is the newest event about this pod (not an earlier pod
// of the same name) whose reason matches, or nil.
func latestPodEvent(ctx context.Context, cs kubernetes.Interface, p corev1.Pod, matches func(reason string) bool) (*corev1.Event, error) {
	evs, err := cs.CoreV1().Events(p.Namespace).List(ctx, metav1.ListOptions{FieldSelector: fields.AndSelectors(
		fields.OneTermEqualSelector("involvedObject.kind", "Pod"),
		fields.OneTermEqualSelector("involvedObject.name", p.Name)).String()})
	if err != nil {
		return nil, err
	}
	var latest *corev1.Event
	for i := range evs.Items {
		ev := &evs.Items[i]
		if ev.InvolvedObject.Kind != "Pod" || ev.InvolvedObject.Name != p.Name ||
			(ev.InvolvedObject.UID != "" && p.UID != "" && ev.InvolvedObject.UID != p.UID) {
			continue // another object, or an earlier pod of the same name
		}
		if matches(ev.Reason) && (latest == nil || eventTime(*ev).After(eventTime(*latest).Time)) {
			latest = ev
		}
	}
	return latest, nil
}

// stuckWatch remembers since when a blocking condition has held.
type stuckWatch struct {
	cs     kubernetes.Interface
	ns     string
	launch string
	after  time.Duration
	since  time.Time // zero while nothing blocks
}

// look judges the launch now; it returns the reason once a blocking
// condition has held at every look for after, or at once when the
// Deployment itself gave up (its progress deadline passed).
func (w *stuckWatch) look(ctx context.Context, now time.Time) (string, error) {
	if reason, err := deadlineExceeded(ctx, w.cs, w.ns, w.launch); err != nil || reason != "" {
		return reason, err
	}
	reason, err := blocked(ctx, w.cs, w.ns, w.launch)
	switch {
	case err != nil || reason == "":
		w.since = time.Time{}
		return "", err
	case w.since.IsZero():
		w.since = now
	}
	if now.Sub(w.since) >= w.after {
		return reason, nil
	}
	return "", nil
}

// watchStuck looks every interval while an update runs and cancels ctx
// with errStuck once the watch says so. The returned stop ends it.
func watchStuck(ctx context.Context, cancel context.CancelCauseFunc, w *stuckWatch, interval time.Duration) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case now := <-t.C:
				if reason, err := w.look(ctx, now); err == nil && reason != "" {
					cancel(errStuck{reason: reason})
					return
				}
			}
		}
	}()
	return func() { close(done) }
}

// previewUpCtx watches a preview update for a state that cannot
// progress; without a cluster to ask it watches nothing.
func (m *Manager) previewUpCtx(ctx context.Context, launch string) (context.Context, func()) {
	upCtx, cancel := context.WithCancelCause(ctx)
	cs, ns, err := m.platformCluster(ctx, stacks.OutNamespace)
	if err != nil {
		return upCtx, func() { cancel(nil) }
	}
	w := &stuckWatch{cs: cs, ns: ns, launch: launch, after: m.opts.FailFastAfter}
	stop := watchStuck(upCtx, cancel, w, m.opts.FailFastAfter/5)
	return upCtx, func() { stop(); cancel(nil) }
}

// stuckError turns an update ended by watchStuck into a Failed error.
func stuckError(ctx context.Context, op, stack string) error {
	var s errStuck
	if errors.As(context.Cause(ctx), &s) {
		return &Error{Kind: KindFailed, Op: op, Stack: stack, Reason: s.Error()}
	}
	return nil
}
