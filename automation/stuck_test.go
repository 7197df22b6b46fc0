package automation

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/apphub/apphub-infra/components"
)

const watchNS = "apphub"

func launchMeta(name, launch string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: watchNS, UID: types.UID("uid-" + name), Labels: map[string]string{components.LabelLaunch: launch}}
}

func waitingPod(name, launch, reason string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: launchMeta(name, launch), Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{
		Name: "app", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: "detail of " + reason}},
	}}}}
}

func unschedulablePod(name, launch string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: launchMeta(name, launch), Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{
		Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, Message: "0/3 nodes are available: 3 Insufficient cpu.",
	}}}}
}

func podEvent(name, pod, reason string, at time.Time) *corev1.Event {
	return &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: watchNS}, Type: corev1.EventTypeNormal,
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: pod, Namespace: watchNS}, Reason: reason, LastTimestamp: metav1.NewTime(at)}
}

// look drives the watch through the given states, one look each at the
// given offsets, and returns what the last look said.
func lookThrough(t *testing.T, states [][]runtime.Object, at []time.Duration) string {
	t.Helper()
	t0 := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	w := &stuckWatch{ns: watchNS, launch: "pr-1", after: 30 * time.Second}
	var reason string
	for i, objs := range states {
		w.cs = fake.NewClientset(objs...)
		var err error
		reason, err = w.look(context.Background(), t0.Add(at[i]))
		require.NoError(t, err)
		if reason != "" && i < len(states)-1 {
			t.Fatalf("stuck too early, at look %d: %s", i, reason)
		}
	}
	return reason
}

