package automation

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func warning(name, object, reason, msg string, at time.Time) *corev1.Event {
	return &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "apphub"}, Type: corev1.EventTypeWarning,
		InvolvedObject: corev1.ObjectReference{Kind: "ReplicaSet", Name: object}, Reason: reason, Message: msg, LastTimestamp: metav1.NewTime(at)}
}

func TestAStuckUpdateIsEndedWithTheClustersReason(t *testing.T) {
	tests := []struct {
		name   string
		events []*corev1.Event
		stuck  string
	}{
		{"quota forbids the pods", []*corev1.Event{warning("e1", "preview-pr-1-7d9f", "FailedCreate", `pods "preview-pr-1-7d9f-x" is forbidden: exceeded quota: apphub-quota`, time.Now().Add(time.Hour))},
			"exceeded quota: apphub-quota"},
		{"an old warning from an earlier update", []*corev1.Event{warning("e2", "preview-pr-1-7d9f", "FailedCreate", "old", time.Now().Add(-time.Hour))}, ""},
		{"another preview's trouble", []*corev1.Event{warning("e3", "preview-pr-10-abcd", "FailedCreate", "not ours", time.Now().Add(time.Hour))}, ""},
		{"a warning that means nothing is stuck", []*corev1.Event{warning("e4", "preview-pr-1-7d9f", "Unhealthy", "probe failed once", time.Now().Add(time.Hour))}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := fake.NewClientset()
			for _, ev := range tt.events {
				_, err := cs.CoreV1().Events("apphub").Create(context.Background(), ev, metav1.CreateOptions{})
				require.NoError(t, err)
			}
			ctx, cancel := context.WithCancelCause(context.Background())
			stop := watchStuck(ctx, cancel, cs, "apphub", isPreviewObject("preview-pr-1"), 150*time.Millisecond, 30*time.Millisecond)
			defer stop()
			select {
			case <-ctx.Done():
			case <-time.After(700 * time.Millisecond):
			}
			var s errStuck
			if tt.stuck == "" {
				assert.NoError(t, ctx.Err(), "the update goes on")
				return
			}
			require.True(t, errors.As(context.Cause(ctx), &s), "ended as stuck: %v", context.Cause(ctx))
			assert.Contains(t, s.Error(), tt.stuck)
			err := stuckError(ctx, "preview up", "preview-pr-1")
			assert.True(t, IsFailed(err))
			assert.Contains(t, err.Error(), "cannot make progress: ReplicaSet preview-pr-1-7d9f: FailedCreate")
		})
	}
}
