package components

import (
	"fmt"
	helmv3 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v3"
	"net/url"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// RedisType is the Pulumi type token of the Redis component.
const RedisType = "apphub:components:Redis"

// RedisPort is the Redis service port.
const RedisPort = 6379

// redisPasswordKey is the key in the auth Secret the chart reads.
const redisPasswordKey = "redis-password"

// RedisArgs configures a standalone Redis for the catalog's queues.
type RedisArgs struct {
	Namespace NamespaceRef
	// ReleaseName is the Helm release name. It must contain "redis" so the
	// bitnami chart's fullname (and so the Service name) is the release name.
	ReleaseName string
	// Chart is where the bitnami/redis chart comes from.
	Chart ChartRef
	// AuthEnabled turns on password auth with a generated password kept as
	// a Pulumi secret and handed to the chart through an existing Secret.
	AuthEnabled     bool
	Persistence     bool
	PersistenceSize string
	StorageClass    string
	// Image overrides (empty keeps the chart's value). Bitnami moved most
	// versioned images to docker.io/bitnamilegacy in 2025.
	ImageRegistry   string
	ImageRepository string
	ImageTag        string
	// TimeoutSeconds bounds the Helm install/upgrade.
	TimeoutSeconds int
}

// Redis is a Helm release of bitnami/redis.
type Redis struct {
	pulumi.ResourceState

	// Host is the master Service's cluster DNS name.
	Host pulumi.StringOutput
	// URL is REDIS_URL; a Pulumi secret when it carries a password.
	URL pulumi.StringOutput
	// Password is the generated password (secret), empty without auth.
	Password pulumi.StringOutput
}

// NewRedis installs the release. Values never contain the password: it goes
// into a Secret the chart reads via auth.existingSecret, so it does not show
// up in Helm's stored values or the release's plan.
func NewRedis(ctx *pulumi.Context, name string, args *RedisArgs, opts ...pulumi.ResourceOption) (*Redis, error) {
	if args == nil {
		return nil, fmt.Errorf("redis %q: %w", name, errNilArgs)
	}
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("redis %q: %w", name, err)
	}
	comp := &Redis{}
	if err := ctx.RegisterComponentResource(RedisType, name, comp, opts...); err != nil {
		return nil, fmt.Errorf("redis %q: registering component: %w", name, err)
	}
	parent := pulumi.Parent(comp)

	password, deps, err := args.newAuth(ctx, name, parent)
	if err != nil {
		return nil, fmt.Errorf("redis %q: %w", name, err)
	}
	comp.Password = password
	releaseArgs := bitnamiRelease(args.Namespace, args.ReleaseName, args.Chart, args.values(), args.TimeoutSeconds)
	if _, err := helmv3.NewRelease(ctx, name, releaseArgs, parent, pulumi.DependsOn(deps)); err != nil {
		return nil, fmt.Errorf("redis %q: creating helm release: %w", name, err)
	}

	comp.Host = pulumi.Sprintf("%s-master.%s.svc.cluster.local", args.ReleaseName, args.Namespace.Name)
	comp.URL = pulumi.All(comp.Host, comp.Password).ApplyT(func(v []any) string {
		return RedisURL(v[0].(string), v[1].(string))
	}).(pulumi.StringOutput)
	if args.AuthEnabled {
		comp.URL = pulumi.ToSecret(comp.URL).(pulumi.StringOutput)
	}
	if err := finish(ctx, comp, "redis", name, pulumi.Map{
		"host": comp.Host,
		"url":  comp.URL,
	}); err != nil {
		return nil, err
	}
	return comp, nil
}

func (a *RedisArgs) validate() error {
	if err := a.Namespace.valid(); err != nil {
		return err
	}
	if !strings.Contains(a.ReleaseName, "redis") {
		return fmt.Errorf("release name %q must contain \"redis\"", a.ReleaseName)
	}
	return a.Chart.Err()
}

// newAuth generates the password, when auth is on, into the Secret the
// chart reads; the release waits for that Secret.
func (a *RedisArgs) newAuth(ctx *pulumi.Context, name string, parent pulumi.ResourceOption) (pulumi.StringOutput, []pulumi.Resource, error) {
	if !a.AuthEnabled {
		return pulumi.String("").ToStringOutput(), nil, nil
	}
	pws, sec, err := newGeneratedSecret(ctx, name+"-auth", generatedSecretArgs{
		Namespace: a.Namespace, Name: a.authSecretName(), App: a.ReleaseName, Component: "redis", Passwords: []generatedPassword{{Key: redisPasswordKey, Resource: name + "-password"}},
	}, parent)
	if err != nil {
		return pulumi.StringOutput{}, nil, err
	}
	return pws[redisPasswordKey], []pulumi.Resource{sec}, nil
}

func (a *RedisArgs) authSecretName() string { return a.ReleaseName + "-auth" }

func (a *RedisArgs) values() pulumi.Map {
	auth := pulumi.Map{"enabled": pulumi.Bool(a.AuthEnabled)}
	if a.AuthEnabled {
		auth["existingSecret"] = pulumi.String(a.authSecretName())
		auth["existingSecretPasswordKey"] = pulumi.String(redisPasswordKey)
	}
	values := pulumi.Map{
		"architecture": pulumi.String("standalone"),
		"auth":         auth,
		"master": pulumi.Map{
			"persistence": persistenceValues(a.Persistence, a.PersistenceSize, a.StorageClass),
			"resources": pulumi.Map{
				"requests": pulumi.Map{"cpu": pulumi.String("100m"), "memory": pulumi.String("128Mi")},
				"limits":   pulumi.Map{"cpu": pulumi.String("500m"), "memory": pulumi.String("512Mi")},
			},
		},
	}
	setChartImage(values, a.ImageRegistry, a.ImageRepository, a.ImageTag)
	return values
}

// RedisURL builds REDIS_URL for database 0; an empty password means no auth.
func RedisURL(host, password string) string {
	u := url.URL{Scheme: "redis", Host: fmt.Sprintf("%s:%d", host, RedisPort), Path: "/0"}
	if password != "" {
		u.User = url.UserPassword("", password)
	}
	return u.String()
}
