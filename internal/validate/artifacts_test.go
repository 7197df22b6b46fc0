package validate

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func envJSON(m map[string]string) string {
	b, _ := json.Marshal(m)
	return string(b)
}

// An environment is refused when no process could receive it, or when
// it would bloat the pod spec, naming the key and the bound.
func TestStringMapBounds(t *testing.T) {
	many := map[string]string{}
	for i := range MaxEnvEntries + 1 {
		many[fmt.Sprintf("K%d", i)] = "v"
	}
	total := map[string]string{}
	for i := range 3 {
		total[fmt.Sprintf("BIG%d", i)] = strings.Repeat("x", 100<<10)
	}
	tests := []struct {
		name, raw, want string
	}{
		{"NUL in a value", `{"A":"x\u0000y"}`, `key "A": the value contains a NUL`},
		{"an entry of 128 KiB", envJSON(map[string]string{"A": strings.Repeat("x", MaxEnvEntry-2)}), `key "A": KEY=value is 131072 bytes`},
		{"too many entries", envJSON(many), "has 201 entries; at most 200"},
		{"too large in all", envJSON(total), "in all; at most 262144"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Problems
			p.StringMap("env", tt.raw, EnvName)
			err := p.Err()
			if assert.Error(t, err) {
				assert.Contains(t, err.Error(), tt.want)
				assert.Contains(t, err.Error(), "env")
			}
		})
	}
	var p Problems
	p.StringMap("env", envJSON(map[string]string{"A": strings.Repeat("x", MaxEnvEntry-3), "B": "tab\tand newline\n"}), EnvName)
	assert.NoError(t, p.Err(), "just under the bound, and ordinary whitespace")
}
