package components

import (
	"strconv"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Paths inside the service's container. The image (see the Dockerfile)
// bakes the provider plugins into imagePulumiHome and runs as apiUID.
const (
	apiUID           = 65532
	apiStateDir      = "/var/lib/apphub"
	apiPulumiHome    = "/var/lib/pulumi-home"
	imagePulumiHome  = "/opt/pulumi-home"
	apiSecretsDir    = "/etc/apphub/secrets"
	apiTokenFile     = apiSecretsDir + "/" + apiSecretToken
	apiWebhookSecret = apiSecretsDir + "/" + apiSecretWebhookSecret
)

// ServeArgs is the container's command line: what the Deployment
// runs, and what a test runs outside the cluster to prove the identity.
func (a *APIServiceArgs) ServeArgs() []string {
	args := []string{
		"serve", "--addr", ":" + strconv.Itoa(APIServicePort),
		"--state-dir", apiStateDir,
		"--token-file", apiTokenFile,
		"--skip-plugin-install",
		"--max-concurrent", strconv.Itoa(a.MaxConcurrent),
		"--output", "json",
	}
	if a.WebhookURL != "" {
		args = append(args, "--webhook-url", a.WebhookURL, "--webhook-secret-file", apiWebhookSecret)
	}
	return args
}

func newAPIDeployment(ctx *pulumi.Context, name string, a *APIServiceArgs, opts ...pulumi.ResourceOption) (*appsv1.Deployment, error) {
	// One replica on a ReadWriteOnce volume is replaced, never doubled:
	// two processes would share one SQLite queue and one file:// state.
	strategy := &appsv1.DeploymentStrategyArgs{Type: pulumi.String("Recreate")}
	if a.DatabaseURL != nil {
		strategy = &appsv1.DeploymentStrategyArgs{
			Type: pulumi.String("RollingUpdate"),
			RollingUpdate: &appsv1.RollingUpdateDeploymentArgs{
				MaxUnavailable: pulumi.Int(0), MaxSurge: pulumi.Int(1),
			},
		}
	}
	return appsv1.NewDeployment(ctx, name, &appsv1.DeploymentArgs{
		Metadata: a.meta(a.Name),
		Spec: &appsv1.DeploymentSpecArgs{
			Replicas: pulumi.Int(a.Replicas),
			Selector: &metav1.LabelSelectorArgs{MatchLabels: a.selector()},
			Strategy: strategy,
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: a.labels()},
				Spec:     a.podSpec(),
			},
		},
	}, opts...)
}

// podSpec passes Pod Security "restricted" with a read-only root: what the
// CLI writes goes to emptyDirs, the state to its volume.
func (a *APIServiceArgs) podSpec() *corev1.PodSpecArgs {
	spec := &corev1.PodSpecArgs{
		ServiceAccountName:           pulumi.String(a.ServiceAccount),
		AutomountServiceAccountToken: pulumi.Bool(true),
		EnableServiceLinks:           pulumi.Bool(false),
		// Operations in flight get the server's shutdown grace (30s) and
		// the CLI's own interrupt handling before the kill.
		TerminationGracePeriodSeconds: pulumi.Int(60),
		SecurityContext:               restrictedPod(apiUID),
		// PULUMI_HOME must be writable (the CLI keeps workspace files
		// there); the plugins stay in the image, linked, never copied.
		InitContainers: corev1.ContainerArray{&corev1.ContainerArgs{
			Name:            pulumi.String("pulumi-home"),
			Image:           pulumi.String(a.Image),
			Command:         pulumi.ToStringArray([]string{"ln", "-sfn", imagePulumiHome + "/plugins", apiPulumiHome + "/plugins"}),
			SecurityContext: restrictedContainer(true),
			VolumeMounts:    corev1.VolumeMountArray{mount("pulumi-home", apiPulumiHome, false)},
			Resources:       a.Resources.requirements(),
		}},
		Containers: corev1.ContainerArray{a.container()},
		Volumes:    a.volumes(),
	}
	if len(a.NodeSelector) > 0 {
		spec.NodeSelector = pulumi.ToStringMap(a.NodeSelector)
	}
	if len(a.Tolerations) > 0 {
		spec.Tolerations = tolerationArgs(a.Tolerations)
	}
	if a.ImagePullSecret != "" {
		spec.ImagePullSecrets = corev1.LocalObjectReferenceArray{&corev1.LocalObjectReferenceArgs{Name: pulumi.String(a.ImagePullSecret)}}
	}
	return spec
}

