package automation

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/apphub/apphub-infra/components"
	"github.com/apphub/apphub-infra/stacks"
)

// PlatformStatus is each part of the platform checked against the cluster
// as it is now: what `apphubctl platform status` prints.
type PlatformStatus struct {
	Checks []StatusCheck `json:"checks"`
	// PreviewsThatFit is how many more previews of the default size the
	// preview namespace's quota admits now; -1 when it has no quota.
	PreviewsThatFit int `json:"previewsThatFit"`
	// Down names the checks that failed.
	Down []string `json:"down,omitempty"`
}

// StatusCheck is one part of the platform.
type StatusCheck struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

func (s *PlatformStatus) add(name string, ok bool, format string, args ...any) {
	s.Checks = append(s.Checks, StatusCheck{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
	if !ok {
		s.Down = append(s.Down, name)
	}
}

// registryProbe is how long the registry may take to answer.
const registryProbe = 5 * time.Second

// PlatformStatus checks the cluster, the platform's namespaces, Redis, the
// registry, the runners (when ARC is on), the API service (when deployed)
// and how many default previews still fit. When something is down the
// status comes with a Failed error naming it.
func (m *Manager) PlatformStatus(ctx context.Context) (*PlatformStatus, error) {
	const op = "platform status"
	s := &PlatformStatus{PreviewsThatFit: -1}
	cs, err := m.kube(m.opts.Kubeconfig, m.opts.KubeContext)
	if err == nil {
		var v fmt.Stringer
		if v, err = cs.Discovery().ServerVersion(); err == nil {
			s.add("cluster", true, "Kubernetes %s (%s)", v, m.connectionName())
		}
	}
	if err != nil {
		s.add("cluster", false, "unreachable (%s): %v", m.connectionName(), err)
		return s, s.err(op)
	}
	outs, err := m.platformOutputs(ctx)
	if err != nil {
		s.add("platform", false, "%v", err)
		return s, err
	}
	str := func(k string) string { v, _ := outs[k].(string); return v }
	num := func(k string) int { v, _ := outs[k].(float64); return int(v) }
	for _, k := range []string{stacks.OutNamespace, stacks.OutBuildNamespace, stacks.OutSystemNamespace, stacks.OutARCControllerNamespace, stacks.OutARCRunnersNamespace} {
		if ns := str(k); ns != "" {
			statusNamespace(ctx, cs, s, ns)
		}
	}
	system := str(stacks.OutSystemNamespace)
	statusWorkloads(ctx, cs, s, "redis", system, "app.kubernetes.io/name=redis", 1)
	m.statusRegistry(ctx, cs, s, outs)
	if str(stacks.OutBuilderAddress) != "" {
		statusWorkloads(ctx, cs, s, "builder", str(stacks.OutBuildNamespace), components.LabelName+"="+components.BuilderName, 1)
	}
	if set := str(stacks.OutRunnerScaleSet); set != "" {
		statusRunners(ctx, cs, s, set, str(stacks.OutARCControllerNamespace), str(stacks.OutARCRunnersNamespace), num(stacks.OutARCMinRunners), num(stacks.OutARCMaxRunners))
	}
	if n := num(stacks.OutServiceReplicas); n > 0 {
		statusWorkloads(ctx, cs, s, "api service", system, components.LabelComponent+"=api,"+components.LabelPartOf+"="+components.PartOf, n)
	}
	m.statusQuota(ctx, cs, s, str(stacks.OutNamespace))
	return s, s.err(op)
}

// err is the Failed error naming what is down, or nil.
func (s *PlatformStatus) err(op string) error {
	if len(s.Down) == 0 {
		return nil
	}
	return &Error{Kind: KindFailed, Op: op, Reason: "down: " + strings.Join(s.Down, ", ")}
}

func statusNamespace(ctx context.Context, cs kubernetes.Interface, s *PlatformStatus, name string) {
	ns, err := cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	switch {
	case err != nil:
		s.add("namespace "+name, false, "%v", err)
	case ns.Status.Phase != corev1.NamespaceActive:
		s.add("namespace "+name, false, "%s", ns.Status.Phase)
	default:
		s.add("namespace "+name, true, "Active")
	}
}

// statusWorkloads checks the Deployments and StatefulSets sel matches in
// ns: at least want replicas ready in all, and every one fully ready.
func statusWorkloads(ctx context.Context, cs kubernetes.Interface, s *PlatformStatus, name, ns, sel string, want int) {
	opts := metav1.ListOptions{LabelSelector: sel}
	deps, err := cs.AppsV1().Deployments(ns).List(ctx, opts)
	if err != nil {
		s.add(name, false, "%v", err)
		return
	}
	sets, err := cs.AppsV1().StatefulSets(ns).List(ctx, opts)
	if err != nil {
		s.add(name, false, "%v", err)
		return
	}
	var ready, desired int32
	var parts []string
	for _, d := range deps.Items {
		ready, desired = ready+d.Status.ReadyReplicas, desired+replicas(d.Spec.Replicas)
		parts = append(parts, fmt.Sprintf("Deployment %s %d/%d ready", d.Name, d.Status.ReadyReplicas, replicas(d.Spec.Replicas)))
	}
	for _, st := range sets.Items {
		ready, desired = ready+st.Status.ReadyReplicas, desired+replicas(st.Spec.Replicas)
		parts = append(parts, fmt.Sprintf("StatefulSet %s %d/%d ready", st.Name, st.Status.ReadyReplicas, replicas(st.Spec.Replicas)))
	}
	if len(parts) == 0 {
		s.add(name, false, "nothing in namespace %s matches %s", ns, sel)
		return
	}
	s.add(name, ready >= desired && int(ready) >= want, "%s", strings.Join(parts, ", "))
}

func replicas(n *int32) int32 {
	if n == nil {
		return 1
	}
	return *n
}

// statusRegistry: the in-cluster registry's Deployment, or any other
// registry's /v2/ endpoint answering (401 included: it is there).
func (m *Manager) statusRegistry(ctx context.Context, cs kubernetes.Interface, s *PlatformStatus, outs map[string]any) {
	kind, _ := outs[stacks.OutRegistryKind].(string)
	if kind == stacks.RegistryInCluster {
		system, _ := outs[stacks.OutSystemNamespace].(string)
		statusWorkloads(ctx, cs, s, "registry", system, components.LabelComponent+"=registry,"+components.LabelPartOf+"="+components.PartOf, 1)
		return
	}
	host, _ := outs[stacks.OutRegistryHostAddress].(string)
	if host == "" {
		host, _ = outs[stacks.OutRegistryPushAddress].(string)
	}
	host, _, _ = strings.Cut(host, "/")
	// RFC 6761: *.localhost is this machine (k3d's registry name), which
	// Go's resolver does not assume.
	if h, port, err := net.SplitHostPort(host); err == nil && strings.HasSuffix(h, ".localhost") {
		host = net.JoinHostPort("127.0.0.1", port)
	}
	scheme := "https"
	if insecure, _ := outs[stacks.OutRegistryInsecure].(bool); insecure {
		scheme = "http"
	}
	url := scheme + "://" + host + "/v2/"
	ctx, cancel := context.WithTimeout(ctx, registryProbe)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		s.add("registry", false, "%s: %v", url, err)
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.add("registry", false, "%s: %v", url, err)
		return
	}
	resp.Body.Close()
	ok := resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized
	s.add("registry", ok, "%s answered %s", url, resp.Status)
}

// statusRunners: the ARC controller, the scale set's listener, and its
// runner pods within the scale set's bounds.
func statusRunners(ctx context.Context, cs kubernetes.Interface, s *PlatformStatus, set, controllerNS, runnersNS string, min, max int) {
	statusWorkloads(ctx, cs, s, "arc controller", controllerNS, "app.kubernetes.io/name=gha-rs-controller", 1)
	listeners, err := readyPods(ctx, cs, controllerNS, "app.kubernetes.io/component=runner-scale-set-listener,actions.github.com/scale-set-name="+set)
	switch {
	case err != nil:
		s.add("arc listener", false, "%v", err)
	default:
		s.add("arc listener", listeners > 0, "%d ready for scale set %s", listeners, set)
	}
	runners, err := readyPods(ctx, cs, runnersNS, "app.kubernetes.io/component=runner,actions.github.com/scale-set-name="+set)
	if err != nil {
		s.add("arc runners", false, "%v", err)
		return
	}
	s.add("arc runners", runners >= min && runners <= max, "%d running, bounds %d-%d", runners, min, max)
}

func readyPods(ctx context.Context, cs kubernetes.Interface, ns, sel string) (int, error) {
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning && podReady(p) {
			n++
		}
	}
	return n, nil
}

