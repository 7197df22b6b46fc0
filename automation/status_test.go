package automation

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/version"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/apphub/apphub-infra/stacks"
)

// statusPlatform is a healthy platform with ARC and the API service, as
// the cluster holds it; mod breaks one part of it.
func statusPlatform(t *testing.T, registry string, mod func(objs []runtime.Object) []runtime.Object) *fake.Clientset {
	t.Helper()
	outs, err := json.Marshal(map[string]any{
		stacks.OutNamespace: "apphub", stacks.OutBuildNamespace: "apphub-builds", stacks.OutSystemNamespace: "apphub-system",
		stacks.OutARCControllerNamespace: "arc-systems", stacks.OutARCRunnersNamespace: "arc-runners",
		stacks.OutRunnerScaleSet: "apphub-runners", stacks.OutARCMinRunners: 1, stacks.OutARCMaxRunners: 5,
		stacks.OutServiceReplicas: 2, stacks.OutRegistryKind: stacks.RegistryExternal,
		stacks.OutRegistryPushAddress: registry + "/apps", stacks.OutRegistryInsecure: true,
		stacks.OutBuilderAddress: "tcp://apphub-buildkitd.apphub-builds.svc:1234",
	})
	require.NoError(t, err)
	ns := func(name string) runtime.Object {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}
	}
	labelled := func(ns, name, labels string) metav1.ObjectMeta {
		m := metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{}}
		for _, kv := range strings.Split(labels, ",") {
			k, v, _ := strings.Cut(kv, "=")
			m.Labels[k] = v
		}
		return m
	}
	two := int32(2)
	pod := func(ns, name, labels string) runtime.Object {
		return &corev1.Pod{ObjectMeta: labelled(ns, name, labels), Status: corev1.PodStatus{Phase: corev1.PodRunning,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}}
	}
	objs := []runtime.Object{
		platformCM("apphub-system", string(outs)),
		ns("apphub"), ns("apphub-builds"), ns("apphub-system"), ns("arc-systems"), ns("arc-runners"),
		&appsv1.StatefulSet{ObjectMeta: labelled("apphub-system", "apphub-redis-master", "app.kubernetes.io/name=redis"), Status: appsv1.StatefulSetStatus{ReadyReplicas: 1}},
		&appsv1.StatefulSet{ObjectMeta: labelled("apphub-builds", "apphub-buildkitd", "app.kubernetes.io/name=apphub-buildkitd"), Status: appsv1.StatefulSetStatus{ReadyReplicas: 1}},
		&appsv1.Deployment{ObjectMeta: labelled("apphub-system", "apphub-api", "app.kubernetes.io/component=api,app.kubernetes.io/part-of=apphub"),
			Spec: appsv1.DeploymentSpec{Replicas: &two}, Status: appsv1.DeploymentStatus{ReadyReplicas: 2}},
		&appsv1.Deployment{ObjectMeta: labelled("arc-systems", "arc-gha-rs-controller", "app.kubernetes.io/name=gha-rs-controller"), Status: appsv1.DeploymentStatus{ReadyReplicas: 1}},
		pod("arc-systems", "apphub-runners-listener", "app.kubernetes.io/component=runner-scale-set-listener,actions.github.com/scale-set-name=apphub-runners"),
		pod("arc-runners", "apphub-runners-abc-runner-x", "app.kubernetes.io/component=runner,actions.github.com/scale-set-name=apphub-runners"),
		&corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "apphub-quota", Namespace: "apphub"}, Status: corev1.ResourceQuotaStatus{
			Hard: corev1.ResourceList{corev1.ResourceLimitsCPU: resource.MustParse("8"), corev1.ResourceLimitsMemory: resource.MustParse("16Gi"),
				corev1.ResourceRequestsCPU: resource.MustParse("4"), corev1.ResourcePods: resource.MustParse("50")},
			Used: corev1.ResourceList{corev1.ResourceLimitsCPU: resource.MustParse("3"), corev1.ResourceLimitsMemory: resource.MustParse("1Gi"),
				corev1.ResourceRequestsCPU: resource.MustParse("600m"), corev1.ResourcePods: resource.MustParse("6")},
		}},
	}
	if mod != nil {
		objs = mod(objs)
	}
	cs := fake.NewClientset(objs...)
	cs.Discovery().(*fakediscovery.FakeDiscovery).FakedServerVersion = &version.Info{GitVersion: "v1.34.1"}
	return cs
}

// without drops the object named name.
func without(name string) func([]runtime.Object) []runtime.Object {
	return func(objs []runtime.Object) []runtime.Object {
		var out []runtime.Object
		for _, o := range objs {
			if o.(metav1.Object).GetName() != name {
				out = append(out, o)
			}
		}
		return out
	}
}

