package stacks

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/apphub/apphub-infra/components"
)

// ParseCABundle reads buildCaBundle: PEM certificates and nothing else.
// Empty is none.
func ParseCABundle(raw string) ([]*x509.Certificate, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, nil
	}
	var certs []*x509.Certificate
	rest := []byte(raw)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("must hold only PEM certificates, found a %q block (a key never belongs here)", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %v", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 || strings.TrimSpace(string(rest)) != "" {
		return nil, fmt.Errorf("must be PEM certificates (-----BEGIN CERTIFICATE-----): pulumi config set buildCaBundle < ca.pem")
	}
	return certs, nil
}

// buildCA puts the builds' CA bundle into a ConfigMap of the build
// namespace, which every build Job mounts beside its image's own bundle.
func (b *platformBuild) buildCA() error {
	if b.cfg.Build.CABundle == "" {
		return nil
	}
	cm, err := corev1.NewConfigMap(b.ctx, "build-ca", &corev1.ConfigMapArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name: pulumi.String(components.BuildCAConfigMap), Namespace: b.builds.Name,
			Labels: components.Labels(components.BuildCAConfigMap, "build-ca"),
		},
		Data: pulumi.StringMap{components.BuildCAKey: pulumi.String(b.cfg.Build.CABundle)},
	}, b.withK8s)
	if err != nil {
		return fmt.Errorf("creating the builds' CA bundle: %w", err)
	}
	b.buildCAMap, b.buildCARes = components.BuildCAConfigMap, cm
	return nil
}