// statusQuota counts how many more previews of the default size the
// preview namespace's quotas admit.
func (m *Manager) statusQuota(ctx context.Context, cs kubernetes.Interface, s *PlatformStatus, ns string) {
	values, err := PreviewSpec{Launch: "status", Image: "registry.invalid/status:1"}.config(time.Now())
	if err != nil {
		s.add("preview quota", false, "%v", err)
		return
	}
	cfg, err := stacks.ParsePreviewConfig(stacks.MapSource{Values: values})
	if err != nil {
		s.add("preview quota", false, "%v", err)
		return
	}
	need, err := previewNeed(cfg, false)
	if err != nil {
		s.add("preview quota", false, "%v", err)
		return
	}
	fit, limits, err := previewsThatFit(ctx, cs, ns, need)
	switch {
	case err != nil:
		s.add("preview quota", false, "%v", err)
	case fit < 0:
		s.add("preview quota", true, "namespace %s has no quota", ns)
	default:
		s.PreviewsThatFit = fit
		s.add("preview quota", true, "%d more default previews fit (limited by %s)", fit, strings.Join(limits, ", "))
	}
}

// previewsThatFit divides what each quota of ns has left by what one
// preview needs; -1 when ns has no quota. limits names the resources
// that bound the answer.
func previewsThatFit(ctx context.Context, cs kubernetes.Interface, ns string, need podNeed) (int, []string, error) {
	quotas, err := cs.CoreV1().ResourceQuotas(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, nil, fmt.Errorf("reading the quota of namespace %s: %w", ns, err)
	}
	fit, bound := -1, map[string]int{}
	for _, rq := range quotas.Items {
		for name, want := range need.byResource() {
			hard, ok := rq.Status.Hard[name]
			if !ok || want == nil || want.MilliValue() <= 0 {
				continue
			}
			used := rq.Status.Used[name]
			n := int((hard.MilliValue() - used.MilliValue()) / want.MilliValue())
			if n < 0 {
				n = 0
			}
			bound[string(name)] = n
			if fit < 0 || n < fit {
				fit = n
			}
		}
	}
	var limits []string
	for name, n := range bound {
		if n == fit {
			limits = append(limits, name)
		}
	}
	sort.Strings(limits)
	return fit, limits, nil
}
