package components

import (
	"fmt"

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
const buildkitSocketDir = "/run/buildkit"

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

	controllerNS, err := NewNamespace(ctx, name+"-controller", &NamespaceArgs{
		Name: args.ControllerNamespace, Enforce: PodSecurityRestricted,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("arc %q: %w", name, err)
	}
	// Runner pods carry the rootless BuildKit sidecar (unconfined seccomp
	// and AppArmor), which only "privileged" admits.
	runnersNS, err := NewNamespace(ctx, name+"-runners", &NamespaceArgs{
		Name: args.RunnersNamespace, Enforce: PodSecurityPrivileged, Warn: PodSecurityBaseline,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("arc %q: %w", name, err)
	}

	controllerArgs := &HelmReleaseArgs{
		Name:          pulumi.String(args.ControllerRelease),
		Namespace:     controllerNS.Name,
		Atomic:        pulumi.Bool(true),
		CleanupOnFail: pulumi.Bool(true),
		Timeout:       pulumi.Int(600),
		Values: pulumi.Map{
			"serviceAccount": pulumi.Map{"create": pulumi.Bool(true)},
		},
	}
	args.ControllerChart.applyTo(controllerArgs)
	controller, err := newHelmRelease(ctx, name+"-controller", controllerArgs, parent)
	if err != nil {
		return nil, fmt.Errorf("arc %q: controller: %w", name, err)
	}

	secretName := args.ScaleSetName + "-github-app"
	secret, err := corev1.NewSecret(ctx, name+"-github-app", &corev1.SecretArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:      pulumi.String(secretName),
			Namespace: runnersNS.Name,
			Labels:    commonLabels(args.ScaleSetName, "arc", nil),
		},
		Type: pulumi.String("Opaque"),
		// ARC reads the ids as strings.
		StringData: pulumi.StringMap{
			"github_app_id":              pulumi.ToSecret(args.AppID).(pulumi.StringOutput),
			"github_app_installation_id": pulumi.ToSecret(args.InstallationID).(pulumi.StringOutput),
			"github_app_private_key":     pulumi.ToSecret(args.PrivateKey).(pulumi.StringOutput),
		},
	}, parent, pulumi.AdditionalSecretOutputs([]string{"data", "stringData"}))
	if err != nil {
		return nil, fmt.Errorf("arc %q: github app secret: %w", name, err)
	}

	scaleSetArgs := &HelmReleaseArgs{
		Name:          pulumi.String(args.ScaleSetName),
		Namespace:     runnersNS.Name,
		Atomic:        pulumi.Bool(true),
		CleanupOnFail: pulumi.Bool(true),
		Timeout:       pulumi.Int(600),
		Values:        scaleSetValues(args, secretName),
	}
	args.ScaleSetChart.applyTo(scaleSetArgs)
	_, err = newHelmRelease(ctx, name+"-runners", scaleSetArgs, parent, pulumi.DependsOn([]pulumi.Resource{controller, secret}))
	if err != nil {
		return nil, fmt.Errorf("arc %q: scale set: %w", name, err)
	}

	if err := finish(ctx, comp, "arc", name, pulumi.Map{"scaleSetName": comp.ScaleSetName}); err != nil {
		return nil, err
	}
	return comp, nil
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
	}
	return nil
}

// scaleSetValues are the gha-runner-scale-set values: App auth through the
// secret, autoscaling bounds, and a runner pod with a rootless BuildKit
// native sidecar sharing its socket. containerMode stays empty because the
// template is customised.
func scaleSetValues(a *ARCArgs, secretName string) pulumi.Map {
	socket := "unix://" + buildkitSocketDir + "/buildkitd.sock"
	unconfined := pulumi.Map{"type": pulumi.String("Unconfined")}
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
		"template": pulumi.Map{
			"spec": pulumi.Map{
				// The runner image's user is uid 1001; BuildKit hands its
				// socket to that group so the runner can connect.
				"securityContext": pulumi.Map{"fsGroup": pulumi.Int(1001)},
				"initContainers": pulumi.Array{pulumi.Map{
					"name":          pulumi.String("buildkitd"),
					"image":         pulumi.String(a.BuildkitImage),
					"restartPolicy": pulumi.String("Always"),
					"args": pulumi.ToStringArray([]string{
						"--addr", socket, "--group", "1001", "--oci-worker-no-process-sandbox",
					}),
					"securityContext": pulumi.Map{
						"runAsUser":       pulumi.Int(1000),
						"runAsGroup":      pulumi.Int(1000),
						"seccompProfile":  unconfined,
						"appArmorProfile": unconfined,
					},
					"readinessProbe": pulumi.Map{
						"exec":          pulumi.Map{"command": pulumi.ToStringArray([]string{"buildctl", "--addr", socket, "debug", "workers"})},
						"periodSeconds": pulumi.Int(5),
					},
					"volumeMounts": pulumi.Array{
						pulumi.Map{"name": pulumi.String("buildkit-socket"), "mountPath": pulumi.String(buildkitSocketDir)},
						pulumi.Map{"name": pulumi.String("buildkit-state"), "mountPath": pulumi.String("/home/user/.local/share/buildkit")},
					},
				}},
				"containers": pulumi.Array{pulumi.Map{
					"name":    pulumi.String("runner"),
					"image":   pulumi.String(a.RunnerImage),
					"command": pulumi.ToStringArray([]string{"/home/runner/run.sh"}),
					"env": pulumi.Array{
						pulumi.Map{"name": pulumi.String("BUILDKIT_HOST"), "value": pulumi.String(socket)},
					},
					"volumeMounts": pulumi.Array{
						pulumi.Map{"name": pulumi.String("buildkit-socket"), "mountPath": pulumi.String(buildkitSocketDir)},
					},
				}},
				"volumes": pulumi.Array{
					pulumi.Map{"name": pulumi.String("buildkit-socket"), "emptyDir": pulumi.Map{}},
					pulumi.Map{"name": pulumi.String("buildkit-state"), "emptyDir": pulumi.Map{}},
				},
			},
		},
	}
}
