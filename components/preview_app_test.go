package components

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	tIngress       = "kubernetes:networking.k8s.io/v1:Ingress"
	tNetworkPolicy = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
	tJob           = "kubernetes:batch/v1:Job"
)

func previewArgs(mod func(*PreviewAppArgs)) *PreviewAppArgs {
	a := &PreviewAppArgs{
		Launch: "pr-42", Namespace: "apphub", Image: "apphub-registry:5000/apps/web:abc123",
		Port: 8080, Replicas: 2, Env: map[string]string{"ZED": "1", "ALPHA": "2"},
		Resources:  ContainerResources{CPURequest: "100m", MemoryRequest: "128Mi", CPULimit: "500m", MemoryLimit: "512Mi"},
		HealthPath: "/healthz", ServiceAccount: "apphub-preview", ImagePullSecret: "apphub-registry",
		IngressClass: "traefik", URL: "https://pr-42.preview.local", Host: "pr-42.preview.local", Path: "/",
		TLSSecret: "wildcard", IngressNamespace: "kube-system",
		Egress:    []EgressRule{{CIDR: "10.0.0.0/8", Port: 5432}},
		ExpiresAt: "2026-11-23T12:00:00Z", ReadyTimeout: 120,
	}
	if mod != nil {
		mod(a)
	}
	return a
}

func TestPreviewAppDeployment(t *testing.T) {
	m, err := run(t, func(ctx *pulumi.Context) error {
		app, err := NewPreviewApp(ctx, "preview", previewArgs(nil))
		if err != nil {
			return err
		}
		assert.Equal(t, "https://pr-42.preview.local", await(t, ctx, app.URL).Value)
		assert.Equal(t, "preview-pr-42", await(t, ctx, app.ServiceName).Value)
		assert.Equal(t, "apphub", await(t, ctx, app.Namespace).Value)
		return nil
	})
	require.NoError(t, err)
	dep := m.Find(t, tDeployment, "preview")
	assertParent(t, dep, PreviewAppType, "preview")
	assert.Equal(t, "preview-pr-42", dep.Str("metadata.name"))
	assert.Equal(t, "apphub", dep.Str("metadata.namespace"))
	assert.Equal(t, "pr-42", dep.Str("metadata.labels[apphub.io/launch]"))
	assert.Equal(t, "preview-pr-42", dep.Str("metadata.labels[app.kubernetes.io/instance]"))
	assert.Equal(t, "pulumi", dep.Str("metadata.labels[app.kubernetes.io/managed-by]"))
	assert.Equal(t, "2026-11-23T12:00:00Z", dep.Str("metadata.annotations[apphub.io/expires-at]"))
	assert.Equal(t, "foreground", dep.Str("metadata.annotations[pulumi.com/deletionPropagationPolicy]"), "a destroy waits for the pods")
	assert.Equal(t, float64(2), dep.Num("spec.replicas"))
	assert.Equal(t, float64(120), dep.Num("spec.progressDeadlineSeconds"), "the platform's ready timeout")
	assert.Equal(t, map[string]any{"app.kubernetes.io/instance": "preview-pr-42"}, dep.Plain("spec.selector.matchLabels"))

	pod := "spec.template.spec."
	assert.Equal(t, "apphub-preview", dep.Str(pod+"serviceAccountName"))
	automount, set := dep.Bool(pod + "automountServiceAccountToken")
	assert.True(t, set)
	assert.False(t, automount)
	assert.Equal(t, "apphub-registry", dep.Str(pod+"imagePullSecrets.0.name"))
	// Pod Security "restricted".
	assert.Equal(t, map[string]any{
		"runAsNonRoot": true, "runAsUser": float64(10001), "runAsGroup": float64(10001), "fsGroup": float64(10001),
		"seccompProfile": map[string]any{"type": "RuntimeDefault"},
	}, dep.Plain(pod+"securityContext"))
	c := pod + "containers.0."
	assert.Equal(t, map[string]any{
		"allowPrivilegeEscalation": false, "runAsNonRoot": true,
		"capabilities":   map[string]any{"drop": []any{"ALL"}},
		"seccompProfile": map[string]any{"type": "RuntimeDefault"},
	}, dep.Plain(c+"securityContext"))
	assert.Equal(t, "apphub-registry:5000/apps/web:abc123", dep.Str(c+"image"))
	assert.Equal(t, float64(8080), dep.Num(c+"ports.0.containerPort"))
	assert.Equal(t, "/healthz", dep.Str(c+"readinessProbe.httpGet.path"))
	assert.Equal(t, map[string]any{"preStop": map[string]any{"sleep": map[string]any{"seconds": float64(5)}}}, dep.Plain(c+"lifecycle"),
		"a replaced pod serves on until the ingress has dropped it")
	assert.Equal(t, map[string]any{"cpu": "100m", "memory": "128Mi"}, dep.Plain(c+"resources.requests"))
	var names []string
	for _, e := range dep.Plain(c + "env").([]any) {
		names = append(names, e.(map[string]any)["name"].(string))
	}
	assert.Equal(t, []string{"PORT", "APPHUB_LAUNCH_ID", "APPHUB_PUBLIC_URL", "APPHUB_BASE_PATH", "ALPHA", "ZED"}, names, "env in a stable order")
}

