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
	if strings.TrimSpace(raw) == "" {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return nil, fmt.Errorf(`must be a JSON object of strings such as {"scheduler.alpha.kubernetes.io/node-selector": "pool=previews"}: %v`, err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return nil, fmt.Errorf("annotation %q: %s", k, strings.Join(errs, "; "))
		}
	}
	return m, nil
}