func (a *APIServiceArgs) container() *corev1.ContainerArgs {
	probe := func(path string, period, failures int) *corev1.ProbeArgs {
		return &corev1.ProbeArgs{
			HttpGet:          &corev1.HTTPGetActionArgs{Path: pulumi.String(path), Port: pulumi.String("http")},
			PeriodSeconds:    pulumi.Int(period),
			FailureThreshold: pulumi.Int(failures),
			TimeoutSeconds:   pulumi.Int(3),
		}
	}
	return &corev1.ContainerArgs{
		Name:  pulumi.String("api"),
		Image: pulumi.String(a.Image),
		Args:  pulumi.ToStringArray(a.ServeArgs()),
		Ports: corev1.ContainerPortArray{&corev1.ContainerPortArgs{
			Name: pulumi.String("http"), ContainerPort: pulumi.Int(APIServicePort), Protocol: pulumi.String("TCP"),
		}},
		Env: a.env(),
		// Readiness also needs a writable state directory: a full disk
		// takes the replica out of service without restarting it.
		ReadinessProbe: probe("/readyz", 5, 3),
		// /healthz also asks the database: a short outage must not restart
		// every replica, so liveness gives it a minute.
		LivenessProbe:   probe("/healthz", 10, 6),
		Resources:       a.Resources.requirements(),
		SecurityContext: restrictedContainer(true),
		VolumeMounts: corev1.VolumeMountArray{
			mount("state", apiStateDir, false), mount("pulumi-home", apiPulumiHome, false), mount("tmp", "/tmp", false),
			mount("secrets", apiSecretsDir, true),
		},
	}
}

func (a *APIServiceArgs) env() corev1.EnvVarArray {
	fromSecret := func(name, key string) *corev1.EnvVarArgs {
		return &corev1.EnvVarArgs{Name: pulumi.String(name), ValueFrom: &corev1.EnvVarSourceArgs{
			SecretKeyRef: &corev1.SecretKeySelectorArgs{Name: pulumi.String(a.Name), Key: pulumi.String(key)},
		}}
	}
	plain := func(name, value string) *corev1.EnvVarArgs {
		return &corev1.EnvVarArgs{Name: pulumi.String(name), Value: pulumi.String(value)}
	}
	env := corev1.EnvVarArray{
		plain("HOME", apiStateDir),
		plain("PULUMI_HOME", apiPulumiHome),
		plain("PULUMI_SKIP_UPDATE_CHECK", "true"),
		plain("PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION", "true"),
		fromSecret("PULUMI_CONFIG_PASSPHRASE", apiSecretPassphrase),
		// The platform's ConfigMap lives in the service's own namespace.
		&corev1.EnvVarArgs{Name: pulumi.String("APPHUB_PLATFORM_NAMESPACE"), ValueFrom: &corev1.EnvVarSourceArgs{
			FieldRef: &corev1.ObjectFieldSelectorArgs{FieldPath: pulumi.String("metadata.namespace")},
		}},
	}
	if a.DatabaseURL != nil {
		env = append(env, fromSecret("APPHUB_DATABASE_URL", apiSecretDatabaseURL))
	}
	return env
}

func (a *APIServiceArgs) volumes() corev1.VolumeArray {
	emptyDir := func(name string) *corev1.VolumeArgs {
		return &corev1.VolumeArgs{Name: pulumi.String(name), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{}}
	}
	state := emptyDir("state")
	if a.DatabaseURL == nil {
		state = &corev1.VolumeArgs{Name: pulumi.String("state"), PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSourceArgs{
			ClaimName: pulumi.String(a.Name + "-state"),
		}}
	}
	items := corev1.KeyToPathArray{&corev1.KeyToPathArgs{Key: pulumi.String(apiSecretToken), Path: pulumi.String(apiSecretToken)}}
	if a.WebhookSecret != nil {
		items = append(items, &corev1.KeyToPathArgs{Key: pulumi.String(apiSecretWebhookSecret), Path: pulumi.String(apiSecretWebhookSecret)})
	}
	return corev1.VolumeArray{
		state, emptyDir("pulumi-home"), emptyDir("tmp"),
		&corev1.VolumeArgs{Name: pulumi.String("secrets"), Secret: &corev1.SecretVolumeSourceArgs{
			SecretName: pulumi.String(a.Name), Items: items,
		}},
	}
}

func mount(name, path string, readOnly bool) *corev1.VolumeMountArgs {
	return &corev1.VolumeMountArgs{Name: pulumi.String(name), MountPath: pulumi.String(path), ReadOnly: pulumi.Bool(readOnly)}
}
