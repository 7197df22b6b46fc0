package stacks

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// ParseAnnotations reads a namespace annotations key: a JSON object of
// strings, keys as Kubernetes accepts them. Empty is none.
func ParseAnnotations(raw string) (map[string]string, error) {
	m, keys, err := parseStringMap(raw, `a JSON object of strings such as {"scheduler.alpha.kubernetes.io/node-selector": "pool=previews"}`)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return nil, fmt.Errorf("annotation %q: %s", k, strings.Join(errs, "; "))
		}
	}
	return m, nil
}

// parseStringMap reads a JSON object of strings (empty is none) and
// returns its keys sorted, so that the first bad key reported is stable.
func parseStringMap(raw, want string) (map[string]string, []string, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return nil, nil, fmt.Errorf("must be %s: %v", want, err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return m, keys, nil
}
