package automation

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/apphub/apphub-infra/stacks"
)

// lookupTimeout bounds a registry lookup: a registry that does not answer
// means "build", never "wait".
const lookupTimeout = 5 * time.Second

// registryAccess is how the Manager reaches the platform's registry: the
// addresses to try in order (the host's view first, for a Manager outside
// the cluster; then the build pods' view, for one inside), plain HTTP or
// TLS with the builds' CA bundle, and the platform's push credentials.
type registryAccess struct {
	Addresses []string
	Insecure  bool
	CAPEM     []byte
	Auth      authn.Authenticator
}

// retagImage gives the image at repo:from the tag repo:to as well (a
// manifest PUT: the registry copies nothing) and returns its digest; ""
// when repo:from does not exist. It tries each address in turn until one
// answers; a 404 is the answer "absent".
func retagImage(ctx context.Context, reg registryAccess, repo, from, to string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuth(reg.Auth), remote.WithTransport(reg.transport())}
	var errs []error
	for _, addr := range reg.Addresses {
		d, err := reg.retagAt(addr, repo, from, to, opts)
		var terr *transport.Error
		switch {
		case err == nil:
			return d, nil
		case errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound:
			return "", nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", addr, err))
	}
	return "", errors.Join(errs...)
}

func (reg registryAccess) retagAt(addr, repo, from, to string, opts []remote.Option) (string, error) {
	src, err := name.NewTag(addr+"/"+repo+":"+from, reg.nameOptions()...)
	if err != nil {
		return "", err
	}
	desc, err := remote.Get(src, opts...)
	if err != nil {
		return "", err
	}
	dest, err := name.NewTag(addr+"/"+repo+":"+to, reg.nameOptions()...)
	if err != nil {
		return "", err
	}
	if err := remote.Tag(dest, desc, opts...); err != nil {
		return "", fmt.Errorf("tagging %s: %w", dest, err)
	}
	return desc.Digest.String(), nil
}

func (reg registryAccess) nameOptions() []name.Option {
	if reg.Insecure {
		return []name.Option{name.Insecure}
	}
	return nil
}

func (reg registryAccess) transport() http.RoundTripper {
	t := remote.DefaultTransport.(*http.Transport).Clone()
	if len(reg.CAPEM) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		pool.AppendCertsFromPEM(reg.CAPEM)
		t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return t
}

// registryFor is the platform's registry as the Manager reaches it, with
// the platform's registry Secret when the Manager may read it (else
// anonymously: a registry that refuses means "build").
func (m *Manager) registryFor(ctx context.Context, pv *stacks.PlatformValues) registryAccess {
	reg := registryAccess{Insecure: pv.RegistryInsecure, CAPEM: []byte(pv.BuildCABundle), Auth: authn.Anonymous}
	for _, a := range []string{pv.RegistryHostAddress, pv.RegistryPushAddress, pv.RegistryPullAddress} {
		if a != "" && !slices.Contains(reg.Addresses, a) {
			reg.Addresses = append(reg.Addresses, a)
		}
	}
	if pv.RegistrySecret == "" {
		return reg
	}
	cs, err := m.kube(m.opts.Kubeconfig, m.opts.KubeContext)
	if err == nil {
		sec, gerr := cs.CoreV1().Secrets(pv.BuildNamespace).Get(ctx, pv.RegistrySecret, metav1.GetOptions{})
		if err = gerr; err == nil {
			reg.Auth, err = dockerConfigAuth(sec.Data[".dockerconfigjson"], stacks.RegistryLoginHost(pv.RegistryPushAddress))
		}
	}
	if err != nil {
		m.opts.Logger.Warn("registry credentials unavailable; looking up anonymously", "err", err)
	}
	return reg
}

// dockerConfigAuth is the credential a dockerconfigjson holds for host.
func dockerConfigAuth(raw []byte, host string) (authn.Authenticator, error) {
	var cfg struct {
		Auths map[string]authn.AuthConfig `json:"auths"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("registry secret: %w", err)
	}
	ac, ok := cfg.Auths[host]
	if !ok {
		return authn.Anonymous, nil
	}
	return authn.FromConfig(ac), nil
}
