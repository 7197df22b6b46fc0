package components

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func arcArgs(mod func(*ARCArgs)) *ARCArgs {
	a := &ARCArgs{
		ControllerNamespace: "arc-systems", RunnersNamespace: "arc-runners",
		ControllerRelease: "arc", ControllerChart: ChartRef{Chart: ARCControllerChart, Version: "0.14.2"}, ScaleSetChart: ChartRef{Chart: ARCScaleSetChart, Version: "0.14.2"},
		GitHubConfigURL: "https://github.com/acme",
		AppID:           pulumi.ToSecret(pulumi.String("123456")).(pulumi.StringOutput),
		InstallationID:  pulumi.ToSecret(pulumi.String("7890")).(pulumi.StringOutput),
		PrivateKey:      pulumi.ToSecret(pulumi.String("-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----\n")).(pulumi.StringOutput),
		ScaleSetName:    "apphub-runners", MinRunners: 1, MaxRunners: 5,
		RunnerImage:   "apphub-registry:5000/apphub-runner:1",
		BuildkitImage: "moby/buildkit:v0.23.2-rootless",
	}
	if mod != nil {
		mod(a)
	}
	return a
}

func TestARCReleasesAndSecret(t *testing.T) {
	m, err := run(t, func(ctx *pulumi.Context) error {
		_, err := NewARC(ctx, "arc", arcArgs(nil))
		return err
	})
	require.NoError(t, err)

	ctrl := m.Find(t, tRelease, "arc-controller")
	assert.Equal(t, "arc", ctrl.Str("name"))
	assert.Equal(t, "arc-systems", ctrl.Str("namespace"))
	assert.Equal(t, ARCControllerChart, ctrl.Str("chart"))
	assert.Equal(t, "0.14.2", ctrl.Str("version"))
	assertParent(t, ctrl, ARCType, "arc")

	sec := m.Find(t, tSecret, "arc-github-app")
	assert.Equal(t, "arc-runners", sec.Str("metadata.namespace"))
	assert.Equal(t, "apphub-runners-github-app", sec.Str("metadata.name"))
	for key, want := range map[string]string{"github_app_id": "123456", "github_app_installation_id": "7890"} {
		assert.Equal(t, want, sec.Str("stringData."+key), "ids are strings")
		assert.True(t, sec.Secret("stringData."+key))
	}
	assert.True(t, sec.Secret("stringData.github_app_private_key"))

	set := m.Find(t, tRelease, "arc-runners")
	assert.Equal(t, "apphub-runners", set.Str("name"))
	assert.Equal(t, "arc-runners", set.Str("namespace"))
	assert.Equal(t, ARCScaleSetChart, set.Str("chart"))
	assert.Equal(t, "https://github.com/acme", set.Str("values.githubConfigUrl"))
	assert.Equal(t, "apphub-runners-github-app", set.Str("values.githubConfigSecret"))
	assert.Equal(t, "apphub-runners", set.Str("values.runnerScaleSetName"))
	assert.Equal(t, float64(1), set.Num("values.minRunners"))
	assert.Equal(t, float64(5), set.Num("values.maxRunners"))
	assert.Equal(t, map[string]any{"namespace": "arc-systems", "name": "arc-gha-rs-controller"}, set.Plain("values.controllerServiceAccount"))
	assert.False(t, set.Has("values.containerMode"), "containerMode stays empty with a custom template")

	// Destroy runs in reverse dependency order: the scale set goes before
	// the controller and before the secret it deregisters with.
	assert.Contains(t, set.Dependencies, ctrl.URN)
	assert.Contains(t, set.Dependencies, sec.URN)

	ns := map[string]string{}
	for _, n := range m.ByType(tNamespace) {
		ns[n.Str("metadata.name")] = n.Plain("metadata.labels").(map[string]any)["pod-security.kubernetes.io/enforce"].(string)
	}
	assert.Equal(t, map[string]string{"arc-systems": "restricted", "arc-runners": "privileged"}, ns)
}

func TestARCRunnerTemplateHasBuildkitSidecar(t *testing.T) {
	m, err := run(t, func(ctx *pulumi.Context) error {
		_, err := NewARC(ctx, "arc", arcArgs(nil))
		return err
	})
	require.NoError(t, err)
	spec := "values.template.spec."
	set := m.Find(t, tRelease, "arc-runners")

	assert.Equal(t, "buildkitd", set.Str(spec+"initContainers.0.name"))
	assert.Equal(t, "Always", set.Str(spec+"initContainers.0.restartPolicy"), "a native sidecar lives as long as the runner")
	assert.Equal(t, "moby/buildkit:v0.23.2-rootless", set.Str(spec+"initContainers.0.image"))
	assert.Equal(t, []string{"--addr", "unix:///run/buildkit/buildkitd.sock", "--group", "1001", "--oci-worker-no-process-sandbox"},
		set.Strings(spec+"initContainers.0.args"))
	assert.Equal(t, "Unconfined", set.Str(spec+"initContainers.0.securityContext.seccompProfile.type"))
	assert.Equal(t, "Unconfined", set.Str(spec+"initContainers.0.securityContext.appArmorProfile.type"))
	assert.Equal(t, float64(1000), set.Num(spec+"initContainers.0.securityContext.runAsUser"))

	assert.Equal(t, "runner", set.Str(spec+"containers.0.name"))
	assert.Equal(t, "apphub-registry:5000/apphub-runner:1", set.Str(spec+"containers.0.image"))
	assert.Equal(t, []string{"/home/runner/run.sh"}, set.Strings(spec+"containers.0.command"))
	assert.Equal(t, map[string]any{"name": "BUILDKIT_HOST", "value": "unix:///run/buildkit/buildkitd.sock"}, set.Plain(spec+"containers.0.env.0"))
	assert.Equal(t, "/run/buildkit", set.Str(spec+"containers.0.volumeMounts.0.mountPath"))
	assert.Equal(t, "/run/buildkit", set.Str(spec+"initContainers.0.volumeMounts.0.mountPath"), "both mount the socket directory")
	assert.Equal(t, map[string]any{}, set.Plain(spec+"volumes.0.emptyDir"))
	assert.Equal(t, float64(1001), set.Num(spec+"securityContext.fsGroup"))
}

