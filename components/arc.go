package components

import (
	"fmt"
	helmv3 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v3"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// ARCType is the Pulumi type token of the ARC component.
const ARCType = "apphub:components:ARC"

// Default ARC chart references (actions/actions-runner-controller, OCI on
// ghcr.io); ARCArgs takes any ChartRef, e.g. a mirror or a local archive.
const (
	ARCControllerChart = "oci://ghcr.io/actions/actions-runner-controller-charts/gha-runner-scale-set-controller"
	ARCScaleSetChart   = "oci://ghcr.io/actions/actions-runner-controller-charts/gha-runner-scale-set"
)

// buildkitSocketDir is shared by the BuildKit sidecar and the runner.
const (
	buildkitSocketDir = "/run/buildkit"
	buildkitSocket    = "unix://" + buildkitSocketDir + "/buildkitd.sock"
)

// ARCArgs configures the GitHub Actions Runner Controller and one runner
// scale set authenticated as a GitHub App.
type ARCArgs struct {
	ControllerNamespace string
	RunnersNamespace    string
	// ControllerRelease names the controller's Helm release; the chart names
	// its service account <release>-gha-rs-controller.
	ControllerRelease string
	// ControllerChart and ScaleSetChart must be the same chart version:
	// the scale set's CRDs come with the controller.
	ControllerChart ChartRef
	ScaleSetChart   ChartRef
	// GitHubConfigURL is the org or repository URL runners register with.
	GitHubConfigURL string
	AppID           pulumi.StringInput
	InstallationID  pulumi.StringInput
	PrivateKey      pulumi.StringInput
	// ScaleSetName is both the scale set's release name and its `runs-on` label.
	ScaleSetName string
	MinRunners   int
	MaxRunners   int
	RunnerImage  string
	// BuildkitImage is the rootless BuildKit sidecar image.
	BuildkitImage string
	// Kubeconfig (path or contents; empty: the default) and KubeContext
	// reach the cluster for the finalizer guard that destroy runs.
	Kubeconfig  pulumi.StringInput
	KubeContext pulumi.StringInput
	// FinalizerTimeoutSeconds is how long a destroy waits for the
	// controller to clear its finalizers before the guard removes them.
	// Default DefaultARCFinalizerTimeoutSeconds.
	FinalizerTimeoutSeconds int
}

// ARC is the controller release, the runner scale set release and the App secret.
type ARC struct {
	pulumi.ResourceState

	ScaleSetName pulumi.StringOutput
}

// NewARC installs the controller, then the scale set. The scale set depends
// on both the controller and the GitHub secret, so destroy removes it first:
// its runners carry finalizers only a live controller clears, and it needs
// the secret to deregister from GitHub.
func NewARC(ctx *pulumi.Context, name string, args *ARCArgs, opts ...pulumi.ResourceOption) (*ARC, error) {
	if args == nil {
		return nil, fmt.Errorf("arc %q: %w", name, errNilArgs)
	}
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("arc %q: %w", name, err)
	}
	comp := &ARC{ScaleSetName: pulumi.String(args.ScaleSetName).ToStringOutput()}
	if err := ctx.RegisterComponentResource(ARCType, name, comp, opts...); err != nil {
		return nil, fmt.Errorf("arc %q: registering component: %w", name, err)
	}
	parent := pulumi.Parent(comp)
	controllerNS, runnersNS, err := args.newNamespaces(ctx, name, parent)
	if err != nil {
		return nil, fmt.Errorf("arc %q: %w", name, err)
	}
	controller, err := args.newController(ctx, name, controllerNS, parent)
	if err != nil {
		return nil, fmt.Errorf("arc %q: controller: %w", name, err)
	}
	secret, err := args.newGitHubSecret(ctx, name, runnersNS, parent)
	if err != nil {
		return nil, fmt.Errorf("arc %q: github app secret: %w", name, err)
	}
	// Deleted after the scale set and before the controller and the GitHub
	// App Secret, so a live controller gets its chance to deregister the
	// runners and clean up first.
	guard, err := newARCFinalizerGuard(ctx, name+"-finalizer-guard", args, parent,
		pulumi.DependsOn([]pulumi.Resource{controller, secret, controllerNS, runnersNS}))
	if err != nil {
		return nil, fmt.Errorf("arc %q: %w", name, err)
	}
	if err := args.newScaleSet(ctx, name, runnersNS, parent, pulumi.DependsOn([]pulumi.Resource{controller, secret, guard})); err != nil {
		return nil, fmt.Errorf("arc %q: scale set: %w", name, err)
	}
	if err := finish(ctx, comp, "arc", name, pulumi.Map{"scaleSetName": comp.ScaleSetName}); err != nil {
		return nil, err
	}
	return comp, nil
}

