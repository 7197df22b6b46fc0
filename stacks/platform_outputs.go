package stacks

import (
	"fmt"
	"sort"
	"strings"
)

// The platform's ConfigMap, in its system namespace: the non-secret outputs
// as one JSON object under PlatformOutputsKey.
const (
	PlatformConfigMap  = "apphub-platform"
	PlatformOutputsKey = "outputs.json"
)

// Platform stack output names. Preview and build stacks read these from
// the platform's ConfigMap; PlatformEnv turns them into the catalog's
// variables.
const (
	OutNamespace              = "namespace"
	OutBuildNamespace         = "buildNamespace"
	OutSystemNamespace        = "systemNamespace"
	OutIngressNamespace       = "ingressNamespace"
	OutBuilderServiceAccount  = "builderServiceAccount"
	OutPreviewServiceAccount  = "previewServiceAccount"
	OutDeployerServiceAccount = "deployerServiceAccount"
	OutBuilderImage           = "builderImage"
	OutBuildTimeoutSeconds    = "buildTimeoutSeconds"
	OutBuildJobTTLSeconds     = "buildJobTtlSeconds"
	OutPreviewURLTemplate     = "previewUrlTemplate"
	OutPreviewHostTemplate    = "previewHostTemplate"
	OutPreviewScheme          = "previewScheme"
	OutPreviewTLSSecret       = "previewTlsSecret"
	OutPreviewDNSEgress       = "previewDnsEgress"
	OutPreviewReadyTimeout    = "previewReadyTimeoutSeconds"
	OutIngressClass           = "ingressClass"
	OutRegistryPushAddress    = "registryPushAddress"
	OutRegistryPullAddress    = "registryPullAddress"
	OutRegistryHostAddress    = "registryHostAddress"
	OutRegistrySecret         = "registrySecret"
	OutRedisURL               = "redisUrl"
	OutKubeContext            = "kubeContext"
	OutKubeconfig             = "kubeconfig"
	OutRunnerScaleSet         = "runnerScaleSet"
	OutRegistryInsecure       = "registryInsecure"
	// The persistent builder's address and the Secret with the build Jobs'
	// client certificate; absent when builds start their own daemon.
	OutBuilderAddress      = "builderAddress"
	OutBuilderClientSecret = "builderClientSecret"
	// The ConfigMap (key components.BuildCAKey) of the builds' CA bundle.
	OutBuildCAConfigMap = "buildCaConfigMap"
	// The bundle itself (certificates only), for the Manager's own git
	// and registry lookups.
	OutBuildCABundle = "buildCaBundle"
	// What `apphubctl platform status` checks against.
	OutRegistryKind           = "registryKind"
	OutARCControllerNamespace = "arcControllerNamespace"
	OutARCRunnersNamespace    = "arcRunnersNamespace"
	OutARCMinRunners          = "arcMinRunners"
	OutARCMaxRunners          = "arcMaxRunners"
	OutServiceReplicas        = "serviceReplicas"
	// The LimitRange maximum per container in both workload namespaces:
	// requests beyond it are refused before a pod is ever forbidden.
	OutContainerMaxCPU    = "containerMaxCpu"
	OutContainerMaxMemory = "containerMaxMemory"
)

// catalogEnv maps platform outputs to the catalog's settings.
var catalogEnv = []struct{ Env, Output string }{
	{"APPHUB_K8S_NAMESPACE", OutNamespace},
	{"APPHUB_K8S_BUILDER_IMAGE", OutBuilderImage},
	{"APPHUB_K8S_BUILDER_SERVICE_ACCOUNT", OutBuilderServiceAccount},
	{"APPHUB_K8S_LAUNCH_SERVICE_ACCOUNT", OutPreviewServiceAccount},
	{"APPHUB_K8S_BUILD_TIMEOUT_SECONDS", OutBuildTimeoutSeconds},
	{"APPHUB_K8S_BUILD_JOB_TTL_SECONDS", OutBuildJobTTLSeconds},
	{"APPHUB_K8S_PREVIEW_URL_TEMPLATE", OutPreviewURLTemplate},
	{"APPHUB_K8S_PREVIEW_HOST_TEMPLATE", OutPreviewHostTemplate},
	{"APPHUB_K8S_PREVIEW_SCHEME", OutPreviewScheme},
	{"APPHUB_K8S_INGRESS_CLASS", OutIngressClass},
	{"APPHUB_K8S_REGISTRY_SECRET", OutRegistrySecret},
	{"REDIS_URL", OutRedisURL},
}

// EnvVar is one catalog setting.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// CatalogEnv turns platform outputs into the catalog's environment, in a
// stable order. Outputs the stack did not set are left out, so the catalog
// keeps its own default. Both execution modes are "kubernetes": a platform
// exists, so the catalog should use it.
func CatalogEnv(outputs map[string]any) ([]EnvVar, error) {
	var out []EnvVar
	for _, m := range catalogEnv {
		v, ok := outputs[m.Output]
		if !ok || v == nil {
			continue
		}
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case float64:
			s = fmt.Sprintf("%d", int64(x))
		case int:
			s = fmt.Sprintf("%d", x)
		default:
			return nil, fmt.Errorf("platform output %q: unexpected type %T", m.Output, v)
		}
		if s == "" {
			continue
		}
		out = append(out, EnvVar{Name: m.Env, Value: s})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the platform stack has none of the outputs the catalog needs: has it been deployed?")
	}
	out = append(out,
		EnvVar{Name: "APPHUB_BUILD_EXECUTION_MODE", Value: "kubernetes"},
		EnvVar{Name: "APPHUB_LAUNCH_EXECUTION_MODE", Value: "kubernetes"})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ExportLines renders variables as POSIX shell export lines, single-quoted.
func ExportLines(vars []EnvVar) string {
	var b strings.Builder
	for _, v := range vars {
		fmt.Fprintf(&b, "export %s='%s'\n", v.Name, strings.ReplaceAll(v.Value, "'", `'\''`))
	}
	return b.String()
}
