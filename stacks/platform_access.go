package stacks

import "github.com/apphub/apphub-infra/components"

// The three identities and exactly what each may do. ClusterRole "edit",
// which the AppHub seed bound, reads every Secret in the namespace and can
// start pods as any service account there (so it inherits their rights);
// these Roles list only what each identity uses. See docs/platform.md, "Least privilege".

var (
	readOnly = []string{"get", "list", "watch"}
	manage   = []string{"get", "list", "watch", "create", "update", "patch", "delete"}
)

// previewRules: preview apps may read their own configuration, nothing else.
// No Secrets (credentials stay with the platform), no pods/exec.
func previewRules() []components.Rule {
	return []components.Rule{
		{Resources: []string{"configmaps"}, Verbs: readOnly},
	}
}

// builderRules: a build reads its build context/arguments from ConfigMaps,
// the registry push secret by name, and its own Job and pod to report
// progress. It cannot create workloads or touch other namespaces.
func builderRules(registrySecret string) []components.Rule {
	rules := []components.Rule{
		{Resources: []string{"configmaps"}, Verbs: readOnly},
		{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: readOnly},
		{Resources: []string{"pods"}, Verbs: readOnly},
		{Resources: []string{"pods/log"}, Verbs: []string{"get"}},
	}
	if registrySecret != "" {
		rules = append(rules, components.Rule{Resources: []string{"secrets"}, Verbs: []string{"get"}, ResourceNames: []string{registrySecret}})
	}
	return rules
}

// deployerPreviewRules: what the Automation API (apphubctl serve running in
// the cluster) needs to create, await and delete a preview: the objects it
// manages, plus read access to what Pulumi's await logic watches
// (ReplicaSets, pods, endpoints, EndpointSlices, events).
func deployerPreviewRules() []components.Rule {
	return []components.Rule{
		{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: manage},
		{APIGroups: []string{"apps"}, Resources: []string{"replicasets"}, Verbs: readOnly},
		{Resources: []string{"services", "configmaps"}, Verbs: manage},
		// The Deployment await also watches claims (a pod waiting for an
		// unbound one is not progress); without it the await never starts.
		{Resources: []string{"pods", "endpoints", "events", "persistentvolumeclaims"}, Verbs: readOnly},
		{Resources: []string{"pods/log"}, Verbs: []string{"get"}},
		// The quota check refuses a preview the namespace cannot fit.
		{Resources: []string{"resourcequotas", "limitranges"}, Verbs: readOnly},
		{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: readOnly},
		{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"ingresses", "networkpolicies"}, Verbs: manage},
	}
}

// deployerBuildRules: create, await and clean up build Jobs and read their
// logs for failure reasons; read the registry credentials, to find an
// image an equal build already pushed.
func deployerBuildRules(registrySecret string) []components.Rule {
	rules := []components.Rule{
		{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: manage},
		{Resources: []string{"pods", "events"}, Verbs: readOnly},
		{Resources: []string{"pods/log"}, Verbs: []string{"get"}},
	}
	if registrySecret != "" {
		rules = append(rules, components.Rule{Resources: []string{"secrets"}, Verbs: []string{"get"}, ResourceNames: []string{registrySecret}})
	}
	return rules
}

// deployerSystemRules: the service reads the platform's ConfigMap, and
// nothing else of its own namespace.
func deployerSystemRules() []components.Rule {
	return []components.Rule{
		{Resources: []string{"configmaps"}, Verbs: []string{"get"}, ResourceNames: []string{PlatformConfigMap}},
	}
}
