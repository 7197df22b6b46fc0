package automation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/apphub/apphub-infra/stacks"
)

// Preview and build operations read the platform from one place: the
// ConfigMap the platform stack writes in its system namespace
// (stacks.PlatformConfigMap), through the Manager's own cluster connection
// — a kubeconfig for the CLI, the pod's identity for the in-cluster
// service. It is read afresh for every operation, so the operation after
// a platform change sees the change; nothing is cached.

// platformKey holds an operation's copy of the platform in its context.
type platformKey struct{}

// withPlatform reads the platform once for an operation: its checks
// (limits, quota), its stack's config and its watches all see that copy.
func (m *Manager) withPlatform(ctx context.Context, op, stack string) (context.Context, error) {
	outs, err := m.readPlatform(ctx)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Op, e.Stack = op, stack
		}
		return ctx, err
	}
	return context.WithValue(ctx, platformKey{}, outs), nil
}

// platformOutputs is the operation's copy of the platform, else a fresh read.
func (m *Manager) platformOutputs(ctx context.Context) (map[string]any, error) {
	if outs, ok := ctx.Value(platformKey{}).(map[string]any); ok {
		return outs, nil
	}
	return m.readPlatform(ctx)
}

// readPlatform reads the platform's ConfigMap.
func (m *Manager) readPlatform(ctx context.Context) (map[string]any, error) {
	const op = "platform read"
	ns, name := m.opts.PlatformNamespace, stacks.PlatformConfigMap
	where := fmt.Sprintf("ConfigMap %s/%s", ns, name)
	cs, err := m.kube(m.opts.Kubeconfig, m.opts.KubeContext)
	if err != nil {
		return nil, &Error{Kind: KindInvalid, Op: op, Reason: fmt.Sprintf("cannot connect to the platform's cluster (%s): %v", m.connectionName(), err), Err: err}
	}
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, &Error{Kind: KindNotFound, Op: op, Err: err, Reason: fmt.Sprintf(
			"no platform found: %s does not exist (%s); deploy the platform (pulumi up), or point at its cluster and namespace with --kubeconfig, --context and --platform-namespace", where, m.connectionName())}
	case err != nil:
		return nil, classify(ctx, op, "", fmt.Errorf("reading the platform's %s (%s): %w", where, m.connectionName(), err), nil)
	}
	raw, ok := cm.Data[stacks.PlatformOutputsKey]
	if !ok {
		return nil, &Error{Kind: KindFailed, Op: op, Reason: fmt.Sprintf("%s has no key %s: update the platform (pulumi up)", where, stacks.PlatformOutputsKey)}
	}
	outs, err := stacks.ParsePlatformOutputs(raw)
	if err != nil {
		return nil, &Error{Kind: KindFailed, Op: op, Reason: fmt.Sprintf("%s: %v", where, err), Err: err}
	}
	return outs, nil
}

// connectionName says which cluster the Manager talks to, for errors.
func (m *Manager) connectionName() string {
	switch {
	case m.opts.Kubeconfig != "" && m.opts.KubeContext != "":
		return fmt.Sprintf("kubeconfig %s, context %q", m.opts.Kubeconfig, m.opts.KubeContext)
	case m.opts.Kubeconfig != "":
		return "kubeconfig " + m.opts.Kubeconfig + ", its current context"
	case m.opts.KubeContext != "":
		return fmt.Sprintf("context %q of the default kubeconfig", m.opts.KubeContext)
	}
	return "the default kubeconfig's current context, or the pod's identity in a cluster"
}

// withPlatformOutputs hands a preview or build stack the operation's copy
// of the platform as config, with the Manager's own connection: the
// stack's provider talks to the cluster the Manager read the platform
// from (a kubeconfig path and context, or, with neither, the same defaults
// client-go applied).
func (m *Manager) withPlatformOutputs(ctx context.Context, cfg map[string]string) error {
	outs, err := m.platformOutputs(ctx)
	if err != nil {
		return err
	}
	given := maps.Clone(outs)
	delete(given, stacks.OutKubeconfig)
	delete(given, stacks.OutKubeContext)
	if m.opts.Kubeconfig != "" {
		given[stacks.OutKubeconfig] = m.opts.Kubeconfig
	}
	if m.opts.KubeContext != "" {
		given[stacks.OutKubeContext] = m.opts.KubeContext
	}
	b, err := json.Marshal(given)
	if err != nil {
		return fmt.Errorf("platform outputs: %w", err)
	}
	cfg["platformOutputs"] = string(b)
	return nil
}
