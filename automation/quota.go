package automation

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/apphub/apphub-infra/components"
	"github.com/apphub/apphub-infra/stacks"
)

// podNeed is what one pod of a request counts against a quota.
type podNeed struct {
	pods                                                 int
	requestsCPU, requestsMemory, limitsCPU, limitsMemory *resource.Quantity
}

// previewNeed is what a preview create adds: every replica; an update adds
// the rolling update's one surge pod (the old pods are already counted).
func previewNeed(cfg *stacks.PreviewStackConfig, exists bool) (podNeed, error) {
	n := cfg.Replicas
	if exists {
		n = 1
	}
	q := func(s string) (*resource.Quantity, error) {
		v, err := resource.ParseQuantity(s)
		if err != nil {
			return nil, err
		}
		v.Mul(int64(n))
		return &v, nil
	}
	need := podNeed{pods: n}
	var err error
	for _, f := range []struct {
		dst **resource.Quantity
		src string
	}{{&need.requestsCPU, cfg.CPURequest}, {&need.requestsMemory, cfg.MemoryRequest}, {&need.limitsCPU, cfg.CPULimit}, {&need.limitsMemory, cfg.MemoryLimit}} {
		if *f.dst, err = q(f.src); err != nil {
			return need, err
		}
	}
	return need, nil
}

// byResource is the need under each quota resource name it counts against.
func (need podNeed) byResource() map[corev1.ResourceName]*resource.Quantity {
	return map[corev1.ResourceName]*resource.Quantity{
		corev1.ResourcePods:        resource.NewQuantity(int64(need.pods), resource.DecimalSI),
		corev1.ResourceRequestsCPU: need.requestsCPU, corev1.ResourceCPU: need.requestsCPU,
		corev1.ResourceRequestsMemory: need.requestsMemory, corev1.ResourceMemory: need.requestsMemory,
		corev1.ResourceLimitsCPU: need.limitsCPU, corev1.ResourceLimitsMemory: need.limitsMemory,
	}
}

// quotaShortfall names, for every ResourceQuota of ns, each resource the
// need would push past hard: "apphub-quota: limits.cpu requested 500m,
// used 8, hard 8". Empty when everything fits.
func quotaShortfall(ctx context.Context, cs kubernetes.Interface, ns string, need podNeed) ([]string, error) {
	quotas, err := cs.CoreV1().ResourceQuotas(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading the quota of namespace %s: %w", ns, err)
	}
	wants := need.byResource()
	var short []string
	for _, rq := range quotas.Items {
		for name, hard := range rq.Status.Hard {
			want, ok := wants[name]
			if !ok || want == nil {
				continue
			}
			used := rq.Status.Used[name]
			total := used.DeepCopy()
			total.Add(*want)
			if total.Cmp(hard) > 0 {
				short = append(short, fmt.Sprintf("%s: %s requested %s, used %s, hard %s", rq.Name, name, want.String(), used.String(), hard.String()))
			}
		}
	}
	sort.Strings(short)
	return short, nil
}

// CheckPreviewQuota refuses a preview the namespace cannot hold now, before
// the update waits on pods that admission forbids (PreviewUp runs it; the
// HTTP API runs it before queueing, for a 422 at once). It says nothing
// when the cluster cannot be asked: the update then reports what happens.
func (m *Manager) CheckPreviewQuota(ctx context.Context, spec PreviewSpec) error {
	if m.opts.LaunchMode == ModeStub {
		return nil
	}
	values, err := spec.config(m.opts.Now())
	if err != nil {
		return nil
	}
	cfg, err := stacks.ParsePreviewConfig(stacks.MapSource{Values: values})
	if err != nil {
		return nil
	}
	return m.checkPreviewQuota(ctx, cfg)
}

// checkPreviewQuota is CheckPreviewQuota for a config PreviewUp parsed.
func (m *Manager) checkPreviewQuota(ctx context.Context, cfg *stacks.PreviewStackConfig) error {
	const op = "preview up"
	stack := PreviewStack(cfg.Launch)
	cs, ns, err := m.platformCluster(ctx, stacks.OutNamespace)
	if err != nil {
		return nil
	}
	// An update of a running preview needs room for one surge pod only.
	_, getErr := cs.AppsV1().Deployments(ns).Get(ctx, components.PreviewName(cfg.Launch), metav1.GetOptions{})
	need, err := previewNeed(cfg, getErr == nil)
	if err != nil {
		return nil
	}
	short, err := quotaShortfall(ctx, cs, ns, need)
	if err != nil || len(short) == 0 {
		return nil
	}
	return &Error{Kind: KindQuota, Op: op, Stack: stack, Reason: fmt.Sprintf(
		"namespace %s cannot fit this preview now (%s); destroy previews or raise the platform's previewQuota* settings", ns, strings.Join(short, "; "))}
}