func (a *ARCArgs) newNamespaces(ctx *pulumi.Context, name string, parent pulumi.ResourceOption) (controller, runners *Namespace, err error) {
	controller, err = NewNamespace(ctx, name+"-controller", &NamespaceArgs{
		Name: a.ControllerNamespace, Enforce: PodSecurityRestricted,
	}, parent)
	if err != nil {
		return nil, nil, err
	}
	// Runner pods carry the rootless BuildKit sidecar (unconfined seccomp
	// and AppArmor), which only "privileged" admits.
	runners, err = NewNamespace(ctx, name+"-runners", &NamespaceArgs{
		Name: a.RunnersNamespace, Enforce: PodSecurityPrivileged, Warn: PodSecurityBaseline,
	}, parent)
	if err != nil {
		return nil, nil, err
	}
	return controller, runners, nil
}

func (a *ARCArgs) newController(ctx *pulumi.Context, name string, ns *Namespace, parent pulumi.ResourceOption) (*helmv3.Release, error) {
	releaseArgs := &helmv3.ReleaseArgs{
		Name:          pulumi.String(a.ControllerRelease),
		Namespace:     ns.Name,
		Atomic:        pulumi.Bool(true),
		CleanupOnFail: pulumi.Bool(true),
		Timeout:       pulumi.Int(600),
		Values: pulumi.Map{
			"serviceAccount": pulumi.Map{"create": pulumi.Bool(true)},
			// The chart sets no security context, and arc-systems enforces
			// Pod Security "restricted": without these the ReplicaSet's
			// pods are forbidden and the release waits out its timeout.
			"podSecurityContext": restrictedPodSecurity(),
			"securityContext":    restrictedContainerSecurity(),
		},
	}
	a.ControllerChart.applyTo(releaseArgs)
	return helmv3.NewRelease(ctx, name+"-controller", releaseArgs, parent)
}

// secretName is the GitHub App secret the scale set authenticates with.
func (a *ARCArgs) secretName() string { return a.ScaleSetName + "-github-app" }

func (a *ARCArgs) newGitHubSecret(ctx *pulumi.Context, name string, ns *Namespace, parent pulumi.ResourceOption) (*corev1.Secret, error) {
	return corev1.NewSecret(ctx, name+"-github-app", &corev1.SecretArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:      pulumi.String(a.secretName()),
			Namespace: ns.Name,
			Labels:    commonLabels(a.ScaleSetName, "arc", nil),
		},
		Type: pulumi.String("Opaque"),
		// ARC reads the ids as strings.
		StringData: pulumi.StringMap{
			"github_app_id":              pulumi.ToSecret(a.AppID).(pulumi.StringOutput),
			"github_app_installation_id": pulumi.ToSecret(a.InstallationID).(pulumi.StringOutput),
			"github_app_private_key":     pulumi.ToSecret(a.PrivateKey).(pulumi.StringOutput),
		},
	}, parent, pulumi.AdditionalSecretOutputs([]string{"data", "stringData"}))
}

