package components

import (
	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// builderArgs are buildkitd's flags: the local socket (the probes' and
// buildctl's default), TCP with mutual TLS for build Jobs, no process
// sandbox (rootless without privileges) and the GC policy bounding the
// cache.
func (a *BuilderArgs) builderArgs() []string {
	return []string{
		"--addr", "unix:///run/user/1000/buildkit/buildkitd.sock",
		"--addr", "tcp://0.0.0.0:1234",
		"--tlscacert", builderCertsPath + "/ca.pem",
		"--tlscert", builderCertsPath + "/cert.pem",
		"--tlskey", builderCertsPath + "/key.pem",
		"--oci-worker-no-process-sandbox",
		"--oci-worker-gc",
		"--oci-worker-gc-keepstorage", a.GCKeepStorage,
	}
}

func (a *BuilderArgs) statefulSet(labels, selector pulumi.StringMap) *appsv1.StatefulSetSpecArgs {
	return &appsv1.StatefulSetSpecArgs{
		ServiceName:         pulumi.String(BuilderName),
		Replicas:            pulumi.Int(a.Replicas),
		PodManagementPolicy: pulumi.String("Parallel"),
		Selector:            &metav1.LabelSelectorArgs{MatchLabels: selector},
		// The cache is worth nothing without its builder.
		PersistentVolumeClaimRetentionPolicy: &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicyArgs{
			WhenDeleted: pulumi.String("Delete"), WhenScaled: pulumi.String("Delete"),
		},
		Template: &corev1.PodTemplateSpecArgs{
			Metadata: &metav1.ObjectMetaArgs{Labels: labels},
			Spec:     a.podSpec(),
		},
		VolumeClaimTemplates: corev1.PersistentVolumeClaimTypeArray{&corev1.PersistentVolumeClaimTypeArgs{
			Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("state")},
			Spec:     readWriteOnceClaim(a.StorageSize, a.StorageClass),
		}},
	}
}

func (a *BuilderArgs) podSpec() *corev1.PodSpecArgs {
	unconfined := "Unconfined"
	probe := func(failures int) *corev1.ProbeArgs {
		return &corev1.ProbeArgs{
			Exec:             &corev1.ExecActionArgs{Command: pulumi.ToStringArray([]string{"buildctl", "debug", "workers"})},
			PeriodSeconds:    pulumi.Int(10),
			TimeoutSeconds:   pulumi.Int(5),
			FailureThreshold: pulumi.Int(failures),
		}
	}
	mounts := corev1.VolumeMountArray{
		&corev1.VolumeMountArgs{Name: pulumi.String("certs"), MountPath: pulumi.String(builderCertsPath), ReadOnly: pulumi.Bool(true)},
		&corev1.VolumeMountArgs{Name: pulumi.String("state"), MountPath: pulumi.String(builderStatePath)},
	}
	volumes := corev1.VolumeArray{&corev1.VolumeArgs{
		Name: pulumi.String("certs"), Secret: &corev1.SecretVolumeSourceArgs{SecretName: pulumi.String(builderServerSecret)},
	}}
	if a.CAConfigMap != "" {
		mounts = append(mounts, caMount())
		volumes = append(volumes, caVolume(a.CAConfigMap))
	}
	return &corev1.PodSpecArgs{
		AutomountServiceAccountToken: pulumi.Bool(false),
		EnableServiceLinks:           pulumi.Bool(false),
		InitContainers:               corev1.ContainerArray{a.stateOwner()},
		Containers: corev1.ContainerArray{&corev1.ContainerArgs{
			Name:  pulumi.String("buildkitd"),
			Image: pulumi.String(a.Image),
			Args:  pulumi.ToStringArray(a.builderArgs()),
			Ports: corev1.ContainerPortArray{&corev1.ContainerPortArgs{
				Name: pulumi.String("buildkitd"), ContainerPort: pulumi.Int(BuilderPort), Protocol: pulumi.String("TCP"),
			}},
			ReadinessProbe: probe(3),
			LivenessProbe:  probe(6),
			Resources:      a.Resources.requirements(),
			// Rootless BuildKit, as for ephemeral builds: the user
			// namespaces it makes need unconfined seccomp and AppArmor.
			SecurityContext: &corev1.SecurityContextArgs{
				RunAsUser:       pulumi.Int(builderUID),
				RunAsGroup:      pulumi.Int(builderUID),
				SeccompProfile:  &corev1.SeccompProfileArgs{Type: pulumi.String(unconfined)},
				AppArmorProfile: &corev1.AppArmorProfileArgs{Type: pulumi.String(unconfined)},
			},
			VolumeMounts: mounts,
		}},
		Volumes: volumes,
	}
}

// stateOwner hands the state volume's root to the daemon's user, on every
// kind of volume. Not fsGroup: the kubelet would then re-own every file
// of the cache on each start, and group 1000 is root inside the daemon's
// user namespace, so cached snapshots would change under it.
func (a *BuilderArgs) stateOwner() *corev1.ContainerArgs {
	uid := pulumi.Int(0)
	return &corev1.ContainerArgs{
		Name:    pulumi.String("state-owner"),
		Image:   pulumi.String(a.Image),
		Command: pulumi.ToStringArray([]string{"chown", "1000:1000", "/state"}),
		SecurityContext: &corev1.SecurityContextArgs{
			RunAsUser:                uid,
			RunAsNonRoot:             pulumi.Bool(false),
			AllowPrivilegeEscalation: pulumi.Bool(false),
			Capabilities: &corev1.CapabilitiesArgs{
				Drop: pulumi.ToStringArray([]string{"ALL"}), Add: pulumi.ToStringArray([]string{"CHOWN"}),
			},
		},
		Resources: &corev1.ResourceRequirementsArgs{
			Requests: pulumi.StringMap{"cpu": pulumi.String("10m"), "memory": pulumi.String("16Mi")},
			Limits:   pulumi.StringMap{"cpu": pulumi.String("100m"), "memory": pulumi.String("64Mi")},
		},
		VolumeMounts: corev1.VolumeMountArray{&corev1.VolumeMountArgs{Name: pulumi.String("state"), MountPath: pulumi.String("/state")}},
	}
}

// caMount and caVolume put the builds' CA bundle into the image's
// certificate directory.
func caMount() *corev1.VolumeMountArgs {
	return &corev1.VolumeMountArgs{
		Name: pulumi.String("ca"), MountPath: pulumi.String(buildCAPath), SubPath: pulumi.String(BuildCAKey), ReadOnly: pulumi.Bool(true),
	}
}

func caVolume(configMap string) *corev1.VolumeArgs {
	return &corev1.VolumeArgs{Name: pulumi.String("ca"), ConfigMap: &corev1.ConfigMapVolumeSourceArgs{Name: pulumi.String(configMap)}}
}
