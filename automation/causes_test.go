package automation

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSummarizeWarnings(t *testing.T) {
	at := func(min int) metav1.Time { return metav1.NewTime(time.Date(2026, 12, 1, 8, min, 0, 0, time.UTC)) }
	ev := func(kind, name, reason, msg string, min int) corev1.Event {
		return corev1.Event{InvolvedObject: corev1.ObjectReference{Kind: kind, Name: name}, Reason: reason, Message: msg, LastTimestamp: at(min)}
	}
	forbidden := `pods "preview-pr-1-abc-x" is forbidden: maximum memory usage per Container is 8Gi, but limit is 9Gi`
	evs := []corev1.Event{
		ev("ReplicaSet", "preview-pr-1-5d8f", "FailedCreate", forbidden, 1),
		ev("ReplicaSet", "preview-pr-1-5d8f", "FailedCreate", forbidden, 3), // repeated: quoted once
		ev("ReplicaSet", "preview-pr-1-extra-77aa", "FailedCreate", "another preview's", 4),
		ev("ReplicaSet", "preview-pr-10-9e9e", "FailedCreate", "a longer launch id", 5),
		ev("ReplicaSet", "preview-pr-1-6e6e", "FailedCreate", "exceeded quota: previews-quota", 2),
	}
	assert.Equal(t,
		"ReplicaSet preview-pr-1-5d8f: FailedCreate: "+forbidden+"; ReplicaSet preview-pr-1-6e6e: FailedCreate: exceeded quota: previews-quota",
		summarizeWarnings(evs, isReplicaSetOf("preview-pr-1")))

	jobs := []corev1.Event{
		ev("Job", "build-b-7", "FailedCreate", "exceeded quota: builds-quota", 1),
		ev("Job", "build-b-70", "FailedCreate", "not this one", 2),
		ev("Job", "build-b-7", "DeadlineExceeded", "Job was active longer than specified deadline", 3),
	}
	assert.Equal(t, "Job build-b-7: DeadlineExceeded: Job was active longer than specified deadline; Job build-b-7: FailedCreate: exceeded quota: builds-quota",
		summarizeWarnings(jobs, isJob("build-b-7")))
	assert.Empty(t, summarizeWarnings(jobs, isJob("build-none")))
}

func TestWithCausesOnlyExplainsFailures(t *testing.T) {
	failed := &Error{Kind: KindFailed, Reason: "Job failed: DeadlineExceeded"}
	assert.Equal(t, "Job failed: DeadlineExceeded (cluster events: exceeded quota)", withCauses(failed, "exceeded quota").(*Error).Reason)
	invalid := &Error{Kind: KindInvalid, Reason: "bad"}
	assert.Equal(t, "bad", withCauses(invalid, "exceeded quota").(*Error).Reason)
	assert.Equal(t, "x", withCauses(&Error{Kind: KindFailed, Reason: "x"}, "").(*Error).Reason)
}