func (a *ARCArgs) newScaleSet(ctx *pulumi.Context, name string, ns *Namespace, opts ...pulumi.ResourceOption) error {
	// Helm's wait proves nothing for this chart (no workload of its own:
	// the controller starts listeners and runners), and an uninstall that
	// waits would hang on the finalizers before the guard could run.
	releaseArgs := &helmv3.ReleaseArgs{
		Name:          pulumi.String(a.ScaleSetName),
		Namespace:     ns.Name,
		CleanupOnFail: pulumi.Bool(true),
		SkipAwait:     pulumi.Bool(true),
		Timeout:       pulumi.Int(600),
		Values:        scaleSetValues(a, a.secretName()),
	}
	a.ScaleSetChart.applyTo(releaseArgs)
	_, err := helmv3.NewRelease(ctx, name+"-runners", releaseArgs, opts...)
	return err
}

// ARCControllerServiceAccount is the controller chart's service account name.
func ARCControllerServiceAccount(release string) string { return release + "-gha-rs-controller" }

func (a *ARCArgs) validate() error {
	switch {
	case a.ControllerNamespace == "" || a.RunnersNamespace == "":
		return fmt.Errorf("controller and runner namespaces are required")
	case a.ControllerNamespace == a.RunnersNamespace:
		return fmt.Errorf("controller and runners need separate namespaces (different Pod Security levels)")
	case a.ControllerRelease == "" || a.ScaleSetName == "":
		return fmt.Errorf("controller release and scale set name are required")
	case a.ControllerChart.Err() != nil:
		return fmt.Errorf("controller %w", a.ControllerChart.Err())
	case a.ScaleSetChart.Err() != nil:
		return fmt.Errorf("scale set %w", a.ScaleSetChart.Err())
	case a.GitHubConfigURL == "":
		return fmt.Errorf("a GitHub config URL is required")
	case a.AppID == nil || a.InstallationID == nil || a.PrivateKey == nil:
		return fmt.Errorf("GitHub App id, installation id and private key are required")
	case a.MinRunners < 0 || a.MaxRunners < 1 || a.MinRunners > a.MaxRunners:
		return fmt.Errorf("runners: need 0 <= min (%d) <= max (%d) and max >= 1", a.MinRunners, a.MaxRunners)
	case a.RunnerImage == "" || a.BuildkitImage == "":
		return fmt.Errorf("runner and BuildKit images are required")
	case a.FinalizerTimeoutSeconds < 0:
		return fmt.Errorf("finalizer timeout must not be negative, got %d", a.FinalizerTimeoutSeconds)
	}
	return nil
}

// arcUserID is the distroless "nonroot" user of the controller and
// listener image.
const arcUserID = 65532

// restrictedPodSecurity is the pod-level part of Pod Security "restricted".
func restrictedPodSecurity() pulumi.Map {
	return pulumi.Map{
		"runAsNonRoot":   pulumi.Bool(true),
		"runAsUser":      pulumi.Int(arcUserID),
		"runAsGroup":     pulumi.Int(arcUserID),
		"seccompProfile": pulumi.Map{"type": pulumi.String("RuntimeDefault")},
	}
}

// restrictedContainerSecurity is the container-level part.
func restrictedContainerSecurity() pulumi.Map {
	return pulumi.Map{
		"allowPrivilegeEscalation": pulumi.Bool(false),
		"readOnlyRootFilesystem":   pulumi.Bool(true),
		"runAsNonRoot":             pulumi.Bool(true),
		"capabilities":             pulumi.Map{"drop": pulumi.ToStringArray([]string{"ALL"})},
	}
}

