package stacks

import (
	"fmt"
	"sort"
	"strings"

	"github.com/apphub/apphub-infra/internal/validate"
)

// keyLister is a ConfigSource that can list what it holds (a map, not the
// engine), so a key no field declares is refused instead of ignored: a
// renamed tag must not silently drop a value and use the default.
type keyLister interface{ Keys() []string }

// Keys implements keyLister.
func (m MapSource) Keys() []string {
	out := make([]string, 0, len(m.Values))
	for k := range m.Values {
		out = append(out, k)
	}
	return out
}

// refuseUnknownKeys records every key src holds that declared lacks.
func refuseUnknownKeys(p *validate.Problems, src ConfigSource, declared []ConfigKey, what string) {
	l, ok := src.(keyLister)
	if !ok {
		return
	}
	given := l.Keys()
	sort.Strings(given)
	for _, k := range UnknownKeys(declared, given) {
		p.Add(k.Key, "is not a config key of the %s: it would be ignored%s", what, k.Hint)
	}
}

// UnknownKey is a given key no field declares, with a hint when it differs
// from a declared one only in case.
type UnknownKey struct{ Key, Hint string }

// UnknownKeys returns the given keys that are not declared, in order.
func UnknownKeys(declared []ConfigKey, given []string) []UnknownKey {
	known := make(map[string]bool, len(declared))
	for _, k := range declared {
		known[k.Name] = true
	}
	var out []UnknownKey
	for _, g := range given {
		if known[g] {
			continue
		}
		u := UnknownKey{Key: g}
		for _, k := range declared {
			if strings.EqualFold(k.Name, g) {
				u.Hint = fmt.Sprintf(" (keys are case-sensitive: did you mean %q?)", k.Name)
			}
		}
		out = append(out, u)
	}
	return out
}