func TestTheStuckWatchJudgesTheStateNow(t *testing.T) {
	quota := &appsv1.ReplicaSet{ObjectMeta: launchMeta("preview-pr-1-7d9f", "pr-1"), Status: appsv1.ReplicaSetStatus{Conditions: []appsv1.ReplicaSetCondition{{
		Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue, Reason: "FailedCreate", Message: `pods "preview-pr-1-7d9f-x" is forbidden: exceeded quota: apphub-quota`,
	}}}}
	crashing := waitingPod("preview-pr-1-a", "pr-1", "CrashLoopBackOff")
	crashing.Status.ContainerStatuses[0].LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: 3, Reason: "Error"}
	// The same crash loop between two back-offs: the container just exited.
	exited := &corev1.Pod{ObjectMeta: launchMeta("preview-pr-1-a", "pr-1"), Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{
		Name: "app", RestartCount: 2, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 3, Reason: "Error"}},
	}}}}
	running := &corev1.Pod{ObjectMeta: launchMeta("preview-pr-1-a", "pr-1"), Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{
		Name: "app", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
	}}}}
	now := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	progressing := func(status corev1.ConditionStatus, reason string) *appsv1.Deployment {
		return &appsv1.Deployment{ObjectMeta: launchMeta("preview-pr-1", "pr-1"), Status: appsv1.DeploymentStatus{Conditions: []appsv1.DeploymentCondition{{
			Type: appsv1.DeploymentProgressing, Status: status, Reason: reason, Message: `ReplicaSet "preview-pr-1-7d9f" has timed out progressing.`,
		}}}}
	}
	unready := &corev1.Pod{ObjectMeta: launchMeta("preview-pr-1-a", "pr-1"), Status: corev1.PodStatus{
		Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}},
		ContainerStatuses: []corev1.ContainerStatus{{Name: "app", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}},
	}}
	probeFailed := podEvent("e1", "preview-pr-1-a", "Unhealthy", now)
	probeFailed.Type, probeFailed.Message = corev1.EventTypeWarning, "Readiness probe failed: HTTP probe failed with statuscode: 503"
	tests := []struct {
		name   string
		states [][]runtime.Object
		at     []time.Duration
		want   string // "" = not stuck
	}{
		{"quota forbids the pods throughout", [][]runtime.Object{{quota}, {quota}, {quota}}, []time.Duration{0, 15 * time.Second, 30 * time.Second},
			"ReplicaSet preview-pr-1-7d9f: FailedCreate: pods \"preview-pr-1-7d9f-x\" is forbidden: exceeded quota: apphub-quota"},
		{"an image that cannot be pulled", [][]runtime.Object{{waitingPod("preview-pr-1-a", "pr-1", "ImagePullBackOff")}, {waitingPod("preview-pr-1-a", "pr-1", "ImagePullBackOff")}},
			[]time.Duration{0, 31 * time.Second}, "pod preview-pr-1-a container app: ImagePullBackOff"},
		{"a crash loop, with its exit code", [][]runtime.Object{{crashing}, {crashing}}, []time.Duration{0, 40 * time.Second}, "CrashLoopBackOff: detail of CrashLoopBackOff (last exit code 3, Error)"},
		{"a crash loop seen between two back-offs", [][]runtime.Object{{crashing}, {exited}, {crashing}, {exited}}, []time.Duration{0, 10 * time.Second, 20 * time.Second, 31 * time.Second},
			"crash loop: exit code 3 (Error) after 2 restarts"},
		{"a back-off that cleared during warm-up", [][]runtime.Object{{waitingPod("preview-pr-1-a", "pr-1", "ImagePullBackOff")}, {running}, {waitingPod("preview-pr-1-a", "pr-1", "ImagePullBackOff")}},
			[]time.Duration{0, 20 * time.Second, 40 * time.Second}, ""},
		{"a foreign preview whose name extends this one", [][]runtime.Object{{waitingPod("preview-pr-1-2-b", "pr-1-2", "ImagePullBackOff")}, {waitingPod("preview-pr-1-2-b", "pr-1-2", "ImagePullBackOff")}},
			[]time.Duration{0, time.Minute}, ""},
		{"no node, an autoscaler adding one", [][]runtime.Object{
			{unschedulablePod("preview-pr-1-a", "pr-1"), podEvent("e1", "preview-pr-1-a", "TriggeredScaleUp", now)},
			{unschedulablePod("preview-pr-1-a", "pr-1"), podEvent("e1", "preview-pr-1-a", "TriggeredScaleUp", now)},
		}, []time.Duration{0, 2 * time.Minute}, ""},
		{"no node, Karpenter nominated one", [][]runtime.Object{
			{unschedulablePod("preview-pr-1-a", "pr-1"), podEvent("e1", "preview-pr-1-a", "Nominated", now)},
			{unschedulablePod("preview-pr-1-a", "pr-1"), podEvent("e1", "preview-pr-1-a", "Nominated", now)},
		}, []time.Duration{0, 2 * time.Minute}, ""},
		{"no node, the autoscaler gave up", [][]runtime.Object{
			{unschedulablePod("preview-pr-1-a", "pr-1"), podEvent("e1", "preview-pr-1-a", "TriggeredScaleUp", now), podEvent("e2", "preview-pr-1-a", "NotTriggerScaleUp", now.Add(time.Second))},
			{unschedulablePod("preview-pr-1-a", "pr-1"), podEvent("e1", "preview-pr-1-a", "TriggeredScaleUp", now), podEvent("e2", "preview-pr-1-a", "NotTriggerScaleUp", now.Add(time.Second))},
		}, []time.Duration{0, 31 * time.Second}, "pod preview-pr-1-a: Unschedulable: 0/3 nodes are available: 3 Insufficient cpu. (no autoscaler is adding a node for it)"},
		{"no node, no autoscaler", [][]runtime.Object{{unschedulablePod("preview-pr-1-a", "pr-1")}, {unschedulablePod("preview-pr-1-a", "pr-1")}},
			[]time.Duration{0, 31 * time.Second}, "Unschedulable"},
		{"blocked, but not yet for long", [][]runtime.Object{{quota}, {quota}}, []time.Duration{0, 29 * time.Second}, ""},
		{"not ready and still within the progress deadline", [][]runtime.Object{{progressing(corev1.ConditionTrue, "ReplicaSetUpdated"), unready, probeFailed}, {progressing(corev1.ConditionTrue, "ReplicaSetUpdated"), unready, probeFailed}},
			[]time.Duration{0, 5 * time.Minute}, ""},
		{"never ready: the progress deadline ends it at once", [][]runtime.Object{{progressing(corev1.ConditionFalse, "ProgressDeadlineExceeded"), unready, probeFailed}}, []time.Duration{0},
			`Deployment preview-pr-1: ProgressDeadlineExceeded: ReplicaSet "preview-pr-1-7d9f" has timed out progressing.; pod preview-pr-1-a: not ready (Readiness probe failed: HTTP probe failed with statuscode: 503)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := lookThrough(t, tt.states, tt.at)
			if tt.want == "" {
				assert.Empty(t, got, "the update goes on")
				return
			}
			assert.Contains(t, got, tt.want)
		})
	}
}

// The watch cancels the update with the reason; stuckError turns that
// into a Failed error.
func TestAStuckUpdateIsEndedWithTheClustersReason(t *testing.T) {
	cs := fake.NewClientset(waitingPod("preview-pr-1-a", "pr-1", "ErrImagePull"))
	ctx, cancel := context.WithCancelCause(context.Background())
	w := &stuckWatch{cs: cs, ns: watchNS, launch: "pr-1", after: 0}
	stop := watchStuck(ctx, cancel, w, time.Millisecond)
	defer stop()
	<-ctx.Done()
	err := stuckError(ctx, "preview up", "preview-pr-1")
	assert.True(t, IsFailed(err))
	assert.Contains(t, err.Error(), "cannot make progress: pod preview-pr-1-a container app: ErrImagePull")
}
