package components

import (
	"fmt"
	"strings"
	"time"

	batchv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/batch/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// BuildJobType is the Pulumi type token of the BuildJob component.
const BuildJobType = "apphub:components:BuildJob"

// Build labels and names.
const (
	LabelBuild       = "apphub.io/build"
	BuildNamePrefix  = "build-"
	buildkitHome     = "/home/user"
	buildMetadataLog = "/dev/termination-log"
	// BuildCAConfigMap and BuildCAKey hold the CA bundle builds trust
	// besides the builder image's own (the platform's buildCaBundle).
	BuildCAConfigMap = "apphub-build-ca"
	BuildCAKey       = "ca.crt"
	// buildCAPath is a file in the image's certificate directory: git
	// (libcurl's CA path) and Go's TLS in buildkitd read every file there,
	// while environment variables never reach the git BuildKit runs.
	buildCAPath = "/etc/ssl/certs/apphub-build-ca.crt"
)

// BuildAwaitGrace is added to the Job's deadline for Pulumi's own timeout, so
// the Job's DeadlineExceeded reason reaches the update before Pulumi gives up.
const BuildAwaitGrace = 60 * time.Second

// BuildJobArgs is one BuildKit build.
type BuildJobArgs struct {
	BuildID   string
	Namespace string
	// BuilderImage is a rootless BuildKit image with buildctl-daemonless.sh.
	BuilderImage string
	// BuilderAddress, when set, is the persistent builder the Job sends
	// the build to with buildctl, authenticated by the client certificate
	// in BuilderClientSecret; empty runs an ephemeral daemon in the Job.
	BuilderAddress      string
	BuilderClientSecret string
	ServiceAccount      string
	// Context is a git URL with an optional #ref[:subdir] fragment, or a
	// tarball URL: BuildKit fetches it itself.
	Context string
	// Dockerfile is the path of the Dockerfile inside the context.
	Dockerfile string
	BuildArgs  map[string]string
	// PushRef is where the image is pushed, one or more names separated
	// by commas; ImageRef is how pods pull it (the two differ for
	// in-cluster registries).
	PushRef  string
	ImageRef string
	// InsecureRegistry pushes over plain HTTP (k3d and in-cluster registries).
	InsecureRegistry bool
	// RegistrySecret is a dockerconfigjson Secret with push credentials.
	RegistrySecret string
	// CAConfigMap is a ConfigMap whose BuildCAKey holds extra PEM
	// certificates to trust (git servers, registries); empty for none.
	CAConfigMap    string
	TimeoutSeconds int
	TTLSeconds     int
	BackoffLimit   int
	Resources      ContainerResources
}

// BuildJob is a Job the update waits on until it completes or fails.
type BuildJob struct {
	pulumi.ResourceState

	// ImageRef is the pulled reference of the pushed image.
	ImageRef pulumi.StringOutput
	JobName  pulumi.StringOutput
}

// BuildName is the Job name of a build.
func BuildName(id string) string { return BuildNamePrefix + id }

// NewBuildJob creates the Job. Pulumi's Job await makes the update succeed
// only on Complete and fail at once on Failed (BackoffLimitExceeded,
// DeadlineExceeded) with that reason; pulumi.com/replaceUnready replaces a
// Job that failed last time instead of waiting on it again.
func NewBuildJob(ctx *pulumi.Context, name string, args *BuildJobArgs, opts ...pulumi.ResourceOption) (*BuildJob, error) {
	if args == nil {
		return nil, fmt.Errorf("build %q: %w", name, errNilArgs)
	}
	a := *args
	if a.BuildID == "" || a.Namespace == "" || a.BuilderImage == "" || a.Context == "" || a.PushRef == "" || a.ServiceAccount == "" {
		return nil, fmt.Errorf("build %q: build id, namespace, builder image, context, push reference and service account are required", name)
	}
	if (a.BuilderAddress == "") != (a.BuilderClientSecret == "") {
		return nil, fmt.Errorf("build %q: a persistent builder needs both its address and its client certificate secret", name)
	}
	if a.TimeoutSeconds <= 0 || a.TTLSeconds < 0 || a.BackoffLimit < 0 {
		return nil, fmt.Errorf("build %q: timeout must be positive, TTL and backoff limit non-negative", name)
	}
	if a.ImageRef == "" {
		a.ImageRef, _, _ = strings.Cut(a.PushRef, ",")
	}
	comp := &BuildJob{}
	if err := ctx.RegisterComponentResource(BuildJobType, name, comp, opts...); err != nil {
		return nil, fmt.Errorf("build %q: registering component: %w", name, err)
	}
	objName := BuildName(a.BuildID)
	labels := commonLabels("build", "build", map[string]string{LabelBuild: a.BuildID})
	timeout := time.Duration(a.TimeoutSeconds)*time.Second + BuildAwaitGrace

	job, err := batchv1.NewJob(ctx, name, &batchv1.JobArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:      pulumi.String(objName),
			Namespace: pulumi.String(a.Namespace),
			Labels:    labels,
			Annotations: pulumi.StringMap{
				"pulumi.com/replaceUnready": pulumi.String("true"),
				AnnotationFieldManager:      pulumi.String(FieldManager("build", a.BuildID)),
				"apphub.io/image":           pulumi.String(a.ImageRef),
			},
		},
		Spec: &batchv1.JobSpecArgs{
			ActiveDeadlineSeconds:   pulumi.Int(a.TimeoutSeconds),
			TtlSecondsAfterFinished: pulumi.Int(a.TTLSeconds),
			BackoffLimit:            pulumi.Int(a.BackoffLimit),
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: labels},
				Spec:     buildPodSpec(&a),
			},
		},
	}, pulumi.Parent(comp), pulumi.Timeouts(&pulumi.CustomTimeouts{
		Create: timeout.String(), Update: timeout.String(),
	}))
	if err != nil {
		return nil, fmt.Errorf("build %q: creating job: %w", name, err)
	}
	// Derive the reference from the Job so readers wait for the build.
	comp.JobName = job.Metadata.Name().Elem()
	comp.ImageRef = comp.JobName.ApplyT(func(string) string { return a.ImageRef }).(pulumi.StringOutput)
	if err := finish(ctx, comp, "build", name, pulumi.Map{"imageRef": comp.ImageRef, "jobName": comp.JobName}); err != nil {
		return nil, err
	}
	return comp, nil
}

