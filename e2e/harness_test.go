//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// plugins the programs use; the tier fails (never skips) without them.
var plugins = []string{"kubernetes", "random", "command"}

// env is one run of the tier: a platform project in a temp dir whose
// program is this repository's main.go, a file:// backend, the PULUMI_HOME
// that holds the plugins and the cluster of $KUBECONFIG.
type env struct {
	root, project, state, home, kubeconfig, kubeContext, stack string
	pulumi                                                     string
	charts                                                     string
}

const passphrase = "e2e-passphrase"

// newEnv checks what the tier needs and names what is missing.
func newEnv(t testing.TB) *env {
	t.Helper()
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	e := &env{root: root, stack: "e2e", pulumi: filepath.Join(root, "bin", "pulumi")}
	e.kubeconfig = os.Getenv("KUBECONFIG")
	require.NotEmpty(t, e.kubeconfig, "KUBECONFIG must point at a cluster (../shared/kube/up.sh prints it)")
	e.home = os.Getenv("PULUMI_HOME")
	if e.home == "" {
		e.home = filepath.Join(os.Getenv("HOME"), ".pulumi")
	}
	requirePlugins(t, e.home)
	_, err = os.Stat(e.pulumi)
	require.NoError(t, err, "the pinned Pulumi CLI: make pulumi")
	if _, err := os.Stat(filepath.Join(root, "bin", "pulumi-language-go")); err != nil {
		_, err = exec.LookPath("pulumi-language-go")
		require.NoError(t, err, "pulumi-language-go must be beside bin/pulumi or on PATH (make plugins installs it from ../shared/pulumi)")
	}
	e.charts = os.Getenv("APPHUB_E2E_CHARTS")
	if e.charts == "" {
		e.charts = filepath.Join(root, "..", "shared", "pulumi", "charts")
	}
	for _, c := range []string{"redis-20.13.4.tgz", "gha-runner-scale-set-controller-0.14.2.tgz", "gha-runner-scale-set-0.14.2.tgz"} {
		_, err := os.Stat(filepath.Join(e.charts, c))
		require.NoError(t, err, "chart archive %s (APPHUB_E2E_CHARTS names the folder)", c)
	}
	e.kubeContext = strings.TrimSpace(kubectl(t, "config", "current-context"))
	require.NotEmpty(t, e.kubeContext)
	e.project, e.state = t.TempDir(), t.TempDir()
	return e
}

func requirePlugins(t testing.TB, home string) {
	t.Helper()
	var missing []string
	for _, p := range plugins {
		bin := "pulumi-resource-" + p
		if _, err := exec.LookPath(bin); err == nil {
			continue
		}
		matches, _ := filepath.Glob(filepath.Join(home, "plugins", "resource-"+p+"-v*", bin))
		if len(matches) == 0 {
			missing = append(missing, bin)
		}
	}
	require.Empty(t, missing, "provider plugins are not on PATH or in %s/plugins: `make plugins` installs them from ../shared/pulumi; on a connected machine `pulumi plugin install resource kubernetes v4.33.0` (and random v4.18.0, command v1.2.1)", home)
}

// writeProject writes the platform project, the repository's Pulumi.yaml
// with main pointing back at the repository so that `pulumi up` compiles
// and runs main.go exactly as `make up` does, and the stack's config.
func (e *env) writeProject(t testing.TB, config map[string]string) {
	t.Helper()
	project, err := os.ReadFile(filepath.Join(e.root, "Pulumi.yaml"))
	require.NoError(t, err)
	project = bytes.Replace(project, []byte("name: apphub\n"), []byte("name: apphub\nmain: "+e.root+"\n"), 1)
	require.Contains(t, string(project), "main: "+e.root)
	require.NoError(t, os.WriteFile(filepath.Join(e.project, "Pulumi.yaml"), project, 0o600))
	e.writeStack(t, config)
}

// writeStack writes Pulumi.<stack>.yaml with plain values in the apphub
// namespace (secrets go through setSecret).
func (e *env) writeStack(t testing.TB, config map[string]string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("config:\n")
	for k, v := range config {
		fmt.Fprintf(&b, "  apphub:%s: %q\n", k, v)
	}
	require.NoError(t, os.WriteFile(filepath.Join(e.project, "Pulumi."+e.stack+".yaml"), []byte(b.String()), 0o600))
}

// withStack is the same project and backend with another stack.
func (e *env) withStack(stack string) *env {
	return &env{root: e.root, project: e.project, state: e.state, home: e.home, kubeconfig: e.kubeconfig,
		kubeContext: e.kubeContext, stack: stack, pulumi: e.pulumi, charts: e.charts}
}

