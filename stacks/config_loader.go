package stacks

import (
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/apphub/apphub-infra/internal/validate"
)

// Config structs declare their keys with field tags, so each key's name,
// default and environment override live in exactly one place:
//
//	key:"buildTimeoutSeconds" default:"900" env:"APPHUB_K8S_BUILD_TIMEOUT_SECONDS"
//
// Supported field types: string, int, bool and Secret. Nested structs are
// walked. Pulumi.yaml declares the same keys; a test keeps the two in step.

// Secret is a config value that must stay a Pulumi secret. It never prints.
type Secret struct{ value string }

// NewSecret wraps a plaintext value (tests and the Automation API).
func NewSecret(v string) Secret { return Secret{value: v} }

// IsSet reports whether a value was given.
func (s Secret) IsSet() bool { return s.value != "" }

// Output returns the value as a Pulumi secret output.
func (s Secret) Output() pulumi.StringOutput {
	return pulumi.ToSecret(pulumi.String(s.value)).(pulumi.StringOutput)
}

// String hides the value from logs, errors and %v.
func (s Secret) String() string {
	if s.value == "" {
		return ""
	}
	return "[secret]"
}

// GoString hides the value from %#v.
func (s Secret) GoString() string { return s.String() }

var secretType = reflect.TypeOf(Secret{})

// ConfigSource is where raw config values come from: the Pulumi engine in a
// program, a map in tests.
type ConfigSource interface {
	// Get returns the raw value of a key in the project namespace.
	Get(key string) (string, bool)
	// IsSecret reports whether the key was stored encrypted.
	IsSecret(key string) bool
}

// EnvLookup is os.LookupEnv or a test double.
type EnvLookup func(string) (string, bool)

// OSEnv reads the process environment.
var OSEnv EnvLookup = os.LookupEnv

type pulumiSource struct{ ctx *pulumi.Context }

// PulumiConfig reads the running stack's config in the project namespace.
func PulumiConfig(ctx *pulumi.Context) ConfigSource { return pulumiSource{ctx} }

func (s pulumiSource) key(k string) string { return s.ctx.Project() + ":" + k }
func (s pulumiSource) Get(k string) (string, bool) {
	return s.ctx.GetConfig(s.key(k))
}
func (s pulumiSource) IsSecret(k string) bool { return s.ctx.IsConfigSecret(s.key(k)) }

// MapSource is a ConfigSource over plain maps (tests, Automation API).
type MapSource struct {
	Values  map[string]string
	Secrets map[string]bool
}

// Get implements ConfigSource.
func (m MapSource) Get(k string) (string, bool) { v, ok := m.Values[k]; return v, ok }

// IsSecret implements ConfigSource.
func (m MapSource) IsSecret(k string) bool { return m.Secrets[k] }

// ConfigKey describes one declared key.
type ConfigKey struct {
	Name    string
	Type    string // string, integer or boolean, as in Pulumi.yaml
	Default string
	Env     string
	Secret  bool
}

// keysOf lists the keys a config struct declares, in field order.
func keysOf(v any) []ConfigKey {
	var out []ConfigKey
	walkFields(reflect.ValueOf(v).Elem(), func(f reflect.StructField, _ reflect.Value) {
		k := ConfigKey{Name: f.Tag.Get("key"), Default: f.Tag.Get("default"), Env: f.Tag.Get("env")}
		switch {
		case f.Type == secretType:
			k.Type, k.Secret = "string", true
		case f.Type.Kind() == reflect.Int:
			k.Type = "integer"
		case f.Type.Kind() == reflect.Bool:
			k.Type = "boolean"
		default:
			k.Type = "string"
		}
		out = append(out, k)
	})
	return out
}

func walkFields(v reflect.Value, fn func(reflect.StructField, reflect.Value)) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f, fv := t.Field(i), v.Field(i)
		if f.Tag.Get("key") != "" {
			fn(f, fv)
			continue
		}
		if f.Type.Kind() == reflect.Struct && f.Type != secretType {
			walkFields(fv, fn)
		}
	}
}

// loadInto fills a tagged config struct: default, then config, then the
// environment override. Every unparsable value is recorded, not just the
// first, and a value an environment variable supplied is reported under
// the variable's name (p.From), by the parser here and by every rule
// validation applies later. Secret keys given in plaintext are rejected so
// that a password never sits unencrypted in Pulumi.<stack>.yaml.
func loadInto(out any, src ConfigSource, env EnvLookup, p *validate.Problems) {
	walkFields(reflect.ValueOf(out).Elem(), func(f reflect.StructField, fv reflect.Value) {
		key := f.Tag.Get("key")
		raw := f.Tag.Get("default")
		if v, ok := src.Get(key); ok {
			raw = v
			if f.Type == secretType && v != "" && !src.IsSecret(key) && !plaintextAllowed(key, v) {
				p.Add(key, "must be set as a secret: pulumi config set --secret %s <value>", key)
			}
		}
		if name := f.Tag.Get("env"); name != "" && env != nil {
			if v, ok := env(name); ok {
				raw = v
				shown := v
				if f.Type == secretType {
					shown = ""
				}
				p.From(key, name, shown)
			}
		}
		setField(f, fv, key, raw, p)
	})
}

// plaintextAllowed names the Secret keys that may hold a plaintext value
// when that value is no credential: a kubeconfig path is only a location,
// while the file's contents carry the cluster's credentials.
func plaintextAllowed(key, value string) bool {
	return key == "kubeconfig" && !validate.IsKubeconfigContents(value)
}

// setField parses raw into the field, recording a value of the wrong type
// under key.
func setField(f reflect.StructField, fv reflect.Value, key, raw string, p *validate.Problems) {
	switch {
	case f.Type == secretType:
		fv.Set(reflect.ValueOf(Secret{value: raw}))
	case f.Type.Kind() == reflect.String:
		fv.SetString(strings.TrimSpace(raw))
	case f.Type.Kind() == reflect.Int:
		if raw == "" {
			fv.SetInt(0)
			return
		}
		n, err := strconv.Atoi(strings.TrimSpace(raw))
		if err != nil {
			p.Add(key, "must be an integer, got %q", raw)
			return
		}
		fv.SetInt(int64(n))
	case f.Type.Kind() == reflect.Bool:
		if raw == "" {
			fv.SetBool(false)
			return
		}
		b, err := strconv.ParseBool(strings.TrimSpace(raw))
		if err != nil {
			p.Add(key, "must be true or false, got %q", raw)
			return
		}
		fv.SetBool(b)
	default:
		panic(fmt.Sprintf("config field %s: unsupported type %s", f.Name, f.Type))
	}
}
