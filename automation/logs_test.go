package automation

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// client-go's fake clientset serves "fake logs" for any pod: these tests
// are about which pods are read, in what order, and when a follow ends.

func buildPod(name string, created time.Time, phase corev1.PodPhase) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "apphub-builds", Labels: map[string]string{"job-name": "build-b-1"},
		CreationTimestamp: metav1.NewTime(created)}, Status: corev1.PodStatus{Phase: phase}}
}

func buildJob(done bool) *batchv1.Job {
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "build-b-1", Namespace: "apphub-builds"}}
	if done {
		j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue}}
	}
	return j
}

func TestBuildLogsReadEveryAttemptInOrder(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		objects []*corev1.Pod
		want    string
		err     string
	}{
		{"one pod: just its logs", []*corev1.Pod{buildPod("build-b-1-x", t0, corev1.PodSucceeded)}, "fake logs", ""},
		{"a retry: both attempts under headers, oldest first",
			[]*corev1.Pod{buildPod("build-b-1-late", t0.Add(time.Minute), corev1.PodFailed), buildPod("build-b-1-early", t0, corev1.PodFailed)},
			"==> pod build-b-1-early (Failed) <==\nfake logs==> pod build-b-1-late (Failed) <==\nfake logs", ""},
		{"no pods left", nil, "", "has no pods (its TTL may have removed them)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := fake.NewClientset(buildJob(true))
			for _, p := range tt.objects {
				_, err := cs.CoreV1().Pods(p.Namespace).Create(context.Background(), p, metav1.CreateOptions{})
				require.NoError(t, err)
			}
			var out bytes.Buffer
			err := streamJobLogs(context.Background(), cs, "apphub-builds", "build-b-1", false, &out)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				assert.True(t, IsNotFound(err))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, out.String())
		})
	}
}

func TestFollowWaitsForThePodAndEndsWithTheJob(t *testing.T) {
	old := logPoll
	logPoll = 50 * time.Millisecond
	defer func() { logPoll = old }()
	cs := fake.NewClientset(buildJob(false))
	ctx := context.Background()
	go func() {
		time.Sleep(200 * time.Millisecond)
		_, _ = cs.CoreV1().Pods("apphub-builds").Create(ctx, buildPod("build-b-1-a", time.Now(), corev1.PodRunning), metav1.CreateOptions{})
		time.Sleep(200 * time.Millisecond)
		_, _ = cs.BatchV1().Jobs("apphub-builds").UpdateStatus(ctx, buildJob(true), metav1.UpdateOptions{})
	}()
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- streamJobLogs(ctx, cs, "apphub-builds", "build-b-1", true, &out) }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("follow did not end with the Job")
	}
	assert.True(t, strings.HasPrefix(out.String(), "fake logs"), out.String())
}