// scaleSetValues are the gha-runner-scale-set values: App auth through the
// secret, autoscaling bounds, and a runner pod with a rootless BuildKit
// native sidecar sharing its socket. containerMode stays empty because the
// template is customised.
func scaleSetValues(a *ARCArgs, secretName string) pulumi.Map {
	return pulumi.Map{
		"githubConfigUrl":    pulumi.String(a.GitHubConfigURL),
		"githubConfigSecret": pulumi.String(secretName),
		"runnerScaleSetName": pulumi.String(a.ScaleSetName),
		"minRunners":         pulumi.Int(a.MinRunners),
		"maxRunners":         pulumi.Int(a.MaxRunners),
		// The chart looks the controller up at render time and fails when it
		// is installed in the same update; naming it explicitly avoids that.
		"controllerServiceAccount": pulumi.Map{
			"namespace": pulumi.String(a.ControllerNamespace),
			"name":      pulumi.String(ARCControllerServiceAccount(a.ControllerRelease)),
		},
		// The controller starts a listener pod per scale set in its own
		// (restricted) namespace from this template.
		"listenerTemplate": pulumi.Map{
			"spec": pulumi.Map{
				"securityContext": restrictedPodSecurity(),
				"containers": pulumi.Array{pulumi.Map{
					"name":            pulumi.String("listener"),
					"securityContext": restrictedContainerSecurity(),
				}},
			},
		},
		"template": pulumi.Map{"spec": a.runnerPodSpec()},
	}
}

func (a *ARCArgs) runnerPodSpec() pulumi.Map {
	return pulumi.Map{
		// The runner image's user is uid 1001; BuildKit hands its
		// socket to that group so the runner can connect.
		"securityContext": pulumi.Map{"fsGroup": pulumi.Int(1001)},
		"initContainers":  pulumi.Array{a.buildkitSidecar()},
		"containers": pulumi.Array{pulumi.Map{
			"name":    pulumi.String("runner"),
			"image":   pulumi.String(a.RunnerImage),
			"command": pulumi.ToStringArray([]string{"/home/runner/run.sh"}),
			"env": pulumi.Array{
				pulumi.Map{"name": pulumi.String("BUILDKIT_HOST"), "value": pulumi.String(buildkitSocket)},
			},
			"volumeMounts": pulumi.Array{
				pulumi.Map{"name": pulumi.String("buildkit-socket"), "mountPath": pulumi.String(buildkitSocketDir)},
			},
		}},
		"volumes": pulumi.Array{
			pulumi.Map{"name": pulumi.String("buildkit-socket"), "emptyDir": pulumi.Map{}},
			pulumi.Map{"name": pulumi.String("buildkit-state"), "emptyDir": pulumi.Map{}},
		},
	}
}

// buildkitSidecar is the rootless BuildKit daemon; restartPolicy Always
// makes it a native sidecar, started before the runner and stopped after it.
func (a *ARCArgs) buildkitSidecar() pulumi.Map {
	unconfined := pulumi.Map{"type": pulumi.String("Unconfined")}
	return pulumi.Map{
		"name":          pulumi.String("buildkitd"),
		"image":         pulumi.String(a.BuildkitImage),
		"restartPolicy": pulumi.String("Always"),
		"args": pulumi.ToStringArray([]string{
			"--addr", buildkitSocket, "--group", "1001", "--oci-worker-no-process-sandbox",
		}),
		"securityContext": pulumi.Map{
			"runAsUser":       pulumi.Int(1000),
			"runAsGroup":      pulumi.Int(1000),
			"seccompProfile":  unconfined,
			"appArmorProfile": unconfined,
		},
		"readinessProbe": pulumi.Map{
			"exec":          pulumi.Map{"command": pulumi.ToStringArray([]string{"buildctl", "--addr", buildkitSocket, "debug", "workers"})},
			"periodSeconds": pulumi.Int(5),
		},
		"volumeMounts": pulumi.Array{
			pulumi.Map{"name": pulumi.String("buildkit-socket"), "mountPath": pulumi.String(buildkitSocketDir)},
			pulumi.Map{"name": pulumi.String("buildkit-state"), "mountPath": pulumi.String("/home/user/.local/share/buildkit")},
		},
	}
}
