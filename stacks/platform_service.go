package stacks

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/apphub/apphub-infra/components"
)

// OutServiceURL is the in-cluster URL of the API service, when the
// platform runs it.
const OutServiceURL = "serviceUrl"

// configMapOmits are the outputs the platform's ConfigMap leaves out: the
// connection (every reader brings its own: a kubeconfig, or a pod's
// identity in the cluster), the Redis URL (a secret; previews never read
// it) and the service's own URL.
var configMapOmits = map[string]bool{OutKubeconfig: true, OutKubeContext: true, OutRedisURL: true, OutServiceURL: true}

// newPlatformService deploys `apphubctl serve` (and, if asked, its
// database) next to the platform, and exports its URL.
func newPlatformService(ctx *pulumi.Context, cfg *PlatformConfig, system *components.Namespace, exports pulumi.Map, registrySecret string, opts ...pulumi.ResourceOption) error {
	s := cfg.Service
	var dbURL pulumi.StringInput
	if s.DatabaseURL.IsSet() {
		dbURL = s.DatabaseURL.Output()
	}
	if cfg.Postgres.Enabled {
		pg := cfg.Postgres
		db, err := components.NewPostgres(ctx, "postgres", &components.PostgresArgs{
			Namespace: system.Ref(), ReleaseName: s.Name + "-postgresql", Chart: pg.ChartRef(),
			Database: "apphub", Username: "apphub",
			Persistence: pg.Persistence, PersistenceSize: pg.PersistenceSize, StorageClass: cfg.Registry.StorageClass,
			ImageRegistry: pg.ImageRegistry, ImageRepository: pg.ImageRepository, ImageTag: pg.ImageTag,
			TimeoutSeconds: 600,
		}, append(opts, pulumi.Protect(cfg.Protection.Protect))...)
		if err != nil {
			return err
		}
		dbURL = db.URL
	}
	args := &components.APIServiceArgs{
		Namespace: system.Ref(), Name: s.Name, Image: s.Image,
		Replicas: s.Replicas, MaxConcurrent: s.MaxConcurrent,
		ServiceAccount: cfg.ServiceAccounts.Deployer, CatalogNamespace: s.CatalogNamespace,
		Token: s.Token.Output(), Passphrase: s.Passphrase.Output(), DatabaseURL: dbURL,
		WebhookURL: s.WebhookURL,
		Resources: components.ContainerResources{
			CPURequest: s.CPURequest, MemoryRequest: s.MemoryRequest, CPULimit: s.CPULimit, MemoryLimit: s.MemoryLimit,
		},
		StateSize: s.StateSize, StorageClass: cfg.Registry.StorageClass, ImagePullSecret: registrySecret,
		NodeSelector: s.nodeSelector, Tolerations: s.tolerations,
	}
	if s.WebhookSecret.IsSet() {
		args.WebhookSecret = s.WebhookSecret.Output()
	}
	svc, err := components.NewAPIService(ctx, "api", args, opts...)
	if err != nil {
		return err
	}
	exports[OutServiceURL] = svc.URL
	return nil
}

// platformOutputsJSON is the ConfigMap's copy of the exports: what
// previews and builds read, as one JSON object.
func platformOutputsJSON(exports pulumi.Map) pulumi.StringOutput {
	keys := make([]string, 0, len(exports))
	for k := range exports {
		if !configMapOmits[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	values := make(pulumi.Array, len(keys))
	for i, k := range keys {
		values[i] = exports[k]
	}
	return values.ToArrayOutput().ApplyT(func(vs []any) (string, error) {
		out := make(map[string]any, len(keys))
		for i, k := range keys {
			out[k] = vs[i]
		}
		b, err := json.Marshal(out)
		if err != nil {
			return "", fmt.Errorf("platform outputs: %w", err)
		}
		return string(b), nil
	}).(pulumi.StringOutput)
}
