package components

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"
)

// BuilderCerts are the PEM files of the builder's mutual TLS: the CA both
// sides trust, the daemon's certificate and key, and the build Jobs'
// client certificate and key.
type BuilderCerts struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey string
}

// builderCertValidity bounds every certificate; rotating is replacing the
// seed (`pulumi up --replace` on the builder's RandomBytes).
var (
	builderCertNotBefore = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	builderCertNotAfter  = builderCertNotBefore.AddDate(20, 0, 0)
)

// IssueBuilderCerts derives the builder's CA, server and client
// certificates from a secret seed. Ed25519 keys come from the seed and
// Ed25519 signatures are deterministic, so the same seed gives the same
// files on every update: the Secrets holding them never change, and no
// key ever lives anywhere but in the seed's Pulumi secret and the Secrets.
// hosts are the daemon's DNS names.
func IssueBuilderCerts(seed []byte, hosts []string) (*BuilderCerts, error) {
	if len(seed) < 32 {
		return nil, fmt.Errorf("builder certificates: the seed has %d bytes, need at least 32", len(seed))
	}
	key := func(use string) ed25519.PrivateKey {
		sum := sha256.Sum256(append([]byte("apphub-buildkitd/"+use+"/"), seed...))
		return ed25519.NewKeyFromSeed(sum[:])
	}
	caKey, serverKey, clientKey := key("ca"), key("server"), key("client")
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "apphub-buildkitd-ca"},
		NotBefore:             builderCertNotBefore,
		NotAfter:              builderCertNotAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(nil, ca, ca, caKey.Public(), caKey)
	if err != nil {
		return nil, fmt.Errorf("builder CA: %w", err)
	}
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, dns []string, pub ed25519.PublicKey) (string, error) {
		tpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn},
			DNSNames:     dns,
			NotBefore:    builderCertNotBefore,
			NotAfter:     builderCertNotAfter,
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		}
		der, err := x509.CreateCertificate(nil, tpl, ca, pub, caKey)
		if err != nil {
			return "", fmt.Errorf("builder certificate %s: %w", cn, err)
		}
		return pemBlock("CERTIFICATE", der), nil
	}
	certs := &BuilderCerts{CA: pemBlock("CERTIFICATE", caDER)}
	if certs.ServerCert, err = leaf(2, "apphub-buildkitd", x509.ExtKeyUsageServerAuth, hosts, serverKey.Public().(ed25519.PublicKey)); err != nil {
		return nil, err
	}
	if certs.ClientCert, err = leaf(3, "apphub-build", x509.ExtKeyUsageClientAuth, nil, clientKey.Public().(ed25519.PublicKey)); err != nil {
		return nil, err
	}
	if certs.ServerKey, err = pkcs8PEM(serverKey); err != nil {
		return nil, err
	}
	if certs.ClientKey, err = pkcs8PEM(clientKey); err != nil {
		return nil, err
	}
	return certs, nil
}

func pemBlock(kind string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}))
}

func pkcs8PEM(k ed25519.PrivateKey) (string, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return "", fmt.Errorf("encoding a builder key: %w", err)
	}
	return pemBlock("PRIVATE KEY", der), nil
}
