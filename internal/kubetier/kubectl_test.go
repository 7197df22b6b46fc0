//go:build cluster

package kubetier

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// kubectl runs kubectl against $KUBECONFIG; stdin is optional.
func kubectl(t testing.TB, stdin []byte, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("kubectl", args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, filterWarnings(errb.String()))
	}
	return out.String(), nil
}

func filterWarnings(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, "version difference between client") || strings.TrimSpace(l) == "" {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
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

// list wraps objects in a v1 List for one kubectl call.
func list(objs []Object) []byte {
	items := make([]any, len(objs))
	for i, o := range objs {
		items[i] = map[string]any(o)
	}
	b, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "List", "items": items})
	return b
}

// apply server-side applies objects as Pulumi's provider does.
func apply(t testing.TB, objs []Object) error {
	_, err := kubectl(t, list(objs), "apply", "--server-side", "--field-manager", "pulumi-kubernetes", "--force-conflicts", "-f", "-")
	return err
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