func TestPlatformStatusNamesWhatIsDown(t *testing.T) {
	registry := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(http.StatusUnauthorized) // it is there; it wants a login
	}))
	defer registry.Close()
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) }))
	defer broken.Close()
	host := func(s *httptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }
	notReady := func(name string) func(objs []runtime.Object) []runtime.Object {
		return func(objs []runtime.Object) []runtime.Object {
			for _, o := range objs {
				if s, ok := o.(*appsv1.StatefulSet); ok && s.Name == name {
					s.Status.ReadyReplicas = 0
				}
			}
			return objs
		}
	}
	tests := []struct {
		name     string
		registry string
		mod      func([]runtime.Object) []runtime.Object
		down     []string
		detail   string
	}{
		{"everything up", host(registry), nil, nil, ""},
		{"redis not ready", host(registry), notReady("apphub-redis-master"), []string{"redis"}, "StatefulSet apphub-redis-master 0/1 ready"},
		{"the builder not ready", host(registry), notReady("apphub-buildkitd"), []string{"builder"}, "StatefulSet apphub-buildkitd 0/1 ready"},
		{"registry answering 502", host(broken), nil, []string{"registry"}, "502 Bad Gateway"},
		{"no runner below the minimum", host(registry), without("apphub-runners-abc-runner-x"), []string{"arc runners"}, "0 running, bounds 1-5"},
		{"no listener", host(registry), without("apphub-runners-listener"), []string{"arc listener"}, "0 ready for scale set apphub-runners"},
		{"a namespace gone", host(registry), without("apphub-builds"), []string{"namespace apphub-builds"}, "not found"},
		{"the API service short of a replica", host(registry), func(objs []runtime.Object) []runtime.Object {
			for _, o := range objs {
				if d, ok := o.(*appsv1.Deployment); ok && d.Name == "apphub-api" {
					d.Status.ReadyReplicas = 1
				}
			}
			return objs
		}, []string{"api service"}, "Deployment apphub-api 1/2 ready"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := clusterManager(t, statusPlatform(t, tt.registry, tt.mod), "", "")
			s, err := m.PlatformStatus(context.Background())
			require.NotNil(t, s)
			assert.Equal(t, tt.down, s.Down)
			assert.Equal(t, 10, s.PreviewsThatFit, "limits.cpu: (8 - 3) / 500m")
			if tt.down == nil {
				require.NoError(t, err)
				assert.Len(t, s.Checks, 14)
				assert.True(t, strings.HasPrefix(s.Checks[0].Detail, "Kubernetes v1.34.1 ("), s.Checks[0].Detail)
				return
			}
			require.Error(t, err)
			assert.True(t, IsFailed(err))
			assert.Contains(t, err.Error(), "down: "+strings.Join(tt.down, ", "))
			for _, c := range s.Checks {
				if c.Name == tt.down[0] {
					assert.Contains(t, c.Detail, tt.detail)
				}
			}
		})
	}
}

func TestPlatformStatusWithoutACluster(t *testing.T) {
	o := Options{KubeClient: func(string, string) (kubernetes.Interface, error) { return nil, errors.New("no route to host") }}
	require.NoError(t, o.connectionDefaults())
	s, err := (&Manager{opts: o}).PlatformStatus(context.Background())
	require.Error(t, err)
	assert.Equal(t, []string{"cluster"}, s.Down)
	assert.Contains(t, s.Checks[0].Detail, "unreachable")
	assert.Contains(t, s.Checks[0].Detail, "no route to host")
}

// k3d's registry is reached as <name>.localhost:<port> from the host; the
// probe goes to loopback itself (RFC 6761) instead of trusting the resolver.
func TestPlatformStatusProbesALocalhostRegistryOnLoopback(t *testing.T) {
	registry := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	defer registry.Close()
	_, port, _ := strings.Cut(strings.TrimPrefix(registry.URL, "http://"), ":")
	cs := statusPlatform(t, "unused", nil)
	cm, err := cs.CoreV1().ConfigMaps("apphub-system").Get(context.Background(), stacks.PlatformConfigMap, metav1.GetOptions{})
	require.NoError(t, err)
	var outs map[string]any
	require.NoError(t, json.Unmarshal([]byte(cm.Data[stacks.PlatformOutputsKey]), &outs))
	outs[stacks.OutRegistryKind], outs[stacks.OutRegistryHostAddress] = stacks.RegistryK3d, "apphub-registry.localhost:"+port
	b, err := json.Marshal(outs)
	require.NoError(t, err)
	cm.Data[stacks.PlatformOutputsKey] = string(b)
	_, err = cs.CoreV1().ConfigMaps("apphub-system").Update(context.Background(), cm, metav1.UpdateOptions{})
	require.NoError(t, err)
	s, err := clusterManager(t, cs, "", "").PlatformStatus(context.Background())
	require.NoError(t, err, "%+v", s)
	for _, c := range s.Checks {
		if c.Name == "registry" {
			assert.Equal(t, "http://127.0.0.1:"+port+"/v2/ answered 200 OK", c.Detail)
		}
	}
}
