//go:build cluster

package kubetier

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/stacks"
)

// The cluster tier: what the programs declare, applied to a real API server
// ($KUBECONFIG: the harness in CI, or a k3d cluster), checked the way
// Pulumi's await logic and the catalog need, then removed.

type scenario struct {
	name    string
	values  map[string]string
	secrets map[string]bool
}

func scenarios(t *testing.T) []scenario {
	r := root(t)
	prod := StackFile(t, r, "prod")
	prod["registryPassword"] = "tier-token"
	// The cluster tier applies the rendered objects, not Helm releases:
	// the service's database is an external URL here.
	prod["servicePostgres"] = "false"
	prod["serviceDatabaseUrl"] = "postgres://apphub:tier@db.tier.test:5432/apphub"
	prod["serviceToken"], prod["servicePassphrase"] = "tier-api-token-0123456789", "tier-passphrase"
	inCluster := StackFile(t, r, "dev")
	inCluster["clusterKind"], inCluster["kubeContext"], inCluster["registryKind"] = "existing", "tier", "in-cluster"
	return []scenario{
		{"dev", StackFile(t, r, "dev"), nil},
		{"prod", prod, map[string]bool{"registryPassword": true, "serviceToken": true, "servicePassphrase": true, "serviceDatabaseUrl": true}},
		{"in-cluster-registry", inCluster, nil},
	}
}

// render returns the platform, a two-replica preview and a build.
func render(t *testing.T, s scenario) (platform, preview, build []Object, outputs map[string]any) {
	platform, outputs = Platform(t, s.values, s.secrets)
	preview = Program(t, stacks.PreviewProject, stacks.Preview, map[string]string{
		"launch": "tier-1", "image": "r.test/apps/web:1", "replicas": "2", "expiresAt": "2030-01-01T00:00:00Z",
	}, outputs)
	build = Program(t, stacks.BuildProject, stacks.Build, map[string]string{
		"buildId": "b-1", "gitUrl": "https://git.test/acme/web.git", "gitRef": "main", "imageRepository": "apps/web", "imageTag": "1",
	}, outputs)
	return platform, preview, build, outputs
}

func TestEveryObjectIsAcceptedAndBecomesReady(t *testing.T) {
	requireCluster(t)
	for _, s := range scenarios(t) {
		t.Run(s.name, func(t *testing.T) {
			platform, preview, build, out := render(t, s)
			all := append(append(append([]Object{}, platform...), preview...), build...)
			t.Cleanup(func() { cleanup(t, all) })
			start := time.Now()
			require.NoError(t, apply(t, platform), "platform objects are accepted")
			require.NoError(t, apply(t, preview), "preview objects are accepted (Pod Security restricted namespace)")
			require.NoError(t, apply(t, build), "build objects are accepted")
			t.Logf("%s: %d objects applied in %.1fs", s.name, len(all), time.Since(start).Seconds())

			ns, buildNS := out[stacks.OutNamespace].(string), out[stacks.OutBuildNamespace].(string)
			// The conditions Pulumi's await logic waits on.
			poll(t, "preview Deployment Available", 60*time.Second, func() error {
				if v := jsonpath(t, ns, "deployment/preview-tier-1", `{.status.conditions[?(@.type=="Available")].status}`); v != "True" {
					return fmt.Errorf("Available=%q", v)
				}
				return nil
			})
			poll(t, "Service endpoints for both pods", 60*time.Second, func() error {
				out := jsonpath(t, ns, "endpointslices -l kubernetes.io/service-name=preview-tier-1", `{range .items[*].endpoints[*]}{.conditions.ready}{" "}{end}`)
				if strings.Count(out, "true") != 2 || strings.Contains(out, "false") {
					return fmt.Errorf("endpoints ready: %q", out)
				}
				return nil
			})
			poll(t, "Ingress load-balancer status", 60*time.Second, func() error {
				if ip := jsonpath(t, ns, "ingress/preview-tier-1", `{.status.loadBalancer.ingress[0].ip}`); ip == "" {
					return fmt.Errorf("no address yet")
				}
				return nil
			})
			poll(t, "build Job Complete", 90*time.Second, func() error {
				if v := jsonpath(t, buildNS, "job/build-b-1", `{.status.conditions[?(@.type=="Complete")].status}`); v != "True" {
					return fmt.Errorf("Complete=%q", v)
				}
				return nil
			})
			if s.name == "in-cluster-registry" {
				sys := out[stacks.OutSystemNamespace].(string)
				poll(t, "registry Deployment Available (volume bound)", 60*time.Second, func() error {
					if v := jsonpath(t, sys, "deployment/apphub-registry", `{.status.conditions[?(@.type=="Available")].status}`); v != "True" {
						return fmt.Errorf("Available=%q, claim=%s", v, jsonpath(t, sys, "pvc/apphub-registry", "{.status.phase}"))
					}
					return nil
				})
			}
			if s.name == "prod" {
				apiServiceReady(t, out)
			}
			// Applying the same objects again changes nothing (what a second `up` relies on).
			gen := jsonpath(t, ns, "deployment/preview-tier-1", "{.metadata.generation}")
			require.NoError(t, apply(t, preview))
			assert.Equal(t, gen, jsonpath(t, ns, "deployment/preview-tier-1", "{.metadata.generation}"), "re-apply is a no-op")
		})
	}
}

