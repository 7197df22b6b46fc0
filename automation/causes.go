package automation

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// maxCauses bounds how many distinct warnings a failure reason quotes.
const maxCauses = 3

// workloadCauses explains a failed update from the cluster's own words: the
// Warning events of the workload's controllers (a Job, or a Deployment's
// ReplicaSets). Admission refusals such as a LimitRange maximum or an
// exhausted quota appear only there; the await merely times out.
func (m *Manager) workloadCauses(ctx context.Context, namespaceOutput, kind string, owns func(name string) bool) string {
	// The operation's own context may be what ran out.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	cs, ns, err := m.platformCluster(ctx, namespaceOutput)
	if err != nil {
		m.opts.Logger.Warn("reading failure causes", "err", err)
		return ""
	}
	evs, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: fields.AndSelectors(
		fields.OneTermEqualSelector("involvedObject.kind", kind),
		fields.OneTermEqualSelector("type", corev1.EventTypeWarning),
	).String()})
	if err != nil {
		m.opts.Logger.Warn("reading failure causes", "namespace", ns, "err", err)
		return ""
	}
	return summarizeWarnings(evs.Items, owns)
}

// summarizeWarnings quotes the latest distinct warnings of the objects owns
// accepts, newest first.
func summarizeWarnings(evs []corev1.Event, owns func(name string) bool) string {
	sort.Slice(evs, func(i, j int) bool { return eventTime(evs[i]).After(eventTime(evs[j]).Time) })
	seen := map[string]bool{}
	var out []string
	for _, ev := range evs {
		if !owns(ev.InvolvedObject.Name) {
			continue
		}
		msg := fmt.Sprintf("%s %s: %s: %s", ev.InvolvedObject.Kind, ev.InvolvedObject.Name, ev.Reason, ev.Message)
		if key := ev.Reason + ev.Message; !seen[key] && len(out) < maxCauses {
			seen[key] = true
			out = append(out, msg)
		}
	}
	return strings.Join(out, "; ")
}

func eventTime(ev corev1.Event) metav1.Time {
	switch {
	case !ev.LastTimestamp.IsZero():
		return ev.LastTimestamp
	case !ev.EventTime.IsZero():
		return metav1.Time{Time: ev.EventTime.Time}
	}
	return ev.CreationTimestamp
}

// isJob matches a Job by name.
func isJob(name string) func(string) bool { return func(n string) bool { return n == name } }

// isReplicaSetOf matches the ReplicaSets of a Deployment (<name>-<hash>).
func isReplicaSetOf(deployment string) func(string) bool {
	return func(n string) bool {
		hash, ok := strings.CutPrefix(n, deployment+"-")
		return ok && hash != "" && !strings.Contains(hash, "-")
	}
}

// withCauses adds the cluster's explanation to a failed operation's reason.
func withCauses(err error, causes string) error {
	if causes == "" {
		return err
	}
	if e, ok := err.(*Error); ok && (e.Kind == KindFailed || e.Kind == KindTimeout) {
		e.Reason += " (cluster events: " + causes + ")"
	}
	return err
}
