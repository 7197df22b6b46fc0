package automation

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/stacks"
)

// Every request field lands on a key the stack declares, and every key the
// stack declares is reachable from a request (or is named below with the
// reason it is not), so renaming either side fails here instead of
// silently dropping a value.

// samples are a valid non-default value per request field (JSON name).
var previewSamples = map[string]any{
	"launch": "web-2", "image": "registry.test/apps/web:2", "port": 9090, "replicas": 3,
	"env": map[string]string{"A": "1"}, "cpuRequest": "200m", "memoryRequest": "256Mi",
	"cpuLimit": "1", "memoryLimit": "1Gi", "healthPath": "/ready", "ttlSeconds": 600,
	"egressAllow": []string{"10.0.0.0/8:5432"}, "mountServiceAccountToken": true,
}

var buildSamples = map[string]any{
	"id": "b-2", "gitUrl": "https://git.test/acme/api.git", "gitRef": "v2", "contextDir": "svc",
	"dockerfile": "Dockerfile.prod", "imageRepository": "apps/api", "imageTag": "2",
	"buildArgs": map[string]string{"GO": "1.26"}, "backoffLimit": 2, "cpuRequest": "1",
	"memoryRequest": "1Gi", "cpuLimit": "2", "memoryLimit": "2Gi",
	// contextUrl replaces gitUrl; covered by its own case below.
}

// stackOnly are declared keys no request sets, and why.
var stackOnly = map[string]string{
	"platformStack":   "the Manager's --platform-stack",
	"platformOutputs": "the Manager's platform outputs file",
	"runAsUser":       "a stack default (UID 10001): images built to run as root still start",
	"gitCommit":       "the Manager's resolution of gitRef (pinBuild)",
	"inputsTag":       "the Manager's hash of the build's inputs (pinBuild)",
	"reuseDigest":     "the Manager's registry lookup of that hash (pinBuild)",
}

func TestPreviewSpecFieldsLandOnDeclaredKeys(t *testing.T) {
	base := PreviewSpec{Launch: "web-1", Image: "registry.test/apps/web:1"}
	config := func(s PreviewSpec) (map[string]string, error) {
		return s.config(time.Unix(0, 0))
	}
	reached := fieldKeys(t, base, previewSamples, config)
	assertKeysCovered(t, reached, stacks.PreviewConfigKeys())
}

func TestBuildSpecFieldsLandOnDeclaredKeys(t *testing.T) {
	base := BuildSpec{ID: "b-1", GitURL: "https://git.test/acme/web.git", ImageRepository: "apps/web", ImageTag: "1"}
	config := func(s BuildSpec) (map[string]string, error) { return s.config() }
	reached := fieldKeys(t, base, buildSamples, config)
	other := base
	other.GitURL, other.ContextURL = "", "https://git.test/src.tgz"
	cfg, err := config(other)
	require.NoError(t, err)
	reached["contextUrl"] = cfg["contextUrl"] != ""
	assertKeysCovered(t, reached, stacks.BuildConfigKeys())
}

// fieldKeys sets each field of base in turn (through its JSON name, as the
// HTTP API would) and returns the config keys that changed.
func fieldKeys[S any](t *testing.T, base S, samples map[string]any, config func(S) (map[string]string, error)) map[string]bool {
	t.Helper()
	before, err := config(base)
	require.NoError(t, err)
	reached := map[string]bool{}
	typ := reflect.TypeOf(base)
	for i := 0; i < typ.NumField(); i++ {
		name := strings.Split(typ.Field(i).Tag.Get("json"), ",")[0]
		if name == "contextUrl" {
			continue
		}
		sample, ok := samples[name]
		require.True(t, ok, "request field %q has no sample: add one, and make sure it reaches the stack", name)
		spec := withField(t, base, name, sample)
		after, err := config(spec)
		require.NoError(t, err, "field %q", name)
		changed := diffKeys(before, after)
		assert.NotEmpty(t, changed, "request field %q changes no stack config key", name)
		for _, k := range changed {
			reached[k] = true
		}
	}
	return reached
}

func withField[S any](t *testing.T, base S, name string, value any) S {
	t.Helper()
	raw, err := json.Marshal(base)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	m[name] = value
	raw, err = json.Marshal(m)
	require.NoError(t, err)
	var out S
	require.NoError(t, json.Unmarshal(raw, &out))
	return out
}

func diffKeys(before, after map[string]string) []string {
	var out []string
	for k, v := range after {
		if before[k] != v {
			out = append(out, k)
		}
	}
	return out
}

func assertKeysCovered(t *testing.T, reached map[string]bool, declared []stacks.ConfigKey) {
	t.Helper()
	known := map[string]bool{}
	for _, k := range declared {
		known[k.Name] = true
		if _, ok := stackOnly[k.Name]; ok {
			continue
		}
		assert.True(t, reached[k.Name], "declared key %q is set by no request field", k.Name)
	}
	for k := range reached {
		assert.True(t, known[k], "a request sets %q, which the stack does not declare", k)
	}
}
