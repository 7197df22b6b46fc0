package components

import (
	"fmt"
	helmv3 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v3"
	"net/url"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// PostgresType is the Pulumi type token of the Postgres component.
const PostgresType = "apphub:components:Postgres"

// PostgresPort is the database Service's port.
const PostgresPort = 5432

// The keys of the auth Secret, as the bitnami chart's auth.secretKeys
// defaults name them.
const (
	postgresUserPasswordKey  = "password"
	postgresAdminPasswordKey = "postgres-password"
)

// PostgresArgs configures a standalone PostgreSQL for the API service's
// queue and stack state.
type PostgresArgs struct {
	Namespace NamespaceRef
	// ReleaseName must contain "postgresql" so the chart's fullname (and so
	// the Service name) is the release name.
	ReleaseName string
	Chart       ChartRef
	// Database and Username are created by the chart; both passwords are
	// generated and kept as Pulumi secrets.
	Database, Username string
	Persistence        bool
	PersistenceSize    string
	StorageClass       string
	// Image overrides (empty keeps the chart's value).
	ImageRegistry, ImageRepository, ImageTag string
	TimeoutSeconds                           int
}

// Postgres is a Helm release of bitnami/postgresql.
type Postgres struct {
	pulumi.ResourceState

	// Host is the primary Service's cluster DNS name.
	Host pulumi.StringOutput
	// URL is postgres://user:password@host:5432/db (a Pulumi secret).
	URL pulumi.StringOutput
}

// NewPostgres installs the release with passwords from a Secret the chart
// reads (auth.existingSecret), never from its values.
func NewPostgres(ctx *pulumi.Context, name string, args *PostgresArgs, opts ...pulumi.ResourceOption) (*Postgres, error) {
	if args == nil {
		return nil, fmt.Errorf("postgres %q: %w", name, errNilArgs)
	}
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("postgres %q: %w", name, err)
	}
	comp := &Postgres{}
	if err := ctx.RegisterComponentResource(PostgresType, name, comp, opts...); err != nil {
		return nil, fmt.Errorf("postgres %q: registering component: %w", name, err)
	}
	parent := pulumi.Parent(comp)

	secretName := args.ReleaseName + "-auth"
	pws, sec, err := newGeneratedSecret(ctx, name+"-auth", generatedSecretArgs{
		Namespace: args.Namespace, Name: secretName, App: args.ReleaseName, Component: "database",
		Passwords: []generatedPassword{
			{Key: postgresUserPasswordKey, Resource: name + "-password"},
			{Key: postgresAdminPasswordKey, Resource: name + "-admin-password"},
		},
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("postgres %q: %w", name, err)
	}
	releaseArgs := bitnamiRelease(args.Namespace, args.ReleaseName, args.Chart, args.values(secretName), args.TimeoutSeconds)
	if _, err := helmv3.NewRelease(ctx, name, releaseArgs, parent, pulumi.DependsOn([]pulumi.Resource{sec})); err != nil {
		return nil, fmt.Errorf("postgres %q: creating helm release: %w", name, err)
	}

	comp.Host = pulumi.Sprintf("%s.%s.svc.cluster.local", args.ReleaseName, args.Namespace.Name)
	comp.URL = pulumi.ToSecret(pulumi.All(comp.Host, pws[postgresUserPasswordKey]).ApplyT(func(v []any) string {
		return PostgresURL(args.Username, v[1].(string), v[0].(string), args.Database)
	})).(pulumi.StringOutput)
	if err := finish(ctx, comp, "postgres", name, pulumi.Map{"host": comp.Host, "url": comp.URL}); err != nil {
		return nil, err
	}
	return comp, nil
}

func (a *PostgresArgs) validate() error {
	if err := a.Namespace.valid(); err != nil {
		return err
	}
	if !strings.Contains(a.ReleaseName, "postgresql") {
		return fmt.Errorf("release name %q must contain \"postgresql\"", a.ReleaseName)
	}
	if a.Database == "" || a.Username == "" {
		return fmt.Errorf("database and username are required")
	}
	return a.Chart.Err()
}

func (a *PostgresArgs) values(secretName string) pulumi.Map {
	persistence := persistenceValues(a.Persistence, a.PersistenceSize, a.StorageClass)
	values := pulumi.Map{
		"architecture": pulumi.String("standalone"),
		"auth": pulumi.Map{
			"username":       pulumi.String(a.Username),
			"database":       pulumi.String(a.Database),
			"existingSecret": pulumi.String(secretName),
		},
		"primary": pulumi.Map{
			"persistence": persistence,
			"resources": pulumi.Map{
				"requests": pulumi.Map{"cpu": pulumi.String("250m"), "memory": pulumi.String("256Mi")},
				"limits":   pulumi.Map{"cpu": pulumi.String("1"), "memory": pulumi.String("1Gi")},
			},
		},
	}
	setChartImage(values, a.ImageRegistry, a.ImageRepository, a.ImageTag)
	return values
}

// PostgresURL is the database URL the service reads; TLS is off because
// the connection never leaves the cluster network.
func PostgresURL(user, password, host, database string) string {
	u := url.URL{
		Scheme: "postgres", User: url.UserPassword(user, password),
		Host: fmt.Sprintf("%s:%d", host, PostgresPort), Path: "/" + database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}
