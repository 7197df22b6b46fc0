//go:build cluster

package kubetier

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// kubectl runs kubectl against $KUBECONFIG; stdin is optional.
func kubectl(t testing.TB, stdin []byte, args ...string) (string, error) {
	t.Helper()
	return Kubectl(context.Background(), stdin, args...) // also runs from Cleanup, after t.Context is done
}

func mustKubectl(t testing.TB, stdin []byte, args ...string) string {
	t.Helper()
	out, err := kubectl(t, stdin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// requireCluster fails unless KUBECONFIG reaches an API server: this tier
// is switched on explicitly, so an unreachable cluster is an error.
func requireCluster(t testing.TB) {
	t.Helper()
	if os.Getenv("KUBECONFIG") == "" {
		t.Fatal("KUBECONFIG is not set: start ../shared/kube/up.sh (or point it at a k3d cluster)")
	}
	if _, err := kubectl(t, nil, "get", "--raw", "/readyz"); err != nil {
		t.Fatalf("cluster unreachable: %v", err)
	}
}

// apply server-side applies objects as Pulumi's provider does.
func apply(t testing.TB, objs []Object) error {
	return Apply(context.Background(), objs)
}

// poll retries fn until it returns nil or the timeout passes.
func poll(t testing.TB, what string, timeout time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = fn(); err == nil {
			return
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("%s: not reached within %s: %v", what, timeout, err)
}

// jsonpath reads fields of objects; ref may carry a selector ("pods -l a=b").
func jsonpath(t testing.TB, ns, ref, path string) string {
	args := append(append([]string{"get"}, strings.Fields(ref)...), "-o", "jsonpath="+path)
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	out, _ := kubectl(t, nil, args...)
	return strings.TrimSpace(out)
}

// canI asks the API server, through a SubjectAccessReview, whether a
// service account may do something.
func canI(t testing.TB, ns, sa, verb, resource, subresource, group, inNamespace, name string) bool {
	t.Helper()
	attrs := map[string]any{"verb": verb, "resource": resource, "group": group}
	if inNamespace != "" {
		attrs["namespace"] = inNamespace
	}
	if subresource != "" {
		attrs["subresource"] = subresource
	}
	if name != "" {
		attrs["name"] = name
	}
	review := map[string]any{
		"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
		"spec": map[string]any{
			"user":               "system:serviceaccount:" + ns + ":" + sa,
			"groups":             []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
			"resourceAttributes": attrs,
		},
	}
	b, _ := json.Marshal(review)
	out := mustKubectl(t, b, "create", "-f", "-", "-o", "json")
	var res struct {
		Status struct {
			Allowed bool `json:"allowed"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("SubjectAccessReview: %v", err)
	}
	return res.Status.Allowed
}
