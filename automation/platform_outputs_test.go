package automation

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/apphub/apphub-infra/stacks"
)

// platformCM is the platform's ConfigMap holding data under the outputs key.
func platformCM(ns, data string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: stacks.PlatformConfigMap, Namespace: ns},
		Data:       map[string]string{stacks.PlatformOutputsKey: data},
	}
}

// clusterManager is a Manager whose cluster is cs, reached through the
// given connection.
func clusterManager(t *testing.T, cs kubernetes.Interface, kubeconfig, kubeContext string) *Manager {
	t.Helper()
	o := Options{Kubeconfig: kubeconfig, KubeContext: kubeContext,
		KubeClient: func(string, string) (kubernetes.Interface, error) { return cs, nil }}
	require.NoError(t, o.connectionDefaults())
	return &Manager{opts: o}
}

// Every operation reads the platform's ConfigMap afresh: a change made
// between two operations is what the second one hands its stack.
func TestPlatformReadFreshForEachOperation(t *testing.T) {
	cs := fake.NewClientset(platformCM("apphub-system", `{"namespace":"apphub","buildTimeoutSeconds":900}`))
	m := clusterManager(t, cs, "", "")
	config := func() map[string]any {
		ctx, err := m.withPlatform(t.Context(), "build run", "build-b-1")
		require.NoError(t, err)
		cfg := map[string]string{"buildId": "b-1"}
		require.NoError(t, m.withPlatformOutputs(ctx, cfg))
		var got map[string]any
		require.NoError(t, json.Unmarshal([]byte(cfg["platformOutputs"]), &got))
		assert.Equal(t, "b-1", cfg["buildId"], "the rest of the config stays")
		return got
	}
	assert.Equal(t, map[string]any{"namespace": "apphub", "buildTimeoutSeconds": float64(900)}, config())

	_, err := cs.CoreV1().ConfigMaps("apphub-system").Update(t.Context(),
		platformCM("apphub-system", `{"namespace":"apphub","buildTimeoutSeconds":60}`), metav1.UpdateOptions{})
	require.NoError(t, err)
	assert.Equal(t, float64(60), config()["buildTimeoutSeconds"], "the next operation sees the change")
}

// Within one operation the platform is read once: the checks, the stack's
// config and the watches all see one copy.
func TestPlatformReadOncePerOperation(t *testing.T) {
	cs := fake.NewClientset(platformCM("apphub-system", `{"namespace":"apphub"}`))
	m := clusterManager(t, cs, "", "")
	ctx, err := m.withPlatform(t.Context(), "preview up", "preview-a")
	require.NoError(t, err)
	for range 3 {
		outs, err := m.platformOutputs(ctx)
		require.NoError(t, err)
		assert.Equal(t, "apphub", outs["namespace"])
	}
	require.NoError(t, m.withPlatformOutputs(ctx, map[string]string{}))
	assert.Len(t, cs.Actions(), 1, "one GET of the ConfigMap")
}

// The stack's provider gets the Manager's own connection, whatever the
// platform's outputs say about theirs.
func TestPlatformOutputsCarryTheManagersConnection(t *testing.T) {
	data := `{"namespace":"apphub","kubeconfig":"/home/op/.kube/platform","kubeContext":"k3d-apphub"}`
	tests := []struct {
		name, kubeconfig, kubeContext string
		want                          map[string]any
	}{
		{"defaults: nothing, as client-go resolves it", "", "", map[string]any{"namespace": "apphub"}},
		{"a context", "", "prod", map[string]any{"namespace": "apphub", "kubeContext": "prod"}},
		{"a kubeconfig and a context", "/etc/kube/config", "prod",
			map[string]any{"namespace": "apphub", "kubeconfig": "/etc/kube/config", "kubeContext": "prod"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := clusterManager(t, fake.NewClientset(platformCM("apphub-system", data)), tt.kubeconfig, tt.kubeContext)
			cfg := map[string]string{}
			require.NoError(t, m.withPlatformOutputs(t.Context(), cfg))
			var got map[string]any
			require.NoError(t, json.Unmarshal([]byte(cfg["platformOutputs"]), &got))
			assert.Equal(t, tt.want, got)
		})
	}
}

// A platform that cannot be read fails the operation before anything is
// created, naming what was looked for and where.
func TestPlatformReadFailsClosed(t *testing.T) {
	tests := []struct {
		name    string
		objects []*corev1.ConfigMap
		kind    ErrorKind
		reason  []string
	}{
		{"no platform", nil, KindNotFound,
			[]string{"ConfigMap apphub-system/apphub-platform", "context \"prod\"", "--platform-namespace"}},
		{"another namespace's", []*corev1.ConfigMap{platformCM("elsewhere", `{}`)}, KindNotFound,
			[]string{"apphub-system/apphub-platform does not exist"}},
		{"no outputs key", []*corev1.ConfigMap{{ObjectMeta: metav1.ObjectMeta{Name: stacks.PlatformConfigMap, Namespace: "apphub-system"}}},
			KindFailed, []string{"has no key outputs.json"}},
		{"not an object", []*corev1.ConfigMap{platformCM("apphub-system", `["apphub"]`)}, KindFailed,
			[]string{"must be a JSON object"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := fake.NewClientset()
			for _, cm := range tt.objects {
				_, err := cs.CoreV1().ConfigMaps(cm.Namespace).Create(t.Context(), cm, metav1.CreateOptions{})
				require.NoError(t, err)
			}
			m := clusterManager(t, cs, "", "prod")
			_, err := m.withPlatform(t.Context(), "preview up", "preview-a")
			require.Error(t, err)
			assert.Equal(t, tt.kind, KindOf(err))
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, "preview up", e.Op)
			assert.Equal(t, "preview-a", e.Stack)
			for _, s := range tt.reason {
				assert.Contains(t, e.Reason, s)
			}
		})
	}
}

// The kubeconfig travels to every stack's config, so it must be a path.
func TestKubeconfigOptionIsAPath(t *testing.T) {
	o := Options{Kubeconfig: "apiVersion: v1\nkind: Config\nclusters: []\n"}
	err := o.connectionDefaults()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Kubeconfig must be a path")

	o = Options{Kubeconfig: "kube/config"}
	require.NoError(t, o.connectionDefaults())
	assert.True(t, len(o.Kubeconfig) > len("kube/config") && o.Kubeconfig[0] == '/', "made absolute: %s", o.Kubeconfig)
	assert.Equal(t, "apphub-system", o.PlatformNamespace)
}
