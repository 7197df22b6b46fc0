// Package kubeclient builds client-go clients from the platform's
// connection settings, a kubeconfig given either as a path or as the file's
// contents, and a context name.
package kubeclient

import (
	"fmt"
	"strings"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/apphub/apphub-infra/internal/validate"
)

// RESTConfig resolves a kubeconfig (empty: $KUBECONFIG or ~/.kube/config;
// a path; or contents) and a context (empty: the kubeconfig's current one).
func RESTConfig(kubeconfig, kubeContext string) (*rest.Config, error) {
	overrides := &clientcmd.ConfigOverrides{CurrentContext: kubeContext}
	var cc clientcmd.ClientConfig
	switch {
	case kubeconfig == "":
		cc = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(clientcmd.NewDefaultClientConfigLoadingRules(), overrides)
	case validate.IsKubeconfigContents(kubeconfig):
		raw, err := clientcmd.Load([]byte(kubeconfig))
		if err != nil {
			return nil, fmt.Errorf("parsing kubeconfig contents: %w", err)
		}
		cc = clientcmd.NewNonInteractiveClientConfig(*raw, kubeContext, overrides, nil)
	default:
		rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: strings.TrimSpace(kubeconfig)}
		cc = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	}
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig (context %q): %w", kubeContext, err)
	}
	return cfg, nil
}

// Clientset is a typed client for the given connection.
func Clientset(kubeconfig, kubeContext string) (*kubernetes.Clientset, error) {
	cfg, err := RESTConfig(kubeconfig, kubeContext)
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return cs, nil
}