func TestARCRejects(t *testing.T) {
	tests := map[string]*ARCArgs{
		"nil":             nil,
		"no key":          arcArgs(func(a *ARCArgs) { a.PrivateKey = nil }),
		"no url":          arcArgs(func(a *ARCArgs) { a.GitHubConfigURL = "" }),
		"min above max":   arcArgs(func(a *ARCArgs) { a.MinRunners, a.MaxRunners = 6, 5 }),
		"shared ns":       arcArgs(func(a *ARCArgs) { a.RunnersNamespace = "arc-systems" }),
		"no version":      arcArgs(func(a *ARCArgs) { a.ScaleSetChart.Version = "" }),
		"no runner image": arcArgs(func(a *ARCArgs) { a.RunnerImage = "" }),
	}
	for name, args := range tests {
		t.Run(name, func(t *testing.T) {
			m, err := run(t, func(ctx *pulumi.Context) error {
				_, err := NewARC(ctx, "arc", args)
				return err
			})
			require.Error(t, err)
			assert.Zero(t, m.Count())
		})
	}
}

func TestARCFinalizerGuardRunsBetweenScaleSetAndController(t *testing.T) {
	m, err := run(t, func(ctx *pulumi.Context) error {
		_, err := NewARC(ctx, "arc", arcArgs(func(a *ARCArgs) {
			a.Kubeconfig = pulumi.ToSecret(pulumi.String("apiVersion: v1\nkind: Config\n")).(pulumi.StringOutput)
			a.KubeContext = pulumi.String("prod")
			a.FinalizerTimeoutSeconds = 45
		}))
		return err
	})
	require.NoError(t, err)
	guard := m.Find(t, tCommand, "arc-finalizer-guard")
	ctrl := m.Find(t, tRelease, "arc-controller")
	set := m.Find(t, tRelease, "arc-runners")
	assertParent(t, guard, ARCType, "arc")

	// Destroy is reverse dependency order: scale set, guard, controller.
	assert.Contains(t, set.Dependencies, guard.URN)
	assert.Contains(t, guard.Dependencies, ctrl.URN)
	assert.Contains(t, guard.Dependencies, m.Find(t, tSecret, "arc-github-app").URN,
		"the GitHub App Secret outlives the guard: a live controller needs it to deregister runners")
	for _, n := range m.ByType(tNamespace) {
		assert.Contains(t, guard.Dependencies, n.URN, "the namespaces outlive the guard")
	}
	// The scale set's uninstall must not wait on the finalizers the guard clears.
	skip, ok := set.Bool("skipAwait")
	assert.True(t, ok && skip)
	atomic, _ := set.Bool("atomic")
	assert.False(t, atomic, "an atomic release waits on uninstall")

	assert.Equal(t, "prod", guard.Str("environment.ARC_KUBE_CONTEXT"))
	assert.True(t, guard.Secret("environment.ARC_KUBECONFIG"), "kubeconfig contents stay secret")
	assert.Equal(t, "45", guard.Str("environment.ARC_TIMEOUT_SECONDS"))
	assert.Equal(t, "arc-gha-rs-controller", guard.Str("environment.ARC_CONTROLLER"))
	assert.Equal(t, "arc-runners", guard.Str("environment.ARC_RUNNERS_NAMESPACE"))
	assert.Equal(t, "apphub-runners", guard.Str("environment.ARC_SCALE_SET"))
	assert.Equal(t, []string{"bash", "-c"}, guard.Strings("interpreter"))
	script := guard.Str("delete")
	assert.Contains(t, script, "actions.github.com/scale-set-name=$ARC_SCALE_SET,actions.github.com/scale-set-namespace=$ARC_RUNNERS_NAMESPACE",
		"only this scale set's objects are touched")
	assert.Contains(t, script, `grep -v -e 'actions\.github\.com'`, "only ARC's finalizers are removed")
}

func TestARCControllerAndListenerPassRestricted(t *testing.T) {
	m, err := run(t, func(ctx *pulumi.Context) error {
		_, err := NewARC(ctx, "arc", arcArgs(nil))
		return err
	})
	require.NoError(t, err)
	ctrl := m.Find(t, tRelease, "arc-controller")
	set := m.Find(t, tRelease, "arc-runners")
	for what, prefix := range map[string]string{
		"controller": "values.", "listener": "values.listenerTemplate.spec.",
	} {
		r, pod, ctr := ctrl, prefix+"podSecurityContext.", prefix+"securityContext."
		if what == "listener" {
			r, pod, ctr = set, prefix+"securityContext.", prefix+"containers.0.securityContext."
			assert.Equal(t, "listener", set.Str(prefix+"containers.0.name"), "ARC merges the container named listener")
		}
		nonRoot, _ := r.Bool(pod + "runAsNonRoot")
		assert.True(t, nonRoot, what)
		assert.Equal(t, "RuntimeDefault", r.Str(pod+"seccompProfile.type"), what)
		esc, given := r.Bool(ctr + "allowPrivilegeEscalation")
		assert.True(t, given && !esc, what)
		assert.Equal(t, []string{"ALL"}, r.Strings(ctr+"capabilities.drop"), what)
	}
}
