//go:build cluster

package kubetier

import (
	"context"
	"fmt"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
)

var (
	gvrDeployment    = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	gvrIngress       = schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"}
	gvrEndpointSlice = schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}
	gvrJob           = schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}
)

// Client is a dynamic client for $KUBECONFIG (or the default loading
// rules), as the provider builds one from its kubeconfig.
func Client() (dynamic.Interface, error) {
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		clientcmd.NewDefaultClientConfigLoadingRules(), &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return dynamic.NewForConfig(cfg)
}

// AwaitLikePulumi waits, in-process and concurrently as the provider does,
// for the conditions pulumi-kubernetes awaits on these objects:
// Deployments observed at their generation with every replica updated and
// Available=True; Services (unless pulumi.com/skipAwait) with a ready
// endpoint; Ingresses with a load-balancer address and a ready endpoint
// behind each backend Service; Jobs Complete (Failed fails at once).
func AwaitLikePulumi(ctx context.Context, c dynamic.Interface, objs []Object, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var checks []func(context.Context) (bool, error)
	for _, o := range objs {
		if skipAwait(o) {
			continue
		}
		ns, name := o.Namespace(), o.Name()
		switch o.Kind() {
		case "Deployment":
			checks = append(checks, func(ctx context.Context) (bool, error) { return deploymentReady(ctx, c, ns, name) })
		case "Service":
			checks = append(checks, func(ctx context.Context) (bool, error) { return endpointsReady(ctx, c, ns, name) })
		case "Ingress":
			checks = append(checks, func(ctx context.Context) (bool, error) { return ingressAddressed(ctx, c, ns, name) })
			for _, svc := range ingressBackends(o) {
				checks = append(checks, func(ctx context.Context) (bool, error) { return endpointsReady(ctx, c, ns, svc) })
			}
		case "Job":
			checks = append(checks, func(ctx context.Context) (bool, error) { return jobComplete(ctx, c, ns, name) })
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(checks))
	for _, check := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- until(ctx, check)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// until polls check every 25 ms (a GET on a local API server costs a few
// milliseconds) until it is true, fails or ctx ends.
func until(ctx context.Context, check func(context.Context) (bool, error)) error {
	t := time.NewTicker(25 * time.Millisecond)
	defer t.Stop()
	for {
		ok, err := check(ctx)
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

func skipAwait(o Object) bool {
	md, _ := o["metadata"].(map[string]any)
	ann, _ := md["annotations"].(map[string]any)
	return ann["pulumi.com/skipAwait"] == "true"
}

func get(ctx context.Context, c dynamic.Interface, gvr schema.GroupVersionResource, ns, name string) (*unstructured.Unstructured, bool) {
	u, err := c.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	return u, err == nil
}

func condition(u *unstructured.Unstructured, typ string) string {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == typ {
			s, _ := m["status"].(string)
			return s
		}
	}
	return ""
}

func deploymentReady(ctx context.Context, c dynamic.Interface, ns, name string) (bool, error) {
	u, ok := get(ctx, c, gvrDeployment, ns, name)
	if !ok {
		return false, nil
	}
	observed, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
	replicas, found, _ := unstructured.NestedInt64(u.Object, "spec", "replicas")
	if !found {
		replicas = 1
	}
	updated, _, _ := unstructured.NestedInt64(u.Object, "status", "updatedReplicas")
	return observed >= u.GetGeneration() && updated >= replicas && condition(u, "Available") == "True", nil
}

func ingressAddressed(ctx context.Context, c dynamic.Interface, ns, name string) (bool, error) {
	u, ok := get(ctx, c, gvrIngress, ns, name)
	if !ok {
		return false, nil
	}
	lb, _, _ := unstructured.NestedSlice(u.Object, "status", "loadBalancer", "ingress")
	return len(lb) > 0, nil
}

func endpointsReady(ctx context.Context, c dynamic.Interface, ns, svc string) (bool, error) {
	list, err := c.Resource(gvrEndpointSlice).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=" + svc})
	if err != nil {
		return false, nil
	}
	for _, s := range list.Items {
		eps, _, _ := unstructured.NestedSlice(s.Object, "endpoints")
		for _, e := range eps {
			if ready, _, _ := unstructured.NestedBool(e.(map[string]any), "conditions", "ready"); ready {
				return true, nil
			}
		}
	}
	return false, nil
}

func jobComplete(ctx context.Context, c dynamic.Interface, ns, name string) (bool, error) {
	u, ok := get(ctx, c, gvrJob, ns, name)
	if !ok {
		return false, nil
	}
	if condition(u, "Failed") == "True" {
		return false, fmt.Errorf("job %s/%s failed", ns, name)
	}
	return condition(u, "Complete") == "True", nil
}