func TestPodSecurityAdmitsPreviewsOnly(t *testing.T) {
	requireCluster(t)
	s := scenarios(t)[0]
	platform, preview, _, out := render(t, s)
	t.Cleanup(func() { cleanup(t, append(append([]Object{}, platform...), preview...)) })
	require.NoError(t, apply(t, platform))
	ns := out[stacks.OutNamespace].(string)

	var dep Object
	for _, o := range preview {
		if o.Kind() == "Deployment" {
			dep = o
		}
	}
	tmpl := dep["spec"].(map[string]any)["template"].(map[string]any)
	pod := map[string]any{"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": "admission-probe", "namespace": ns, "labels": tmpl["metadata"].(map[string]any)["labels"]},
		"spec":     tmpl["spec"]}
	b, _ := json.Marshal(pod)
	_, err := kubectl(t, b, "create", "--dry-run=server", "-f", "-")
	assert.NoError(t, err, "the preview pod passes Pod Security restricted")

	privileged := []byte(fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"escalate","namespace":%q},
	  "spec":{"serviceAccountName":"apphub-preview","containers":[{"name":"c","image":"r.test/x:1","securityContext":{"privileged":true}}]}}`, ns))
	_, err = kubectl(t, privileged, "create", "--dry-run=server", "-f", "-")
	require.Error(t, err, "enforcement is live: a privileged pod is refused")
	assert.Contains(t, err.Error(), "violates PodSecurity")
	assert.Contains(t, err.Error(), `"restricted:latest"`)
}

func TestQuotaRejectsOversizedPreview(t *testing.T) {
	requireCluster(t)
	s := scenarios(t)[0] // dev: previewQuotaCpu 2
	platform, outputs := Platform(t, s.values, s.secrets)
	big := Program(t, stacks.PreviewProject, stacks.Preview, map[string]string{
		"launch": "tier-big", "image": "r.test/apps/web:1", "replicas": "3", "cpuRequest": "1", "cpuLimit": "2",
	}, outputs)
	t.Cleanup(func() { cleanup(t, append(append([]Object{}, platform...), big...)) })
	require.NoError(t, apply(t, platform))
	ns := outputs[stacks.OutNamespace].(string)
	poll(t, "quota status computed", 30*time.Second, func() error {
		if jsonpath(t, ns, "resourcequota/apphub-quota", "{.status.hard.requests\\.cpu}") == "" {
			return fmt.Errorf("no status yet")
		}
		return nil
	})
	require.NoError(t, apply(t, big), "the objects are valid; their pods are what the quota refuses")
	poll(t, "ReplicaSet reports the quota", 60*time.Second, func() error {
		msg := jsonpath(t, ns, "replicasets -l app.kubernetes.io/instance=preview-tier-big", `{.items[*].status.conditions[?(@.type=="ReplicaFailure")].message}`)
		if !strings.Contains(msg, "exceeded quota: apphub-quota") || !strings.Contains(msg, "requests.cpu") {
			return fmt.Errorf("ReplicaFailure: %q", msg)
		}
		return nil
	})
	assert.Equal(t, "2", jsonpath(t, ns, "deployment/preview-tier-big", "{.status.replicas}"), "the third pod is refused by the quota")
}

func TestRBACWithSubjectAccessReview(t *testing.T) {
	requireCluster(t)
	s := scenarios(t)[1] // prod: with a registry secret
	platform, out := Platform(t, s.values, s.secrets)
	t.Cleanup(func() { cleanup(t, platform) })
	require.NoError(t, apply(t, platform))
	ns, builds, system := out[stacks.OutNamespace].(string), out[stacks.OutBuildNamespace].(string), out[stacks.OutSystemNamespace].(string)
	preview, builder, deployer := out[stacks.OutPreviewServiceAccount].(string), out[stacks.OutBuilderServiceAccount].(string), out[stacks.OutDeployerServiceAccount].(string)
	secret := out[stacks.OutRegistrySecret].(string)

	type check struct {
		saNS, sa, verb, resource, sub, group, ns, name string
		allowed                                        bool
	}
	checks := []check{
		// Previews read their config, nothing else.
		{ns, preview, "get", "configmaps", "", "", ns, "", true},
		{ns, preview, "get", "secrets", "", "", ns, secret, false},
		{ns, preview, "list", "secrets", "", "", ns, "", false},
		{ns, preview, "create", "pods", "exec", "", ns, "", false},
		{ns, preview, "list", "pods", "", "", builds, "", false},
		{ns, preview, "create", "deployments", "", "apps", ns, "", false},
		// Builds read what a build needs, in their namespace only.
		{builds, builder, "get", "secrets", "", "", builds, secret, true},
		{builds, builder, "get", "secrets", "", "", builds, "other", false},
		{builds, builder, "list", "secrets", "", "", builds, "", false},
		{builds, builder, "get", "jobs", "", "batch", builds, "", true},
		{builds, builder, "get", "pods", "log", "", builds, "", true},
		{builds, builder, "create", "jobs", "", "batch", builds, "", false},
		{builds, builder, "create", "pods", "exec", "", builds, "", false},
		{builds, builder, "list", "namespaces", "", "", "", "", false},
		{builds, builder, "list", "nodes", "", "", "", "", false},
		{builds, builder, "get", "configmaps", "", "", ns, "", false},
		// The Automation API's identity manages previews and builds.
		{system, deployer, "create", "deployments", "", "apps", ns, "", true},
		{system, deployer, "patch", "services", "", "", ns, "", true},
		{system, deployer, "delete", "ingresses", "", "networking.k8s.io", ns, "", true},
		{system, deployer, "create", "networkpolicies", "", "networking.k8s.io", ns, "", true},
		{system, deployer, "watch", "replicasets", "", "apps", ns, "", true},
		{system, deployer, "list", "endpointslices", "", "discovery.k8s.io", ns, "", true},
		{system, deployer, "create", "jobs", "", "batch", builds, "", true},
		{system, deployer, "get", "pods", "log", "", builds, "", true},
		{system, deployer, "get", "secrets", "", "", ns, secret, false},
		{system, deployer, "create", "pods", "exec", "", ns, "", false},
		{system, deployer, "create", "rolebindings", "", "rbac.authorization.k8s.io", ns, "", false},
		{system, deployer, "delete", "namespaces", "", "", "", ns, false},
		// ... and, as the in-cluster API service, reads what the quota
		// check and the stuck watch read, and in its own namespace only
		// the platform's ConfigMap.
		{system, deployer, "list", "resourcequotas", "", "", ns, "", true},
		{system, deployer, "watch", "persistentvolumeclaims", "", "", ns, "", true},
		{system, deployer, "create", "persistentvolumeclaims", "", "", ns, "", false},
		{system, deployer, "list", "limitranges", "", "", ns, "", true},
		{system, deployer, "list", "events", "", "", ns, "", true},
		{system, deployer, "list", "events", "", "", builds, "", true},
		{system, deployer, "create", "pods", "", "", ns, "", false},
		{system, deployer, "create", "pods", "", "", builds, "", false},
		{system, deployer, "update", "resourcequotas", "", "", ns, "", false},
		{system, deployer, "get", "secrets", "", "", system, "apphub-api", false},
		{system, deployer, "get", "configmaps", "", "", system, "apphub-platform", true},
		{system, deployer, "get", "configmaps", "", "", system, "other", false},
		{system, deployer, "list", "configmaps", "", "", system, "", false},
		{system, deployer, "update", "configmaps", "", "", system, "apphub-platform", false},
		{system, deployer, "patch", "deployments", "", "apps", system, "apphub-api", false},
		{system, deployer, "list", "secrets", "", "", builds, "", false},
		{system, deployer, "create", "serviceaccounts", "", "", ns, "", false},
		{system, deployer, "impersonate", "serviceaccounts", "", "", ns, preview, false},
		{system, deployer, "create", "serviceaccounts", "token", "", builds, builder, false},
	}
	for _, c := range checks {
		what := fmt.Sprintf("%s %s %s/%s in %q (%s)", c.sa, c.verb, c.resource, c.sub, c.ns, c.name)
		assert.Equal(t, c.allowed, canI(t, c.saNS, c.sa, c.verb, c.resource, c.sub, c.group, c.ns, c.name), what)
	}
}

// apiServiceReady waits for what Pulumi's await logic waits on for the
// in-cluster API service: the Deployment Available with both replicas, the
// Service's endpoints; and checks the disruption budget the controller
// computed and the NetworkPolicy's single admitted namespace.
func apiServiceReady(t *testing.T, out map[string]any) {
	sys := out[stacks.OutSystemNamespace].(string)
	assert.Equal(t, "http://apphub-api."+sys+".svc.cluster.local", out[stacks.OutServiceURL])
	poll(t, "API service Deployment Available", 60*time.Second, func() error {
		if v := jsonpath(t, sys, "deployment/apphub-api", "{.status.availableReplicas}"); v != "2" {
			return fmt.Errorf("availableReplicas=%q", v)
		}
		return nil
	})
	poll(t, "API Service endpoints", 60*time.Second, func() error {
		got := jsonpath(t, sys, "endpointslices -l kubernetes.io/service-name=apphub-api", `{range .items[*].endpoints[*]}{.conditions.ready}{" "}{end}`)
		if strings.Count(got, "true") != 2 {
			return fmt.Errorf("endpoints ready: %q", got)
		}
		return nil
	})
	poll(t, "PodDisruptionBudget status", 60*time.Second, func() error {
		if v := jsonpath(t, sys, "pdb/apphub-api", "{.status.currentHealthy}/{.status.disruptionsAllowed}"); v != "2/1" {
			return fmt.Errorf("healthy/allowed=%q", v)
		}
		return nil
	})
	assert.Equal(t, "apphub-catalog", jsonpath(t, sys, "networkpolicy/apphub-api",
		`{.spec.ingress[0].from[0].namespaceSelector.matchLabels.kubernetes\.io/metadata\.name}`))
	assert.Equal(t, "apphub-deployer", jsonpath(t, sys, "deployment/apphub-api", "{.spec.template.spec.serviceAccountName}"))
	assert.Equal(t, "true", jsonpath(t, sys, "pods -l app.kubernetes.io/name=apphub-api", "{.items[0].spec.containers[0].securityContext.readOnlyRootFilesystem}"),
		"admitted in the system namespace (Pod Security baseline enforced, restricted warned)")
}

// cleanup deletes what a test applied and proves nothing of ours is left.
func cleanup(t testing.TB, objs []Object) {
	var namespaces []string
	for _, o := range objs {
		if o.Kind() == "Namespace" {
			namespaces = append(namespaces, o.Name())
		}
	}
	assert.NoError(t, Delete(context.Background(), objs)) // runs from Cleanup, after t.Context is done
	for _, ns := range namespaces {
		_, err := kubectl(t, nil, "wait", "--for=delete", "namespace/"+ns, "--timeout=120s")
		if err != nil && !strings.Contains(err.Error(), "NotFound") && !strings.Contains(err.Error(), "not found") {
			t.Errorf("namespace %s not deleted: %v", ns, err)
		}
	}
	left, err := kubectl(t, nil, "get", "deployments,services,ingresses,networkpolicies,jobs,pods,secrets,serviceaccounts,roles,rolebindings,resourcequotas,limitranges,persistentvolumeclaims",
		"-A", "-l", "app.kubernetes.io/part-of=apphub", "-o", "name")
	assert.NoError(t, err)
	assert.Empty(t, strings.TrimSpace(left), "nothing of ours is left behind")
}
