package components

import (
	_ "embed"
	"fmt"
	"strconv"

	"github.com/pulumi/pulumi-command/sdk/go/command/local"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// DefaultARCFinalizerTimeoutSeconds bounds how long a destroy waits for the
// ARC controller to clear its own finalizers.
const DefaultARCFinalizerTimeoutSeconds = 120

// newARCFinalizerGuard registers a command whose delete runs between the
// scale set's uninstall and the controller's. The scale-set chart puts
// actions.github.com/cleanup-protection finalizers on its Roles,
// RoleBindings, ServiceAccounts and Secret, and the controller adds its own
// to the runner sets and listeners; only a reconciling controller removes
// them (actions-runner-controller #3440, #4484). With a dead, missing or
// stuck controller the namespaces would never finish deleting. The guard
// waits up to timeout for the controller; then, and only then, it removes
// the ARC finalizers of this scale set's objects itself and says which.
func newARCFinalizerGuard(ctx *pulumi.Context, name string, args *ARCArgs, opts ...pulumi.ResourceOption) (*local.Command, error) {
	timeout := args.FinalizerTimeoutSeconds
	if timeout == 0 {
		timeout = DefaultARCFinalizerTimeoutSeconds
	}
	kubeconfig := pulumi.StringInput(pulumi.String(""))
	if args.Kubeconfig != nil {
		kubeconfig = pulumi.ToSecret(args.Kubeconfig).(pulumi.StringOutput)
	}
	kubeContext := pulumi.StringInput(pulumi.String(""))
	if args.KubeContext != nil {
		kubeContext = args.KubeContext
	}
	cmd, err := local.NewCommand(ctx, name, &local.CommandArgs{
		Create:      pulumi.Sprintf("echo ARC finalizer guard for scale set %s/%s", args.RunnersNamespace, args.ScaleSetName),
		Delete:      pulumi.String(arcFinalizerScript),
		Interpreter: pulumi.ToStringArray([]string{"bash", "-c"}),
		Environment: pulumi.StringMap{
			"ARC_KUBECONFIG":           kubeconfig,
			"ARC_KUBE_CONTEXT":         kubeContext,
			"ARC_CONTROLLER_NAMESPACE": pulumi.String(args.ControllerNamespace),
			"ARC_CONTROLLER":           pulumi.String(ARCControllerServiceAccount(args.ControllerRelease)),
			"ARC_RUNNERS_NAMESPACE":    pulumi.String(args.RunnersNamespace),
			"ARC_SCALE_SET":            pulumi.String(args.ScaleSetName),
			"ARC_TIMEOUT_SECONDS":      pulumi.String(strconv.Itoa(timeout)),
		},
		Logging: local.LoggingStdoutAndStderr,
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("finalizer guard: %w", err)
	}
	return cmd, nil
}

// arcFinalizerScript is the guard's delete (bash and kubectl). It touches
// only objects labelled with this scale set's name and namespace.
//
//go:embed arc_finalizers.sh
var arcFinalizerScript string
