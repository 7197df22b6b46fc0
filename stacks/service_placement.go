package stacks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/apphub/apphub-infra/components"
)

// ParseNodeSelector reads a node selector key: a JSON object of node label
// keys to values, as Kubernetes accepts them. Empty is none.
func ParseNodeSelector(raw string) (map[string]string, error) {
	m, keys, err := parseStringMap(raw, `a JSON object of node labels such as {"pool": "platform"}`)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return nil, fmt.Errorf("label %q: %s", k, strings.Join(errs, "; "))
		}
		if errs := validation.IsValidLabelValue(m[k]); len(errs) > 0 {
			return nil, fmt.Errorf("label %q: value %q: %s", k, m[k], strings.Join(errs, "; "))
		}
	}
	return m, nil
}

// ParseTolerations reads a tolerations key: a JSON array of pod
// tolerations with Kubernetes' own fields and rules. Empty is none.
func ParseTolerations(raw string) ([]components.Toleration, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, nil
	}
	var ts []components.Toleration
	dec := json.NewDecoder(bytes.NewReader([]byte(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ts); err != nil {
		return nil, fmt.Errorf(`must be a JSON array of tolerations such as [{"key": "pool", "operator": "Equal", "value": "platform", "effect": "NoSchedule"}]: %v`, err)
	}
	for i, t := range ts {
		if err := checkToleration(t); err != nil {
			return nil, fmt.Errorf("toleration %d: %w", i, err)
		}
	}
	return ts, nil
}

// checkToleration applies the API server's rules, so that a mistake is
// refused before anything is created rather than by the Deployment.
func checkToleration(t components.Toleration) error {
	switch t.Operator {
	case "", "Equal":
		if t.Key == "" {
			return fmt.Errorf(`operator %q needs a key (only "Exists" matches every taint)`, t.Operator)
		}
		if errs := validation.IsValidLabelValue(t.Value); len(errs) > 0 {
			return fmt.Errorf("value %q: %s", t.Value, strings.Join(errs, "; "))
		}
	case "Exists":
		if t.Value != "" {
			return fmt.Errorf(`operator "Exists" takes no value (got %q)`, t.Value)
		}
	default:
		return fmt.Errorf(`operator must be "Equal" or "Exists", got %q`, t.Operator)
	}
	if t.Key != "" {
		if errs := validation.IsQualifiedName(t.Key); len(errs) > 0 {
			return fmt.Errorf("key %q: %s", t.Key, strings.Join(errs, "; "))
		}
	}
	switch t.Effect {
	case "", "NoSchedule", "PreferNoSchedule", "NoExecute":
	default:
		return fmt.Errorf(`effect must be "NoSchedule", "PreferNoSchedule" or "NoExecute", got %q`, t.Effect)
	}
	if t.TolerationSeconds != nil && t.Effect != "NoExecute" {
		return fmt.Errorf(`tolerationSeconds applies only to effect "NoExecute"`)
	}
	return nil
}
