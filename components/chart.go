package components

import (
	"fmt"
	helmv3 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v3"
	"net/url"
	"strings"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/util/validation"
)

// ChartRef says where a Helm chart comes from, in one of three forms:
//
//   - an OCI reference, oci://registry/path/chart, with an exact Version;
//   - a local chart directory or .tgz archive (/…, ./… or ../…), whose own
//     Chart.yaml is the version (air-gapped installs, tests);
//   - a chart name in a classic Helm repository (Repository https://…),
//     with an exact Version.
//
// Versions are exact SemVer pins so that upgrades are deliberate.
type ChartRef struct {
	Chart      string
	Version    string
	Repository string
}

// Chart reference parts, as ChartRef.Problems names them.
const (
	ChartPartChart      = "chart"
	ChartPartVersion    = "version"
	ChartPartRepository = "repository"
)

// IsLocalChart reports whether a chart reference is a local path (a chart
// directory or a packaged .tgz).
func IsLocalChart(chart string) bool {
	return strings.HasPrefix(chart, "/") || strings.HasPrefix(chart, "./") || strings.HasPrefix(chart, "../")
}

// Problems lists what is wrong with the reference, keyed by part
// (ChartPartChart, ChartPartVersion, ChartPartRepository); empty when valid.
func (c ChartRef) Problems() map[string]string {
	out := map[string]string{}
	local := IsLocalChart(c.Chart)
	switch {
	case c.Chart == "":
		out[ChartPartChart] = "is required"
	case c.Repository != "":
		if u, err := url.Parse(c.Repository); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			out[ChartPartRepository] = fmt.Sprintf("must be an http(s):// Helm repository URL, got %q", c.Repository)
		}
		if msgs := validation.IsDNS1123Subdomain(c.Chart); len(msgs) > 0 {
			out[ChartPartChart] = fmt.Sprintf("must be a chart name in the repository when a repository is set, got %q", c.Chart)
		}
	case local:
		if strings.ContainsAny(c.Chart, "\n\r") {
			out[ChartPartChart] = "must be a single-line path"
		}
	case strings.HasPrefix(c.Chart, "oci://"):
		if u, err := url.Parse(c.Chart); err != nil || u.Host == "" || strings.Trim(u.Path, "/") == "" {
			out[ChartPartChart] = fmt.Sprintf("must be oci://<registry>/<path>/<chart>, got %q", c.Chart)
		}
	default:
		out[ChartPartChart] = fmt.Sprintf("must be an oci:// reference, a local chart directory or .tgz archive (./, ../ or /), or a chart name with a repository, got %q", c.Chart)
	}
	if !local && c.Chart != "" {
		if c.Version == "" {
			out[ChartPartVersion] = "is required for a remote chart so that upgrades are deliberate"
		} else if _, err := semver.Parse(strings.TrimPrefix(c.Version, "v")); err != nil {
			out[ChartPartVersion] = fmt.Sprintf("must be an exact chart version such as 1.2.3, got %q", c.Version)
		}
	}
	return out
}

// Err is Problems as one error, nil when the reference is valid.
func (c ChartRef) Err() error {
	p := c.Problems()
	if len(p) == 0 {
		return nil
	}
	var parts []string
	for _, k := range []string{ChartPartChart, ChartPartVersion, ChartPartRepository} {
		if msg, ok := p[k]; ok {
			parts = append(parts, k+" "+msg)
		}
	}
	return fmt.Errorf("chart %q: %s", c.Chart, strings.Join(parts, "; "))
}

// applyTo sets the chart, version and repository of a release. A local
// chart carries its own version, so none is passed.
func (c ChartRef) applyTo(a *helmv3.ReleaseArgs) {
	a.Chart = pulumi.String(c.Chart)
	if !IsLocalChart(c.Chart) {
		a.Version = pulumi.String(c.Version)
	}
	if c.Repository != "" {
		a.RepositoryOpts = &helmv3.RepositoryOptsArgs{Repo: pulumi.String(c.Repository)}
	}
}
