package automation

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/apphub/apphub-infra/components"
	"github.com/apphub/apphub-infra/internal/kubeclient"
	"github.com/apphub/apphub-infra/stacks"
)

// builderContainer is the build pod's container (components.NewBuildJob).
const builderContainer = "buildkit"

// BuildLogs writes a build's logs, read from its Job's pods through the
// API server: every attempt in order, each under a header when there are
// several. With follow it streams until the Job has finished, waiting for
// a pod that is still being scheduled and for retries.
func (m *Manager) BuildLogs(ctx context.Context, id string, follow bool, w io.Writer) error {
	const op = "build logs"
	if err := ValidBuild(op, id); err != nil {
		return err
	}
	if m.opts.BuildMode == ModeStub {
		return &Error{Kind: KindNotFound, Op: op, Stack: BuildStack(id), Reason: "stub execution mode runs no build, so there are no logs"}
	}
	r, err := m.BuildGet(ctx, id)
	if err != nil {
		return err
	}
	ns, job := r.Namespace, r.JobName
	if job == "" && r.State == StateBuilding {
		// A running update has no outputs yet; its Job is the one the
		// build names, in the platform's build namespace.
		if _, bns, err := m.platformCluster(ctx, stacks.OutBuildNamespace); err == nil {
			ns, job = bns, components.BuildName(id)
		}
	}
	if job == "" || ns == "" {
		return &Error{Kind: KindNotFound, Op: op, Stack: r.Stack, Reason: "the build stack has no Job yet"}
	}
	cs, err := m.kube(m.opts.Kubeconfig, m.opts.KubeContext)
	if err != nil {
		return classify(ctx, op, r.Stack, err, nil)
	}
	if follow && r.JobName == "" {
		if err := m.awaitBuildJob(ctx, cs, ns, job, id); err != nil {
			return err
		}
	}
	if err := streamJobLogs(ctx, cs, ns, job, follow, w); err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Op, e.Stack = op, r.Stack
			return e
		}
		return classify(ctx, op, r.Stack, err, nil)
	}
	return nil
}

// awaitBuildJob waits, for a follow, until a running build has created
// its Job; it gives up with NotFound once the build is no longer running.
func (m *Manager) awaitBuildJob(ctx context.Context, cs kubernetes.Interface, ns, job, id string) error {
	for {
		_, err := cs.BatchV1().Jobs(ns).Get(ctx, job, metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			return err
		}
		if err := sleepCtx(ctx, logPoll); err != nil {
			return err
		}
		r, err := m.BuildGet(ctx, id)
		if err != nil {
			return err
		}
		if r.State != StateBuilding && r.JobName == "" {
			return &Error{Kind: KindNotFound, Op: "build logs", Stack: r.Stack, Reason: "the build ended without creating its Job"}
		}
	}
}

// kubeClient is the default Options.KubeClient.
func kubeClient(kubeconfig, kubeContext string) (kubernetes.Interface, error) {
	return kubeclient.Clientset(kubeconfig, kubeContext)
}

// platformCluster is a client of the platform's cluster and the namespace
// a platform output names (stacks.OutNamespace for previews); an error
// when either is unknown, which callers treat as "cannot ask the cluster".
func (m *Manager) platformCluster(ctx context.Context, namespaceOutput string) (kubernetes.Interface, string, error) {
	outs, err := m.platformOutputs(ctx)
	if err != nil {
		return nil, "", err
	}
	ns, _ := outs[namespaceOutput].(string)
	if ns == "" {
		return nil, "", fmt.Errorf("platform output %s is missing", namespaceOutput)
	}
	cs, err := m.kube(m.opts.Kubeconfig, m.opts.KubeContext)
	return cs, ns, err
}

// kube returns a client of the platform's cluster, made once per
// kubeconfig and context: a preview up asks the cluster several times
// (quota, the stuck watch, failure causes), and a client is safe to share.
func (m *Manager) kube(kubeconfig, kubeContext string) (kubernetes.Interface, error) {
	key := kubeContext + "\x00" + kubeconfig
	m.kubeMu.Lock()
	defer m.kubeMu.Unlock()
	if cs, ok := m.kubeClients[key]; ok {
		return cs, nil
	}
	cs, err := m.opts.KubeClient(kubeconfig, kubeContext)
	if err != nil {
		return nil, err
	}
	if m.kubeClients == nil {
		m.kubeClients = map[string]kubernetes.Interface{}
	}
	m.kubeClients[key] = cs
	return cs, nil
}

// logPoll is how often a follow looks for a new pod or the Job's end.
var logPoll = time.Second

func streamJobLogs(ctx context.Context, cs kubernetes.Interface, ns, job string, follow bool, w io.Writer) error {
	seen := map[string]bool{}
	for {
		pods, err := jobPods(ctx, cs, ns, job)
		if err != nil {
			return err
		}
		var next *corev1.Pod
		for i := range pods {
			if !seen[pods[i].Name] {
				next = &pods[i]
				break
			}
		}
		if next == nil || (follow && next.Status.Phase == corev1.PodPending) {
			done, err := jobFinished(ctx, cs, ns, job)
			if err != nil {
				return err
			}
			if next == nil && (!follow || done) {
				if len(seen) == 0 {
					return &Error{Kind: KindNotFound, Reason: fmt.Sprintf("job %s/%s has no pods (its TTL may have removed them)", ns, job)}
				}
				return nil
			}
			if err := sleepCtx(ctx, logPoll); err != nil {
				return err
			}
			continue
		}
		seen[next.Name] = true
		if len(pods) > 1 || len(seen) > 1 {
			fmt.Fprintf(w, "==> pod %s (%s) <==\n", next.Name, next.Status.Phase)
		}
		if err := podLogs(ctx, cs, ns, next.Name, follow, w); err != nil {
			return err
		}
	}
}

func jobPods(ctx context.Context, cs kubernetes.Interface, ns, job string) ([]corev1.Pod, error) {
	list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "job-name=" + job})
	if err != nil {
		return nil, fmt.Errorf("listing pods of job %s/%s: %w", ns, job, err)
	}
	pods := list.Items
	sort.Slice(pods, func(i, j int) bool {
		return pods[i].CreationTimestamp.Before(&pods[j].CreationTimestamp) ||
			pods[i].CreationTimestamp.Equal(&pods[j].CreationTimestamp) && pods[i].Name < pods[j].Name
	})
	return pods, nil
}

func jobFinished(ctx context.Context, cs kubernetes.Interface, ns, job string) (bool, error) {
	j, err := cs.BatchV1().Jobs(ns).Get(ctx, job, metav1.GetOptions{})
	if err != nil {
		return false, fmt.Errorf("reading job %s/%s: %w", ns, job, err)
	}
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true, nil
		}
	}
	return false, nil
}

func podLogs(ctx context.Context, cs kubernetes.Interface, ns, pod string, follow bool, w io.Writer) error {
	rc, err := cs.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: builderContainer, Follow: follow}).Stream(ctx)
	if err != nil {
		return fmt.Errorf("reading logs of pod %s/%s: %w", ns, pod, err)
	}
	defer rc.Close()
	if _, err := io.Copy(w, rc); err != nil && ctx.Err() == nil {
		return fmt.Errorf("reading logs of pod %s/%s: %w", ns, pod, err)
	}
	return ctx.Err()
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