// BuildScript runs one build: buildctl-daemonless.sh starts a rootless
// BuildKit in the Job (ephemeral), or buildctl sends it to the persistent
// builder at BUILD_BUILDER (not BUILDKIT_HOST: the image sets that to its
// own socket), which must answer first (a builder that is
// down fails the build at once, saying so). Inputs arrive as environment
// variables and positional arguments, never spliced into the script, so a
// ref or build argument cannot inject shell. The image digest from
// BuildKit's metadata goes to the termination message, where the
// Automation API reads it (kubectl: .status.containerStatuses[0].state
// .terminated.message).
const BuildScript = `set -eu
if [ -n "${BUILD_BUILDER:-}" ]; then
  set -- --addr "${BUILD_BUILDER}" --tlsdir ` + builderCertsPath + ` build "$@"
  if ! err=$(buildctl --addr "${BUILD_BUILDER}" --tlsdir ` + builderCertsPath + ` debug workers 2>&1 >/dev/null); then
    echo "the persistent builder ${BUILD_BUILDER} does not answer: ${err}" | tee ` + buildMetadataLog + ` >&2
    exit 1
  fi
  builder=buildctl
else
  set -- build "$@"
  builder=buildctl-daemonless.sh
fi
"$builder" "$@" \
  --frontend dockerfile.v0 \
  --opt "context=${BUILD_CONTEXT}" \
  --opt "filename=${BUILD_DOCKERFILE}" \
  --output "type=image,\"name=${BUILD_PUSH_REF}\",push=true${BUILD_INSECURE}" \
  --metadata-file /tmp/build-metadata.json
sed -n 's/.*"containerimage.digest": *"\(sha256:[0-9a-f]*\)".*/\1/p' /tmp/build-metadata.json | head -n 1 > ` + buildMetadataLog + `
`

func buildPodSpec(a *BuildJobArgs) *corev1.PodSpecArgs {
	spec := &corev1.PodSpecArgs{
		RestartPolicy:                pulumi.String("Never"),
		ServiceAccountName:           pulumi.String(a.ServiceAccount),
		AutomountServiceAccountToken: pulumi.Bool(false),
		EnableServiceLinks:           pulumi.Bool(false),
		Containers:                   corev1.ContainerArray{a.container()},
		Volumes:                      a.volumes(),
	}
	if a.persistent() {
		// Only a client: Pod Security "restricted" is enough.
		spec.SecurityContext = restrictedPod(builderUID)
	}
	return spec
}

// buildClientResources size a Job that only runs buildctl against the
// persistent builder; the build's own resources size an ephemeral daemon.
var buildClientResources = ContainerResources{CPURequest: "50m", MemoryRequest: "64Mi", CPULimit: "500m", MemoryLimit: "256Mi"}

// persistent reports a build sent to the persistent builder.
func (a *BuildJobArgs) persistent() bool { return a.BuilderAddress != "" }

