// Package testmocks records what a Pulumi program registers under
// pulumi.WithMocks, so tests can assert on real inputs (names, specs, secret
// flags, parents, dependencies) rather than on "no error".
package testmocks

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
)

// Resource is one registered resource.
type Resource struct {
	Type         string
	Name         string
	URN          string
	Custom       bool
	Inputs       resource.PropertyMap
	Parent       string
	Provider     string
	Dependencies []string
	// DeleteBeforeReplace and similar options are read from the raw request.
	CustomTimeoutCreate string
	ReplaceOnChanges    []string
	DeleteBeforeReplace bool
	AdditionalSecrets   []string
	Protect             bool
}

// Mocks implements pulumi.MockResourceMonitor and records every resource.
type Mocks struct {
	mu        sync.Mutex
	resources []Resource
	project   string
	stack     string
	// StackOutputs answers StackReferences by stack name.
	StackOutputs map[string]map[string]any
	// SecretStackOutputs lists outputs that the referenced stack holds as secrets.
	SecretStackOutputs map[string][]string
	// runs are the commands command:local:run invokes ran, in order.
	runs []string
}

// Runs returns the scripts the program ran through command:local:run.
func (m *Mocks) Runs() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.runs...)
}

// New returns empty mocks.
func New() *Mocks {
	return &Mocks{StackOutputs: map[string]map[string]any{}, SecretStackOutputs: map[string][]string{}}
}

// NewResource records the registration and returns plausible state: the
// inputs, plus what the real providers compute that programs read back.
func (m *Mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	r := Resource{Type: args.TypeToken, Name: args.Name, Custom: args.Custom, Inputs: args.Inputs, Provider: args.Provider}
	if rpc := args.RegisterRPC; rpc != nil {
		r.Parent = rpc.GetParent()
		r.Dependencies = rpc.GetDependencies()
		if ct := rpc.GetCustomTimeouts(); ct != nil {
			r.CustomTimeoutCreate = ct.GetCreate()
		}
		r.ReplaceOnChanges = rpc.GetReplaceOnChanges()
		r.DeleteBeforeReplace = rpc.GetDeleteBeforeReplace()
		r.AdditionalSecrets = rpc.GetAdditionalSecretOutputs()
		r.Protect = rpc.GetProtect()
	}
	state := args.Inputs.Copy()
	id := args.Name + "-id"
	switch {
	case args.TypeToken == "random:index/randomPassword:RandomPassword":
		state["result"] = resource.MakeSecret(resource.NewProperty("mock-password-" + args.Name))
	case args.TypeToken == "random:index/randomBytes:RandomBytes":
		// Fixed bytes per resource name: the same seed on every run, as a
		// stored one stays.
		sum := sha256.Sum256([]byte(args.Name))
		state["base64"] = resource.MakeSecret(resource.NewProperty(base64.StdEncoding.EncodeToString(sum[:])))
		state["hex"] = resource.MakeSecret(resource.NewProperty(hex.EncodeToString(sum[:])))
	case args.TypeToken == "command:local:Command":
		// Commands print their result; ours print a kubeconfig.
		state["stdout"] = resource.NewProperty(MockKubeconfig(args.Name))
		state["stderr"] = resource.NewProperty("")
	case args.TypeToken == "pulumi:pulumi:StackReference":
		name := args.Inputs["name"].StringValue()
		outs, ok := m.StackOutputs[name]
		if !ok {
			return "", nil, fmt.Errorf("mock stack reference: unknown stack %q", name)
		}
		pm := resource.NewPropertyMapFromMap(outs)
		for _, k := range m.SecretStackOutputs[name] {
			if v, ok := pm[resource.PropertyKey(k)]; ok {
				pm[resource.PropertyKey(k)] = resource.MakeSecret(v)
			}
		}
		state["outputs"] = resource.NewProperty(pm)
		state["secretOutputNames"] = resource.NewProperty(resource.NewPropertyValue(m.SecretStackOutputs[name]).ArrayValue())
		id = name
	case strings.HasPrefix(args.TypeToken, "kubernetes:") && !strings.HasPrefix(args.TypeToken, "kubernetes:helm"):
		// Auto-naming: a missing metadata.name gets a suffix like the provider's.
		meta := resource.PropertyMap{}
		if v, ok := state["metadata"]; ok && v.IsObject() {
			meta = v.ObjectValue().Copy()
		}
		if v, ok := meta["name"]; !ok || v.IsNull() {
			meta["name"] = resource.NewProperty(args.Name + "-0a1b2c3d")
		}
		state["metadata"] = resource.NewProperty(meta)
	}
	m.mu.Lock()
	r.URN = m.urn(r.Parent, args.TypeToken, args.Name)
	m.resources = append(m.resources, r)
	m.mu.Unlock()
	return id, state, nil
}

