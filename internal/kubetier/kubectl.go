package kubetier

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"time"
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

// AwaitLikePulumi waits, concurrently as the provider does, for the
// conditions pulumi-kubernetes awaits on these objects: Deployments
// Available at their current generation, Services (unless skipAwait) with
// ready endpoints, Ingresses with a load-balancer address and ready
// endpoints behind their backends, Jobs Complete. kubectl wait watches
// rather than polls, as the provider's informers do.
func AwaitLikePulumi(ctx context.Context, objs []Object, timeout time.Duration) error {
	var waits [][]string
	for _, o := range objs {
		ns, ref := o.Namespace(), strings.ToLower(o.Kind())+"/"+o.Name()
		skip := false
		if md, ok := o["metadata"].(map[string]any); ok {
			if ann, ok := md["annotations"].(map[string]any); ok && ann["pulumi.com/skipAwait"] == "true" {
				skip = true
			}
		}
		if skip {
			continue
		}
		switch o.Kind() {
		case "Deployment":
			waits = append(waits, []string{"rollout", "status", ref, "-n", ns, "--timeout", timeout.String()})
		case "Ingress":
			waits = append(waits, []string{"wait", ref, "-n", ns, "--for=jsonpath={.status.loadBalancer.ingress[0].ip}", "--timeout", timeout.String()})
			for _, svc := range ingressBackends(o) {
				waits = append(waits, endpointsWait(ns, svc, timeout))
			}
		case "Service":
			waits = append(waits, endpointsWait(ns, o.Name(), timeout))
		case "Job":
			waits = append(waits, []string{"wait", ref, "-n", ns, "--for=condition=Complete", "--timeout", timeout.String()})
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(waits))
	for _, args := range waits {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := Kubectl(ctx, nil, args...); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// endpointsWait waits for an EndpointSlice of the Service with a ready
// endpoint.
func endpointsWait(ns, svc string, timeout time.Duration) []string {
	return []string{"wait", "endpointslices", "-n", ns, "-l", "kubernetes.io/service-name=" + svc,
		"--for=jsonpath={.endpoints[0].conditions.ready}=true", "--timeout", timeout.String()}
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
