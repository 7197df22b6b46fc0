package testmocks

import (
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Lookup walks a dotted path ("spec.template.spec.containers.0.image")
// through a property map; a key containing dots goes in brackets
// ("stringData[.dockerconfigjson]"). Secrets are unwrapped and reported.
func Lookup(m resource.PropertyMap, path string) (v resource.PropertyValue, secret, ok bool) {
	cur := resource.NewProperty(m)
	for _, part := range splitPath(path) {
		for cur.IsSecret() {
			secret = true
			cur = cur.SecretValue().Element
		}
		switch {
		case cur.IsObject():
			next, found := cur.ObjectValue()[resource.PropertyKey(part)]
			if !found {
				return resource.PropertyValue{}, secret, false
			}
			cur = next
		case cur.IsArray():
			i, err := strconv.Atoi(part)
			arr := cur.ArrayValue()
			if err != nil || i < 0 || i >= len(arr) {
				return resource.PropertyValue{}, secret, false
			}
			cur = arr[i]
		default:
			return resource.PropertyValue{}, secret, false
		}
	}
	for cur.IsSecret() {
		secret = true
		cur = cur.SecretValue().Element
	}
	return cur, secret, true
}

// Str returns the string at path, or "" when absent.
func (r Resource) Str(path string) string {
	v, _, ok := Lookup(r.Inputs, path)
	if !ok || !v.IsString() {
		return ""
	}
	return v.StringValue()
}

// Num returns the number at path, or -1 when absent.
func (r Resource) Num(path string) float64 {
	v, _, ok := Lookup(r.Inputs, path)
	if !ok || !v.IsNumber() {
		return -1
	}
	return v.NumberValue()
}

// Bool returns the bool at path and whether it was set.
func (r Resource) Bool(path string) (bool, bool) {
	v, _, ok := Lookup(r.Inputs, path)
	if !ok || !v.IsBool() {
		return false, false
	}
	return v.BoolValue(), true
}

// Secret reports whether the value at path (or one of its parents) is secret.
func (r Resource) Secret(path string) bool {
	_, secret, _ := Lookup(r.Inputs, path)
	return secret
}

// Has reports whether path is set.
func (r Resource) Has(path string) bool {
	_, _, ok := Lookup(r.Inputs, path)
	return ok
}

// Plain returns the value at path as plain Go data (maps, slices, strings,
// float64, bool), secrets unwrapped.
func (r Resource) Plain(path string) any {
	v, _, ok := Lookup(r.Inputs, path)
	if !ok {
		return nil
	}
	return plain(v)
}

func plain(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return plain(v.SecretValue().Element)
	case v.IsObject():
		out := map[string]any{}
		for k, e := range v.ObjectValue() {
			out[string(k)] = plain(e)
		}
		return out
	case v.IsArray():
		var out []any
		for _, e := range v.ArrayValue() {
			out = append(out, plain(e))
		}
		return out
	case v.IsString():
		return v.StringValue()
	case v.IsNumber():
		return v.NumberValue()
	case v.IsBool():
		return v.BoolValue()
	case v.IsNull():
		return nil
	case v.IsComputed():
		return "<computed>"
	case v.IsOutput():
		if !v.OutputValue().Known {
			return "<unknown>"
		}
		return plain(v.OutputValue().Element)
	}
	return v.V
}

// Strings returns a list of strings at path.
func (r Resource) Strings(path string) []string {
	raw, _ := r.Plain(path).([]any)
	out := make([]string, 0, len(raw))
	for _, e := range raw {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}

func splitPath(path string) []string {
	var parts []string
	for path != "" {
		switch {
		case path[0] == '.':
			path = path[1:]
		case path[0] == '[':
			end := strings.IndexByte(path, ']')
			if end < 0 {
				return append(parts, path[1:])
			}
			parts = append(parts, path[1:end])
			path = path[end+1:]
		default:
			end := strings.IndexAny(path, ".[")
			if end < 0 {
				return append(parts, path)
			}
			parts = append(parts, path[:end])
			path = path[end:]
		}
	}
	return parts
}
