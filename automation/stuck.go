package automation

import (
	"context"
	"errors"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"

	"github.com/apphub/apphub-infra/stacks"
)

// A preview update waits for its Deployment to become available, up to
// the provider's await timeout (10 minutes). Some causes cannot clear on
// their own within that time: admission forbidding the pods (quota,
// LimitRange), an image that cannot be pulled, pods no node can take.
// stuckWatch ends such an update early with the cluster's reason.

// stuckReasons are the Warning reasons that mean "no progress".
var stuckReasons = map[string]bool{
	"FailedCreate": true, "FailedScheduling": true, "Failed": true, "BackOff": true, "ErrImagePull": true, "ImagePullBackOff": true,
}

// errStuck is the cancellation cause of an update that cannot progress.
type errStuck struct{ reason string }

func (e errStuck) Error() string { return "cannot make progress: " + e.reason }

// isPreviewObject matches the preview Deployment's ReplicaSets and pods.
func isPreviewObject(deployment string) func(string) bool {
	return func(n string) bool { return strings.HasPrefix(n, deployment+"-") }
}

// stuckSince returns the workload's no-progress warnings newer than since.
func stuckSince(ctx context.Context, cs kubernetes.Interface, ns string, owns func(string) bool, since time.Time) (string, error) {
	evs, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("type", corev1.EventTypeWarning).String()})
	if err != nil {
		return "", err
	}
	var fresh []corev1.Event
	for _, ev := range evs.Items {
		if stuckReasons[ev.Reason] && !eventTime(ev).Time.Before(since) {
			fresh = append(fresh, ev)
		}
	}
	return summarizeWarnings(fresh, owns), nil
}

// watchStuck polls every interval while an update runs; warnings that
// persist for after cancel ctx with errStuck. The returned stop ends it.
func watchStuck(ctx context.Context, cancel context.CancelCauseFunc, cs kubernetes.Interface, ns string, owns func(string) bool, after, interval time.Duration) (stop func()) {
	done := make(chan struct{})
	start := time.Now()
	go func() {
		var first time.Time
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			reason, err := stuckSince(ctx, cs, ns, owns, start)
			switch {
			case err != nil || reason == "":
				first = time.Time{}
			case first.IsZero():
				first = time.Now()
			case time.Since(first) >= after:
				cancel(errStuck{reason: reason})
				return
			}
		}
	}()
	return func() { close(done) }
}

// previewUpCtx watches a preview update for warnings that mean it cannot
// progress; without a cluster to ask it watches nothing.
func (m *Manager) previewUpCtx(ctx context.Context, deployment string) (context.Context, func()) {
	upCtx, cancel := context.WithCancelCause(ctx)
	cs, ns, err := m.platformCluster(ctx, stacks.OutNamespace)
	if err != nil {
		return upCtx, func() { cancel(nil) }
	}
	stop := watchStuck(upCtx, cancel, cs, ns, isPreviewObject(deployment), m.opts.FailFastAfter, m.opts.FailFastAfter/5)
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