// platformConfig is the platform on the harness cluster: existing cluster,
// in-cluster registry, Redis and both ARC charts from the local archives.
func (e *env) platformConfig() map[string]string {
	return map[string]string{
		"clusterKind":                "existing",
		"kubeconfig":                 e.kubeconfig, // a path, in plaintext
		"kubeContext":                e.kubeContext,
		"registryKind":               "in-cluster",
		"previewUrlTemplate":         "http://{launch}.preview.e2e.local",
		"redisChart":                 filepath.Join(e.charts, "redis-20.13.4.tgz"),
		"arcControllerChart":         filepath.Join(e.charts, "gha-runner-scale-set-controller-0.14.2.tgz"),
		"arcScaleSetChart":           filepath.Join(e.charts, "gha-runner-scale-set-0.14.2.tgz"),
		"arcGithubConfigUrl":         "https://github.com/apphub-e2e",
		"arcFinalizerTimeoutSeconds": "15",
		// The shortest build deadline, so that the failing build fails fast.
		"buildTimeoutSeconds": "60",
		// The API service as prod runs it: two replicas on the in-cluster
		// PostgreSQL (kwok runs no container, so the image is only a name).
		"serviceEnabled":      "true",
		"serviceImage":        "ghcr.io/apphub/apphubctl:e2e",
		"serviceReplicas":     "2",
		"servicePostgres":     "true",
		"postgresChart":       filepath.Join(e.charts, "postgresql-16.7.0.tgz"),
		"postgresPersistence": "false",
	}
}

// withoutARC drops the ARC settings (they need secrets set through the CLI).
func withoutARC(cfg map[string]string) map[string]string {
	for k := range cfg {
		if strings.HasPrefix(k, "arc") {
			delete(cfg, k)
		}
	}
	return cfg
}

// withoutService drops the API service (it needs secrets set through the
// CLI, and what a benchmark measures does not involve it).
func withoutService(cfg map[string]string) map[string]string {
	for k := range cfg {
		if strings.HasPrefix(k, "service") || strings.HasPrefix(k, "postgres") {
			delete(cfg, k)
		}
	}
	return cfg
}

// cli runs the Pulumi CLI in the project against the tier's backend.
func (e *env) cli(ctx context.Context, t testing.TB, args ...string) (string, error) {
	t.Helper()
	return e.cliIn(ctx, t, e.project, e.stack, args...)
}

// cliIn runs the Pulumi CLI on another project's stack (a preview's, in
// the Manager's work directory), against the same backend and passphrase.
func (e *env) cliIn(ctx context.Context, t testing.TB, dir, stack string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(ctx, e.pulumi, append(args, "--stack", stack, "--non-interactive")...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"PULUMI_BACKEND_URL=file://"+e.state,
		"PULUMI_HOME="+e.home,
		"PULUMI_CONFIG_PASSPHRASE="+passphrase,
		"PULUMI_SKIP_UPDATE_CHECK=true",
		"PATH="+filepath.Dir(e.pulumi)+string(os.PathListSeparator)+os.Getenv("PATH"),
	)
	cmd.WaitDelay = 30 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	t.Logf("pulumi %s: %.1fs", strings.Join(args, " "), time.Since(start).Seconds())
	if err != nil {
		return out.String(), fmt.Errorf("pulumi %s: %w\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String(), nil
}

// setSecret stores a secret config value through the CLI (from stdin, as
// the README tells users to).
func (e *env) setSecret(ctx context.Context, t testing.TB, key, value string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, e.pulumi, "config", "set", "--secret", "apphub:"+key, "--stack", e.stack, "--non-interactive")
	cmd.Dir = e.project
	cmd.Env = append(os.Environ(), "PULUMI_BACKEND_URL=file://"+e.state, "PULUMI_HOME="+e.home,
		"PULUMI_CONFIG_PASSPHRASE="+passphrase, "PULUMI_SKIP_UPDATE_CHECK=true")
	cmd.Stdin = strings.NewReader(value)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "config set %s: %s", key, out)
}

// throwawayAppKey is a fresh RSA key in PEM: ARC's secret needs the shape
// of a GitHub App key; nothing ever talks to GitHub here.
func throwawayAppKey(t testing.TB) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
}

func kubectl(t testing.TB, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command("kubectl", args...)
	cmd.Stdout = &out
	_ = cmd.Run()
	return strings.TrimSpace(out.String())
}

// kubectlIn runs kubectl with stdin and fails the test on error.
func kubectlIn(t testing.TB, stdin string, args ...string) {
	t.Helper()
	cmd := exec.Command("kubectl", args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "kubectl %v: %s", args, out)
}

func ptr[T any](v T) *T { return &v }