func TestPreviewAppServiceIngressPolicy(t *testing.T) {
	m, err := run(t, func(ctx *pulumi.Context) error {
		_, err := NewPreviewApp(ctx, "preview", previewArgs(nil))
		return err
	})
	require.NoError(t, err)
	svc := m.Find(t, tService, "preview")
	assert.Equal(t, map[string]any{"app.kubernetes.io/instance": "preview-pr-42"}, svc.Plain("spec.selector"))
	assert.Equal(t, map[string]any{"name": "http", "port": float64(80), "targetPort": "http", "protocol": "TCP"}, svc.Plain("spec.ports.0"))
	assert.Equal(t, "true", svc.Str("metadata.annotations[pulumi.com/skipAwait]"), "the Deployment and Ingress awaits prove readiness")
	assert.False(t, m.Find(t, tDeployment, "preview").Has("metadata.annotations[pulumi.com/skipAwait]"), "the Deployment is awaited")
	assert.False(t, m.Find(t, tIngress, "preview").Has("metadata.annotations[pulumi.com/skipAwait]"), "the Ingress is awaited")

	// Every object of the launch applies as one field manager, whatever
	// attempt of the update creates it.
	for _, typ := range []string{tDeployment, tService, tIngress, tNetworkPolicy} {
		assert.Equal(t, "apphub-preview-pr-42", m.Find(t, typ, "preview").Str("metadata.annotations[pulumi.com/patchFieldManager]"), typ)
	}

	ing := m.Find(t, tIngress, "preview")
	assert.Equal(t, "traefik", ing.Str("spec.ingressClassName"))
	assert.Equal(t, "pr-42.preview.local", ing.Str("spec.rules.0.host"))
	assert.Equal(t, "/", ing.Str("spec.rules.0.http.paths.0.path"))
	assert.Equal(t, "Prefix", ing.Str("spec.rules.0.http.paths.0.pathType"))
	assert.Equal(t, "preview-pr-42", ing.Str("spec.rules.0.http.paths.0.backend.service.name"))
	assert.Equal(t, map[string]any{"hosts": []any{"pr-42.preview.local"}, "secretName": "wildcard"}, ing.Plain("spec.tls.0"))
	assert.NotContains(t, ing.Dependencies, svc.URN, "the Ingress is not chained behind the Service's await")

	np := m.Find(t, tNetworkPolicy, "preview")
	assert.Equal(t, []string{"Ingress", "Egress"}, np.Strings("spec.policyTypes"))
	assert.Equal(t, map[string]any{"kubernetes.io/metadata.name": "kube-system"}, np.Plain("spec.ingress.0.from.0.namespaceSelector.matchLabels"))
	assert.Equal(t, map[string]any{"protocol": "TCP", "port": float64(8080)}, np.Plain("spec.ingress.0.ports.0"))
	assert.Len(t, np.Plain("spec.ingress"), 1, "nothing else may reach the preview")
	assert.Equal(t, map[string]any{"k8s-app": "kube-dns"}, np.Plain("spec.egress.0.to.0.podSelector.matchLabels"))
	assert.Equal(t, []any{
		map[string]any{"protocol": "UDP", "port": float64(53)},
		map[string]any{"protocol": "TCP", "port": float64(53)},
	}, np.Plain("spec.egress.0.ports"))
	assert.Equal(t, "10.0.0.0/8", np.Str("spec.egress.1.to.0.ipBlock.cidr"))
	assert.Equal(t, float64(5432), np.Num("spec.egress.1.ports.0.port"))
	assert.Len(t, np.Plain("spec.egress"), 2)
}

func TestPreviewAppPathStyleNoTLSNoTTL(t *testing.T) {
	m, err := run(t, func(ctx *pulumi.Context) error {
		_, err := NewPreviewApp(ctx, "preview", previewArgs(func(a *PreviewAppArgs) {
			a.URL, a.Host, a.Path = "http://preview.minikube.local/pr-42", "preview.minikube.local", "/pr-42"
			a.TLSSecret, a.ExpiresAt, a.HealthPath, a.ImagePullSecret, a.Egress = "", "", "", "", nil
			a.ReadyTimeout = 0
		}))
		return err
	})
	require.NoError(t, err)
	ing := m.Find(t, tIngress, "preview")
	assert.Equal(t, "/pr-42", ing.Str("spec.rules.0.http.paths.0.path"))
	assert.False(t, ing.Has("spec.tls"))
	dep := m.Find(t, tDeployment, "preview")
	assert.False(t, dep.Has("metadata.annotations[apphub.io/expires-at]"))
	assert.Equal(t, "http", dep.Str("spec.template.spec.containers.0.readinessProbe.tcpSocket.port"), "no health path: TCP check")
	assert.False(t, dep.Has("spec.template.spec.imagePullSecrets"))
	assert.False(t, dep.Has("spec.progressDeadlineSeconds"), "a platform without the setting: Kubernetes' default")
	env := dep.Plain("spec.template.spec.containers.0.env").([]any)
	assert.Contains(t, env, map[string]any{"name": "APPHUB_BASE_PATH", "value": "/pr-42"})
	assert.Len(t, m.Find(t, tNetworkPolicy, "preview").Plain("spec.egress"), 1, "DNS only")
}