func (a *BuildJobArgs) container() *corev1.ContainerArgs {
	c := &corev1.ContainerArgs{
		Name:                     pulumi.String("buildkit"),
		Image:                    pulumi.String(a.BuilderImage),
		Command:                  pulumi.ToStringArray([]string{"sh", "-c", BuildScript}),
		Args:                     pulumi.ToStringArray(a.scriptArgs()),
		Env:                      a.env(),
		TerminationMessagePolicy: pulumi.String("FallbackToLogsOnError"),
		Resources:                a.Resources.requirements(),
		SecurityContext:          restrictedContainer(false),
		VolumeMounts:             a.mounts(),
	}
	if a.persistent() {
		// The build runs in the builder: the Job is only buildctl.
		c.Resources = buildClientResources.requirements()
	} else {
		// Rootless BuildKit: UID 1000 and unconfined seccomp/AppArmor (user
		// namespaces); the build namespace admits this, previews' does not.
		unconfined := &corev1.SeccompProfileArgs{Type: pulumi.String("Unconfined")}
		c.SecurityContext = &corev1.SecurityContextArgs{
			RunAsUser:       pulumi.Int(builderUID),
			RunAsGroup:      pulumi.Int(builderUID),
			SeccompProfile:  unconfined,
			AppArmorProfile: &corev1.AppArmorProfileArgs{Type: pulumi.String("Unconfined")},
		}
	}
	return c
}

// scriptArgs are BuildScript's positional arguments: the build arguments,
// in a stable order.
func (a *BuildJobArgs) scriptArgs() []string {
	args := []string{"sh"} // $0 for sh -c
	for _, k := range sortedKeys(a.BuildArgs) {
		args = append(args, "--opt", "build-arg:"+k+"="+a.BuildArgs[k])
	}
	return args
}

func (a *BuildJobArgs) env() corev1.EnvVarArray {
	insecure := ""
	if a.InsecureRegistry {
		insecure = ",registry.insecure=true"
	}
	dockerfile := a.Dockerfile
	if dockerfile == "" {
		dockerfile = "Dockerfile"
	}
	env := corev1.EnvVarArray{
		&corev1.EnvVarArgs{Name: pulumi.String("BUILD_CONTEXT"), Value: pulumi.String(a.Context)},
		&corev1.EnvVarArgs{Name: pulumi.String("BUILD_DOCKERFILE"), Value: pulumi.String(dockerfile)},
		&corev1.EnvVarArgs{Name: pulumi.String("BUILD_PUSH_REF"), Value: pulumi.String(a.PushRef)},
		&corev1.EnvVarArgs{Name: pulumi.String("BUILD_INSECURE"), Value: pulumi.String(insecure)},
	}
	if a.persistent() {
		env = append(env, &corev1.EnvVarArgs{Name: pulumi.String("BUILD_BUILDER"), Value: pulumi.String(a.BuilderAddress)})
	} else {
		// Rootless BuildKit cannot create a process sandbox without privileges.
		env = append(env, &corev1.EnvVarArgs{Name: pulumi.String("BUILDKITD_FLAGS"), Value: pulumi.String("--oci-worker-no-process-sandbox")})
	}
	if a.RegistrySecret != "" {
		env = append(env, &corev1.EnvVarArgs{Name: pulumi.String("DOCKER_CONFIG"), Value: pulumi.String(buildkitHome + "/.docker")})
	}
	return env
}

// mounts: the daemon's state and the CA bundle for an ephemeral build
// (the persistent builder has its own), the client certificate for a
// persistent one, and push credentials (buildctl hands them to the daemon).
func (a *BuildJobArgs) mounts() corev1.VolumeMountArray {
	mounts := corev1.VolumeMountArray{&corev1.VolumeMountArgs{
		Name: pulumi.String("buildkitd"), MountPath: pulumi.String(builderStatePath),
	}}
	if a.persistent() {
		mounts = corev1.VolumeMountArray{&corev1.VolumeMountArgs{
			Name: pulumi.String("builder-certs"), MountPath: pulumi.String(builderCertsPath), ReadOnly: pulumi.Bool(true),
		}}
	}
	if a.RegistrySecret != "" {
		mounts = append(mounts, &corev1.VolumeMountArgs{
			Name: pulumi.String("registry-auth"), MountPath: pulumi.String(buildkitHome + "/.docker"), ReadOnly: pulumi.Bool(true),
		})
	}
	if a.CAConfigMap != "" && !a.persistent() {
		mounts = append(mounts, caMount())
	}
	return mounts
}

func (a *BuildJobArgs) volumes() corev1.VolumeArray {
	volumes := corev1.VolumeArray{&corev1.VolumeArgs{Name: pulumi.String("buildkitd"), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{}}}
	if a.persistent() {
		volumes = corev1.VolumeArray{&corev1.VolumeArgs{
			Name: pulumi.String("builder-certs"), Secret: &corev1.SecretVolumeSourceArgs{SecretName: pulumi.String(a.BuilderClientSecret)},
		}}
	}
	if a.RegistrySecret != "" {
		volumes = append(volumes, &corev1.VolumeArgs{
			Name: pulumi.String("registry-auth"),
			Secret: &corev1.SecretVolumeSourceArgs{
				SecretName: pulumi.String(a.RegistrySecret),
				Items: corev1.KeyToPathArray{&corev1.KeyToPathArgs{
					Key: pulumi.String(".dockerconfigjson"), Path: pulumi.String("config.json"),
				}},
			},
		})
	}
	if a.CAConfigMap != "" && !a.persistent() {
		volumes = append(volumes, caVolume(a.CAConfigMap))
	}
	return volumes
}
