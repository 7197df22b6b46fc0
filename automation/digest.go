package automation

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// DigestReader reads the image digest a finished build wrote to its
// termination message.
type DigestReader interface {
	Digest(ctx context.Context, kubeconfig, kubeContext, namespace, job string) (string, error)
}

// kubectlDigest asks kubectl for the build pod's termination message.
type kubectlDigest struct{}

func (kubectlDigest) Digest(ctx context.Context, kubeconfig, kubeContext, namespace, job string) (string, error) {
	if _, err := exec.LookPath("kubectl"); err != nil {
		return "", fmt.Errorf("kubectl not found: %w", err)
	}
	args := []string{"get", "pods", "-n", namespace, "-l", "job-name=" + job,
		"--field-selector=status.phase=Succeeded",
		"-o", "jsonpath={.items[*].status.containerStatuses[0].state.terminated.message}"}
	if kubeContext != "" {
		args = append([]string{"--context", kubeContext}, args...)
	}
	cmd := exec.CommandContext(ctx, "kubectl", args...)
	if kubeconfig != "" {
		f, err := os.CreateTemp("", "apphub-kubeconfig-*")
		if err != nil {
			return "", err
		}
		defer os.Remove(f.Name())
		if _, err := f.WriteString(kubeconfig); err != nil {
			f.Close()
			return "", err
		}
		f.Close()
		cmd.Env = append(os.Environ(), "KUBECONFIG="+f.Name())
	}
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("kubectl get pods: %w", err)
	}
	for _, field := range strings.Fields(string(out)) {
		if strings.HasPrefix(field, "sha256:") {
			return field, nil
		}
	}
	return "", nil
}
