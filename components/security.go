package components

import (
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// restrictedPod passes Pod Security "restricted" at the pod level: non-root
// with a fixed UID (so images built to run as root still start) and
// RuntimeDefault seccomp.
func restrictedPod(uid int) *corev1.PodSecurityContextArgs {
	return &corev1.PodSecurityContextArgs{
		RunAsNonRoot:   pulumi.Bool(true),
		RunAsUser:      pulumi.Int(uid),
		RunAsGroup:     pulumi.Int(uid),
		FsGroup:        pulumi.Int(uid),
		SeccompProfile: &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
	}
}

// restrictedContainer is the container half: no privilege escalation,
// every capability dropped.
func restrictedContainer(readOnlyRoot bool) *corev1.SecurityContextArgs {
	sc := &corev1.SecurityContextArgs{
		AllowPrivilegeEscalation: pulumi.Bool(false),
		RunAsNonRoot:             pulumi.Bool(true),
		Capabilities:             &corev1.CapabilitiesArgs{Drop: pulumi.ToStringArray([]string{"ALL"})},
		SeccompProfile:           &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
	}
	if readOnlyRoot {
		sc.ReadOnlyRootFilesystem = pulumi.Bool(true)
	}
	return sc
}
