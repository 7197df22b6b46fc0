package kubetier

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
)

// Kubectl runs kubectl against $KUBECONFIG; stdin is optional.
func Kubectl(ctx context.Context, stdin []byte, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "kubectl", args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, filterWarnings(errb.String()))
	}
	return out.String(), nil
}

// filterWarnings drops kubectl's version-skew warning (1.32 client, 1.34
// server) from error text.
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

// List wraps objects in a v1 List for one kubectl call.
func List(objs []Object) []byte {
	items := make([]any, len(objs))
	for i, o := range objs {
		items[i] = map[string]any(o)
	}
	b, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "List", "items": items})
	return b
}

// Apply server-side applies objects under the field manager Pulumi's
// provider uses.
func Apply(ctx context.Context, objs []Object) error {
	_, err := Kubectl(ctx, List(objs), "apply", "--server-side", "--field-manager", "pulumi-kubernetes", "--force-conflicts", "-f", "-")
	return err
}

// Delete deletes objects and waits until they are gone (up to 2 minutes).
func Delete(ctx context.Context, objs []Object) error {
	_, err := Kubectl(ctx, List(objs), "delete", "--ignore-not-found", "--wait=true", "--timeout=120s", "-f", "-")
	return err
}

func ingressBackends(o Object) []string {
	seen := map[string]bool{}
	var out []string
	spec, _ := o["spec"].(map[string]any)
	rules, _ := spec["rules"].([]any)
	for _, r := range rules {
		http, _ := r.(map[string]any)["http"].(map[string]any)
		paths, _ := http["paths"].([]any)
		for _, p := range paths {
			backend, _ := p.(map[string]any)["backend"].(map[string]any)
			svc, _ := backend["service"].(map[string]any)
			if name, _ := svc["name"].(string); name != "" && !seen[name] {
				seen[name] = true
				out = append(out, name)
			}
		}
	}
	return out
}