// MockKubeconfig is what a mocked command prints.
func MockKubeconfig(name string) string {
	return "apiVersion: v1\nkind: Config\ncurrent-context: mock-" + name + "\n"
}

// urn builds the URN the mock monitor hands out, so recorded dependencies
// and parents can be compared with it.
func (m *Mocks) urn(parent, typ, name string) string {
	parentType := tokens.Type("")
	if p := resource.URN(parent); p != "" && p.QualifiedType() != resource.RootStackType {
		parentType = p.QualifiedType()
	}
	return string(resource.NewURN(tokens.QName(m.stack), tokens.PackageName(m.project), parentType, tokens.Type(typ), name))
}

// Call answers provider functions; the programs here call none.
func (m *Mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	if args.Token == "command:local:run" {
		// A local command read at every run (a local cluster's kubeconfig).
		m.mu.Lock()
		m.runs = append(m.runs, args.Args["command"].StringValue())
		m.mu.Unlock()
		return resource.PropertyMap{"stdout": resource.NewProperty(MockKubeconfig("run")), "stderr": resource.NewProperty("")}, nil
	}
	return nil, fmt.Errorf("unexpected call to %s", args.Token)
}

// Resources returns a copy of everything registered so far.
func (m *Mocks) Resources() []Resource {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Resource, len(m.resources))
	copy(out, m.resources)
	return out
}

// ByType returns the resources of one type token sorted by logical name:
// the SDK registers resources concurrently, so arrival order means nothing.
func (m *Mocks) ByType(token string) []Resource {
	var out []Resource
	for _, r := range m.Resources() {
		if r.Type == token {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Find returns the resource with this type token and logical name.
func (m *Mocks) Find(t testing.TB, token, name string) Resource {
	t.Helper()
	for _, r := range m.Resources() {
		if r.Type == token && r.Name == name {
			return r
		}
	}
	var names []string
	for _, r := range m.ByType(token) {
		names = append(names, r.Name)
	}
	t.Fatalf("no %s named %q registered (have %v)", token, name, names)
	return Resource{}
}

// Has reports whether a resource with this token and name was registered.
func (m *Mocks) Has(token, name string) bool {
	for _, r := range m.Resources() {
		if r.Type == token && r.Name == name {
			return true
		}
	}
	return false
}

// Count returns how many resources were registered.
func (m *Mocks) Count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.resources)
}

// Run executes fn under these mocks with the given project config (keys
// like "apphub:namespace") and secret keys, as `pulumi up` would pass them.
func (m *Mocks) Run(t testing.TB, project, stack string, config map[string]string, secretKeys []string, fn pulumi.RunFunc) error {
	t.Helper()
	cfg, err := json.Marshal(config)
	if err != nil {
		t.Fatalf("encoding config: %v", err)
	}
	keys, err := json.Marshal(secretKeys)
	if err != nil {
		t.Fatalf("encoding secret keys: %v", err)
	}
	m.project, m.stack = project, stack
	t.Setenv(pulumi.EnvConfig, string(cfg))
	t.Setenv(pulumi.EnvConfigSecretKeys, string(keys))
	return pulumi.RunErr(fn, pulumi.WithMocks(project, stack, m))
}

// ProjectConfig namespaces plain config keys under the project, as `pulumi
// up` passes them to Run, and lists the secret ones.
func ProjectConfig(project string, values map[string]string, secrets map[string]bool) (map[string]string, []string) {
	cfg := map[string]string{}
	var secretKeys []string
	for k, v := range values {
		cfg[project+":"+k] = v
		if secrets[k] {
			secretKeys = append(secretKeys, project+":"+k)
		}
	}
	return cfg, secretKeys
}

// Value is a resolved output.
type Value struct {
	Value  any
	Known  bool
	Secret bool
}

// Await resolves an output inside a running program (call it from fn).
func Await(ctx context.Context, o pulumi.Output) (Value, error) {
	r, err := internals.UnsafeAwaitOutput(ctx, o)
	if err != nil {
		return Value{}, err
	}
	return Value{Value: r.Value, Known: r.Known, Secret: r.Secret}, nil
}

// AwaitMap resolves every output of a map (a program's exports) inside a
// running program.
func AwaitMap(ctx context.Context, m pulumi.Map) (map[string]Value, error) {
	out := make(map[string]Value, len(m))
	for k, o := range m {
		v, err := Await(ctx, pulumi.ToOutput(o))
		if err != nil {
			return nil, fmt.Errorf("output %q: %w", k, err)
		}
		out[k] = v
	}
	return out, nil
}
